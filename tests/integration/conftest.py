"""Fixtures for integration tests against the real PostgreSQL, MariaDB and RabbitMQ.

A test that needs a service skips with the reason when it is not reachable,
and fails instead when ``CI`` is set (CI must exercise the real parts).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

SERVICES = {
    "postgresql": ("127.0.0.1", 5432),
    "mariadb": ("127.0.0.1", 3306),
    "rabbitmq": ("127.0.0.1", 5672),
}


def require(service: str) -> None:
    host, port = SERVICES[service]
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as err:
        message = f"{service} is not reachable on {host}:{port} ({err})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run integration tests against the real service")
        pytest.skip(message)


def _fresh_database(service: str) -> Iterator[str]:
    import sqlalchemy as sa

    require(service)
    name = f"cumulo_test_{uuid.uuid4().hex[:10]}"
    if service == "postgresql":
        admin_url, url = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres", \
            f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    else:
        admin_url, url = "mysql+pymysql://root@127.0.0.1:3306/", f"mysql+pymysql://root@127.0.0.1:3306/{name}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield url
    finally:
        with admin.connect() as conn:
            if service == "postgresql":
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards)."""
    yield from _fresh_database("postgresql")


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A new, empty MariaDB database (dropped afterwards)."""
    yield from _fresh_database("mariadb")


@pytest.fixture(params=["postgresql", "mariadb"])
def server_db(request, cumulo_conf) -> Iterator[str]:
    """The kernel configured on a fresh PostgreSQL or MariaDB database, migrated."""
    from cumulo import db
    from cumulo.db import migrate

    for url in _fresh_database(request.param):
        cumulo_conf.set("connection", url, group="database")
        db.reset()
        migrate.sync()
        yield request.param
        db.reset()


@pytest.fixture
def rabbit_url() -> str:
    require("rabbitmq")
    return "rabbit://guest:guest@127.0.0.1:5672//"
