"""The ``chance`` scheduler.

Picks, for each instance, a host at random among those that are enabled, up
and have room for the flavor (vCPUs, RAM, disk with the host's allocation
ratios). It ignores zones other than the requested one's, server groups,
hints and aggregates: use the filter scheduler for those.
"""

from __future__ import annotations

import random
from typing import Any

from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.scheduler import HostState, NoValidHost, RequestSpec, Scheduler


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


class ChanceScheduler(Scheduler):
    """A random host that is enabled, up, in the requested zone and has room."""

    interface_version = "2.0"

    def __init__(self, ctx: PluginContext, rng: random.Random | None = None) -> None:
        super().__init__(ctx)
        self._rng = rng or random.SystemRandom()

    @staticmethod
    def _fits(hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        f = spec.flavor
        vcpus, ram = _int(f.get("vcpus")), _int(f.get("ram"))
        disk = _int(f.get("disk")) + _int(f.get("ephemeral"))
        az = spec.availability_zone
        return [h for h in hosts
                if h.enabled and h.up and (not az or h.availability_zone == az)
                and h.vcpus * h.cpu_allocation_ratio - h.vcpus_used >= vcpus
                and h.memory_mb * h.ram_allocation_ratio - h.memory_mb_used >= ram
                and h.local_gb * h.disk_allocation_ratio - h.local_gb_used >= disk]

    def select_destinations(self, spec: RequestSpec, hosts: list[HostState]) -> list[HostState]:
        candidates = self._fits(hosts, spec)
        picks: list[HostState] = []
        for i in range(spec.num_instances):
            if not candidates:
                which = f" for instance {i + 1} of {spec.num_instances}" if spec.num_instances > 1 else ""
                raise NoValidHost(reason=f"No enabled, up host has room{which} (chance scheduler, "
                                         f"{len(hosts)} host(s) considered).")
            idx = self._rng.randrange(len(candidates))
            uuid = spec.instance_uuids[i] if i < len(spec.instance_uuids) else None
            picked = candidates[idx].claimed(spec.flavor, uuid)
            picks.append(picked)
            # the pick stays a candidate only while it still has room
            if self._fits([picked], spec):
                candidates[idx] = picked
            else:
                candidates[idx] = candidates[-1]
                candidates.pop()
        return picks
