"""Fixtures of the Image API tests: a migrated database, a hub with Object Storage in memory, noauth clients."""

from __future__ import annotations

from typing import Any

import pytest
import webob

from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo.testing.fixtures import APIClient
from cumulo.testing.image_service import ImageHub, hub, images, store_name  # noqa: F401  (fixtures)


class Client(APIClient):
    """Requests through the whole app (auth, faults, body limits) as one noauth user."""

    def __init__(self, app: Any, token: str) -> None:
        super().__init__(app, "/image", token, base_url="http://localhost")

    def patch(self, path: str, body: Any = None, **kw: Any) -> webob.Response:
        kw.setdefault("content_type", "application/openstack-images-v2.1-json-patch")
        return self.request("PATCH", path, body, **kw)


@pytest.fixture
def app(hub: ImageHub) -> Any:  # noqa: F811  (the imported fixture)
    from cumulo_api_image.frontend import ImageFrontend

    return ImageFrontend(PluginContext(CONF)).build_app(hub)


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
