"""A migrated database, a bootstrapped identity service and the identity API app."""

from __future__ import annotations

from typing import Any

import pytest

from cumulo.services import ServiceHub


class FakeFrontend:
    def __init__(self, service_type: str, service_name: str, path: str) -> None:
        self.service_type, self.service_name, self.path = service_type, service_name, path

    def endpoint_url(self, base: str) -> str:
        return base + self.path


FRONTENDS = [FakeFrontend("identity", "keystone", "/identity/v3"),
             FakeFrontend("object-store", "swift", "/object/v1/AUTH_$(project_id)s")]


@pytest.fixture
def identity(cumulo_db: Any) -> Any:
    cumulo_db.set("password_hash_rounds", 4, group="identity")
    hub = ServiceHub()
    svc = hub.identity
    cumulo_db.set("password_hash_rounds", 4, group="auth_sql")
    svc.creds = svc.bootstrap("adminpw", "http://cloud.test", FRONTENDS)
    svc.hub_ = hub
    return svc


@pytest.fixture
def frontends() -> list[FakeFrontend]:
    return FRONTENDS
