"""Scheduler benchmark: time to place one server among 1,000 / 10,000 / 100,000 hosts.

Runs the kernel scheduler service with the configured scheduler plugin
(default ``filter`` with the default filters and weighers) over synthetic
hosts (mixed sizes and usage, some disabled or down, three zones, aggregates).
Two requests: a plain one, and one with an availability zone and a hard
anti-affinity group. Prints wall-clock median and 95th percentile and the
median process CPU time per placement; asserts nothing.

    .venv/bin/python tests/bench/bench_scheduler.py [--hosts 1000 --hosts 100000] [--runs 20] [--driver chance]

The same as ``cumulo bench scheduler`` (from the cumulo-scheduler-filter plugin).
"""

from __future__ import annotations

import argparse

from cumulo_scheduler_filter.bench import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, action="append", help="Host count (repeatable).")
    parser.add_argument("--runs", type=int, default=20, help="Placements per host count and request.")
    parser.add_argument("--driver", help="Scheduler plugin (default: [scheduler] driver, i.e. filter).")
    args = parser.parse_args()
    print(f"{'hosts':>8}  {'request':<18} {'runs':>5} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>8}")
    for count, label, runs, median, p95, cpu in run(args.hosts or [1000, 10000, 100000], args.runs, args.driver):
        print(f"{count:>8}  {label:<18} {runs:>5} {median:>10} {p95:>8} {cpu:>8}", flush=True)


if __name__ == "__main__":
    main()
