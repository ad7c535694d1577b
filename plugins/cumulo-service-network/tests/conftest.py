"""Fixtures: a migrated SQLite database (``cumulo_db``) and a network service on the noop driver."""

from __future__ import annotations

import cumulo_service_network.manager as manager
import pytest

from cumulo.context import RequestContext


@pytest.fixture
def service(cumulo_db):
    cumulo_db.set("driver", "noop", group="network")
    return manager.Service(None)


@pytest.fixture
def admin():
    return RequestContext(user_id="admin", project_id="admin-project", roles=["admin", "member", "reader"])


@pytest.fixture
def demo():
    return RequestContext(user_id="demo", project_id="demo-project", roles=["member", "reader"])


@pytest.fixture
def other():
    return RequestContext(user_id="alt", project_id="alt-project", roles=["member", "reader"])
