"""``cumulo bench scheduler``: time one placement among many hosts.

Builds N synthetic compute hosts (mixed sizes, some disabled or down, three
availability zones, a few aggregates, some already busy), then times
``select_destinations`` of the scheduler service (``hub.scheduler``) with the
configured driver, filters and weighers. Prints the median and 95th percentile per host
count; asserts nothing.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import time
import uuid
from collections.abc import Iterable
from typing import Any

from cliff.lister import Lister

from cumulo.conf import CONF
from cumulo.interfaces.scheduler import HostState, RequestSpec
from cumulo.services import ServiceHub

FLAVOR = {"vcpus": 2, "ram": 4096, "disk": 40, "ephemeral": 0, "extra_specs": {}}


def make_hosts(count: int, seed: int = 42) -> list[HostState]:
    """``count`` varied hosts, reproducible for a seed."""
    rnd = random.Random(seed)
    aggregates = [{"id": i, "name": f"agg{i}", "metadata": {"ssd": "true" if i % 2 else "false"}}
                  for i in range(4)]
    hosts = []
    for i in range(count):
        vcpus = rnd.choice((16, 32, 64))
        mem = vcpus * 4096
        disk = rnd.choice((500, 1000, 2000))
        hosts.append(HostState(
            host=f"compute-{i:06d}", hypervisor_type="fake", availability_zone=f"az{i % 3}",
            vcpus=vcpus, vcpus_used=rnd.randrange(0, vcpus * 8),
            memory_mb=mem, memory_mb_used=rnd.randrange(0, int(mem * 1.4)),
            local_gb=disk, local_gb_used=rnd.randrange(0, disk),
            enabled=i % 50 != 0, up=i % 97 != 0,
            aggregates=[aggregates[i % 4]] if i % 5 == 0 else [],
            instances={str(uuid.UUID(int=rnd.getrandbits(128)))} if i % 10 == 0 else set(),
            capabilities={"supported_instances": [["x86_64", "fake", "hvm"]], "cpu_info": {"arch": "x86_64"}},
        ))
    return hosts


class _HostList:
    """Stands in for the compute area: the scheduler reads host states from ``hub.compute``."""

    def __init__(self, hosts: list[HostState]) -> None:
        self.hosts = hosts

    def host_states(self) -> list[HostState]:
        return self.hosts


class BenchHub(ServiceHub):
    """A hub whose scheduler is the installed one and whose compute area is a fixed list of hosts."""

    def __init__(self, hosts: list[HostState]) -> None:
        super().__init__(CONF)
        self._hosts = _HostList(hosts)

    def get(self, area: str) -> Any:
        if area == "compute":
            return self._hosts
        return super().get(area)


def time_placements(count: int, runs: int, spec_kwargs: dict[str, Any] | None = None,
                    driver: str | None = None, cpu: list[float] | None = None) -> list[float]:
    """Wall seconds per single-server placement, ``runs`` times, among ``count`` hosts.

    When ``cpu`` is given, the process CPU seconds of each placement are appended
    to it (less disturbed than wall time on a shared machine)."""
    hosts = make_hosts(count)
    # The service logs one line per placement; its package is a plugin's, named here, not imported.
    logging.getLogger("cumulo_service_scheduler").setLevel(logging.WARNING)
    if driver:
        CONF.set_override("driver", driver, group="scheduler")
    try:
        service = BenchHub(hosts).get("scheduler")  # a new hub per run: the driver named now, no claims
        service.driver  # noqa: B018 - load plugins outside the timing
        times = []
        for _ in range(runs):
            spec = RequestSpec(project_id="bench", flavor=dict(FLAVOR), instance_uuids=[str(uuid.uuid4())],
                               **(spec_kwargs or {}))
            c0, t0 = time.process_time(), time.perf_counter()
            service.select_destinations(None, spec)
            times.append(time.perf_counter() - t0)
            if cpu is not None:
                cpu.append(time.process_time() - c0)
        return times
    finally:
        if driver:
            CONF.clear_override("driver", group="scheduler")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def run(counts: Iterable[int], runs: int, driver: str | None = None) -> list[tuple[Any, ...]]:
    rows = []
    for count in counts:
        for label, kwargs in (("plain", {}), ("az+anti-affinity",
                              {"availability_zone": "az1",
                               "instance_group": {"policy": "anti-affinity", "hosts": ["compute-000001"]}})):
            cpu: list[float] = []
            times = time_placements(count, runs, kwargs, driver, cpu)
            rows.append((count, label, runs, round(statistics.median(times) * 1000, 1),
                         round(p95(times) * 1000, 1), round(statistics.median(cpu) * 1000, 1)))
    return rows


class BenchScheduler(Lister):
    """Time placing one server among 1,000 / 10,000 / 100,000 synthetic hosts (median and p95, ms)."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--hosts", type=int, action="append",
                            help="Host count (repeatable); default 1000, 10000 and 100000.")
        parser.add_argument("--runs", type=int, default=20, help="Placements per host count (default 20).")
        parser.add_argument("--driver", help="Scheduler plugin (default: [scheduler] driver).")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        counts = parsed_args.hosts or [1000, 10000, 100000]
        rows = run(counts, max(1, parsed_args.runs), parsed_args.driver)
        return ("Hosts", "Request", "Runs", "Median ms", "p95 ms", "Median CPU ms"), rows
