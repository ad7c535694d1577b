"""Quotas: atomic reservations that concurrent requests cannot overshoot."""

from __future__ import annotations

import concurrent.futures

import pytest

from cumulo import exception


def test_reserve_release_and_named_error(cumulo_db):
    from cumulo_service_compute import quota

    quota.set_limits("p", {"instances": 2})
    quota.reserve("p", {"instances": 2, "cores": 2})
    with pytest.raises(exception.QuotaExceeded) as err:
        quota.reserve("p", {"instances": 1, "cores": 1})
    assert "instances" in str(err.value) and err.value.code == 403
    assert quota.get_usage("p") == {"instances": 2, "cores": 2}  # the failed reservation left nothing
    quota.release("p", {"instances": 5})
    assert quota.get_usage("p")["instances"] == 0  # clamped at zero
    quota.set_limits("p", {"instances": -1})
    quota.reserve("p", {"instances": 1000})


def test_concurrent_reservations_never_overshoot(cumulo_db):
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
    assert quota.get_usage("race")["instances"] == 7


def test_keypair_quota_per_user(compute_hub, ctx):
    from cumulo_service_compute import quota

    quota.set_limits("p1", {"key_pairs": 1})
    compute_hub.compute.create_keypair(ctx, "one")
    with pytest.raises(exception.QuotaExceeded, match="key_pairs"):
        compute_hub.compute.create_keypair(ctx, "two")
    compute_hub.compute.delete_keypair(ctx, "one")
    compute_hub.compute.create_keypair(ctx, "two")
