"""Compute on PostgreSQL and MariaDB: the schema migrates, default flavors exist,
and concurrent quota reservations never overshoot the limit.

Needs the real servers (PostgreSQL on 127.0.0.1:5432 as ``postgres``, MariaDB on
127.0.0.1:3306 as ``root``): a test skips with the reason when its server is not
reachable, and fails instead when ``CI`` is set (CI must exercise the real parts).
"""

from __future__ import annotations

import concurrent.futures
import os
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from cumulo import exception

pytestmark = pytest.mark.integration

SERVERS = {
    "postgresql": (("127.0.0.1", 5432), "postgresql+psycopg2://postgres@127.0.0.1:5432/"),
    "mariadb": (("127.0.0.1", 3306), "mysql+pymysql://root@127.0.0.1:3306/"),
}


def _require(server: str) -> None:
    (host, port), _ = SERVERS[server]
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as err:
        message = f"{server} is not reachable on {host}:{port} ({err})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run integration tests against the real service")
        pytest.skip(message)


@pytest.fixture(params=sorted(SERVERS))
def server_db(request: Any, cumulo_conf: Any) -> Iterator[str]:
    """The kernel configured on a fresh, migrated PostgreSQL or MariaDB database (dropped afterwards)."""
    import sqlalchemy as sa

    from cumulo import db
    from cumulo.db import migrate

    _require(request.param)
    _, base = SERVERS[request.param]
    name = f"cumulo_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base + ("postgres" if request.param == "postgresql" else ""),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        cumulo_conf.set("connection", base + name, group="database")
        db.reset()
        migrate.sync()
        yield request.param
    finally:
        db.reset()
        with admin.connect() as conn:
            force = " WITH (FORCE)" if request.param == "postgresql" else ""
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
        admin.dispose()


def test_concurrent_reservations_never_overshoot(server_db):
    from cumulo_service_compute import quota

    quota.set_limits("race", {"instances": 7, "cores": 100})

    def one(_: int) -> bool:
        try:
            quota.reserve("race", {"instances": 1, "cores": 1})
            return True
        except exception.QuotaExceeded:
            return False

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(40)))
    assert results.count(True) == 7
    assert quota.get_usage("race") == {"instances": 7, "cores": 7}


def test_default_flavors(server_db):
    from cumulo_service_compute.service import Service

    from cumulo.context import admin_context

    names = {f["name"] for f in Service(None).list_flavors(admin_context())}
    assert {"m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge", "c1.nano"} <= names
