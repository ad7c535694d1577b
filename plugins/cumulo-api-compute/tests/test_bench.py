"""The Rally-style summary of ``cumulo bench boot-delete``."""

from __future__ import annotations

from cumulo_api_compute.bench import percentile, table


def test_percentile_interpolates():
    values = [float(x) for x in range(1, 11)]
    assert percentile(values, 0.5) == 5.5
    assert percentile(values, 0.9) == 9.1
    assert percentile([3.0], 0.95) == 3.0


def test_table_reports_success_rate():
    out = table([("nova.boot_server", [1.0, 2.0, 3.0], 4), ("nova.delete_server", [], 4)])
    lines = out.splitlines()
    assert "95%ile (sec)" in lines[1]
    boot = [c.strip() for c in lines[3].split("|")[1:-1]]
    assert boot == ["nova.boot_server", "1.000", "2.000", "2.800", "2.900", "3.000", "2.000", "75.0%", "4"]
    assert "n/a" in lines[4] and "0.0%" in lines[4]
