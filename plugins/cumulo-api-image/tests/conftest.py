"""Fixtures of the Image API tests: a migrated database, a hub with an in-memory object service, noauth clients."""

from __future__ import annotations

import json
from typing import Any

import pytest
import webob

import cumulo.services.image  # noqa: F401  (registers [image] options)
from cumulo.conf import CONF
from cumulo.services import ServiceHub
from cumulo.testing.conformance.image import MemoryObjects


class Hub(ServiceHub):
    """A hub whose object service is in memory (until Object Storage runs in unit tests)."""

    def __init__(self) -> None:
        super().__init__(CONF)
        self.objects = MemoryObjects()
        self._services["object"] = self.objects


@pytest.fixture
def store_name() -> str:
    """The default store; tests about data run with every store (``@both_stores``)."""
    return "filesystem"


@pytest.fixture
def hub(cumulo_db: Any, store_name: str) -> Hub:
    cumulo_db.set("auth_strategy", "noauth", group="api")
    cumulo_db.set("default_store", store_name, group="image")
    cumulo_db.set("stores", ["filesystem", "object", "http"], group="image")
    return Hub()


@pytest.fixture
def images(hub: Hub) -> Any:
    return hub.image


class Client:
    """Requests through the whole app (auth, faults, body limits) as one noauth user."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.token = app, token

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                content_type: str | None = None, token: str | None = None) -> webob.Response:
        req = webob.Request.blank("/image" + path, method=method, base_url="http://localhost")
        req.script_name, req.path_info = "/image", path.split("?")[0]
        req.environ["SCRIPT_NAME"] = "/image"
        if token is not False:
            req.headers["X-Auth-Token"] = token or self.token
        if body is not None:
            if isinstance(body, bytes):
                req.body = body
                req.content_type = content_type or "application/octet-stream"
            else:
                req.body = json.dumps(body).encode()
                req.content_type = content_type or "application/json"
        for k, v in (headers or {}).items():
            req.headers[k] = v
        req.environ.pop("webob.is_body_seekable", None)  # as from a real server: a plain stream
        return req.get_response(self.app)

    def get(self, path: str, **kw: Any) -> webob.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> webob.Response:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> webob.Response:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, ops: list[dict[str, Any]], **kw: Any) -> webob.Response:
        kw.setdefault("content_type", "application/openstack-images-v2.1-json-patch")
        return self.request("PATCH", path, ops, **kw)

    def delete(self, path: str, **kw: Any) -> webob.Response:
        return self.request("DELETE", path, **kw)


@pytest.fixture
def app(hub: Hub) -> Any:
    from cumulo_api_image.frontend import ImageFrontend

    return ImageFrontend().build_app(hub)


@pytest.fixture
def api(app: Any) -> Client:
    return Client(app, "u1:p1:member,reader")


@pytest.fixture
def other(app: Any) -> Client:
    return Client(app, "u2:p2:member,reader")


@pytest.fixture
def admin_api(app: Any) -> Client:
    return Client(app, "admin:adminproject:admin,member,reader")


@pytest.fixture
def make_client() -> Any:
    return Client
