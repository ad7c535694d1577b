"""IPAM under concurrency on PostgreSQL and MariaDB: 200 parallel ports on a pool of 200
get 200 distinct addresses, the 201st fails with IpAddressGenerationFailure (409)."""

from __future__ import annotations

import pytest

from cumulo.context import RequestContext
from cumulo.testing.conformance.network import run_parallel_ports


@pytest.fixture(params=["postgresql", "mariadb"])
def server_db(request, cumulo_conf):
    """A fresh PostgreSQL or MariaDB database with the network branch (and what it depends on) migrated."""
    from cumulo import db
    from cumulo.db import migrate

    url = request.getfixturevalue(f"{request.param}_url")  # skips (or fails under CI) when absent
    cumulo_conf.set("connection", url, group="database")
    db.reset()
    migrate.sync(revision="cumulo_network@head")
    yield request.param
    db.reset()


@pytest.fixture
def service(server_db, cumulo_conf):
    from cumulo.services import ServiceHub

    cumulo_conf.set("driver", "noop", group="network")
    return ServiceHub().network


def test_parallel_ports_distinct_addresses(service, server_db):
    ctx = RequestContext(user_id="u", project_id="race", roles=["member"])
    result = run_parallel_ports(service, ctx, count=200, workers=24)
    assert result["errors"] == [], result["errors"][:3]
    assert len(result["addresses"]) == 200
    assert len(set(result["addresses"])) == 200, "an address was handed out twice"
    overflow = result["overflow_error"]
    assert overflow is not None and type(overflow).__name__ == "IpAddressGenerationFailure"
    assert overflow.code == 409


def test_default_security_group_created_once_concurrently(service, server_db):
    import concurrent.futures

    ctx = RequestContext(user_id="u", project_id="sg-race", roles=["member"])
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(lambda _: service.ensure_default_security_group("sg-race"), range(16)))
    assert len(ids) == 1
    assert [g["name"] for g in service.list_security_groups(ctx)] == ["default"]
