"""In-process compute API with noauth tokens and 3 fake hosts (cumulo.testing.fixtures)."""

from __future__ import annotations

from typing import Any

import pytest
import webob

from cumulo.testing.fixtures import APIClient, FakeHub

ADMIN = "admin:padmin:admin,member,reader"
USER = "u1:p1"
OTHER = "u2:p2"


class Client(APIClient):
    """Compute requests at a microversion (``version=None``: no OpenStack-API-Version header)."""

    def __init__(self, app: Any, version: str | None = "2.79") -> None:
        super().__init__(app, "/compute", USER)
        self.version = version

    def request(self, method: str, path: str, body: Any = None, *, version: str | None = "default",
                headers: dict[str, str] | None = None, **kw: Any) -> webob.Response:
        version = self.version if version == "default" else version
        if version:
            headers = {"OpenStack-API-Version": f"compute {version}", **(headers or {})}
        return super().request(method, path, body, headers=headers, **kw)

    def wait_status(self, server_id: str, want: str, token: str = USER, timeout: float = 10) -> dict[str, Any]:
        import time

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
def cloud(cumulo_db: Any, cumulo_compute_hub: FakeHub) -> Client:
    cumulo_db.set("auth_strategy", "noauth", group="api")
    from cumulo_api_compute.app import build

    return Client(build(cumulo_compute_hub))
