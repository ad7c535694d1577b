"""In-process compute API with noauth tokens and 3 fake hosts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import webob

from cumulo.services import ServiceHub

ADMIN = "admin:padmin:admin,member,reader"
USER = "u1:p1"
OTHER = "u2:p2"


class _Hub(ServiceHub):
    def __init__(self, without: tuple[str, ...]) -> None:
        super().__init__()
        self.without = set(without)

    def get(self, area: str) -> Any:
        if area in self.without:
            raise LookupError(f"no {area} in this test")
        return super().get(area)


class Client:
    def __init__(self, app: Any, version: str | None = "2.79") -> None:
        self.app, self.version = app, version

    def request(self, method: str, path: str, body: Any = None, token: str = USER,
                version: str | None = "default", headers: dict[str, str] | None = None) -> webob.Response:
        req = webob.Request.blank("/compute" + path, method=method)
        req.environ["SCRIPT_NAME"] = "/compute"
        req.environ["PATH_INFO"] = path.split("?")[0]
        if token:
            req.headers["X-Auth-Token"] = token
        version = self.version if version == "default" else version
        if version:
            req.headers["OpenStack-API-Version"] = f"compute {version}"
        if body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = "application/json"
        for k, val in (headers or {}).items():
            req.headers[k] = val
        # As a real server: a body stream that cannot seek (the body-size limiter wraps it).
        req.environ.pop("webob.is_body_seekable", None)
        return req.get_response(self.app)

    def get(self, path: str, **kw: Any) -> webob.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> webob.Response:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> webob.Response:
        return self.request("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> webob.Response:
        return self.request("DELETE", path, **kw)

    def wait_status(self, server_id: str, want: str, token: str = USER, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            resp = self.get(f"/v2.1/servers/{server_id}", token=token)
            if want == "DELETED" and resp.status_int == 404:
                return {}
            server = resp.json["server"]
            if server["status"] == want:
                return server
            if server["status"] == "ERROR" and want != "ERROR":
                raise AssertionError(f"server went to ERROR: {server.get('fault')}")
            if time.monotonic() > deadline:
                raise AssertionError(f"server stayed {server['status']} (wanted {want})")
            time.sleep(0.02)


@pytest.fixture
def cloud(cumulo_db: Any) -> Iterator[Client]:
    cumulo_db.set("auth_strategy", "noauth", group="api")
    cumulo_db.set("transport_url", "inprocess://", group="messaging")
    from cumulo import registry
    from cumulo.conf import CONF

    registry.register_plugin_opts(registry.load_class("hypervisor", "fake"), CONF)
    cumulo_db.set("host_count", 3, group="hypervisor_fake")
    from cumulo_api_compute.app import build

    import cumulo.services.compute as compute

    hub = _Hub(("network", "image", "volume"))
    started = compute.start(hub)
    yield Client(build(hub))
    for s in started:
        s.stop()
    hub.compute._pool.shutdown(wait=True)
