"""No address is handed out twice under concurrent requests (SQLite; PostgreSQL in tests/integration)."""

from __future__ import annotations

from cumulo.testing.conformance.network import run_parallel_ports


def test_200_parallel_ports_get_distinct_addresses(service, demo):
    result = run_parallel_ports(service, demo, count=200, workers=16)
    assert result["errors"] == []
    assert len(result["addresses"]) == 200
    assert len(set(result["addresses"])) == 200
    assert result["overflow_error"] is not None
    assert result["overflow_error"].code == 409
    assert type(result["overflow_error"]).__name__ == "IpAddressGenerationFailure"
