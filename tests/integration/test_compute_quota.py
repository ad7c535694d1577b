"""Compute on PostgreSQL and MariaDB: the schema migrates, default flavors exist,
and concurrent quota reservations never overshoot the limit."""

from __future__ import annotations

import concurrent.futures

from cumulo import exception


def test_concurrent_reservations_never_overshoot(server_db):
    from cumulo.services.compute import quota

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
    from cumulo.context import admin_context
    from cumulo.services.compute.api import ComputeAPI

    names = {f["name"] for f in ComputeAPI(None).list_flavors(admin_context())}
    assert {"m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge", "c1.nano"} <= names
