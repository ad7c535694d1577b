"""Host weighers: each one an entry point in ``cumulo.scheduler.weighers``.

Raw scores are normalised by the scheduler over the candidate hosts (0..1),
then multiplied by the weigher's multiplier, an option in ``[scheduler_filter]``.
Positive multipliers spread servers (prefer the most free resource), negative
ones stack them.
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

from oslo_config import cfg

from cumulo.interfaces.scheduler import HostState, HostWeigher, RequestSpec
from cumulo_scheduler_filter.filters import group_hosts, group_policy

GROUP = "scheduler_filter"


class _Weigher(HostWeigher):
    interface_version = "2.0"
    #: The option holding this weigher's multiplier.
    option: ClassVar[cfg.Opt]

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return [(GROUP, [cls.option])]

    def multiplier(self) -> float:
        try:
            return float(getattr(self.conf, GROUP)[self.option.dest])
        except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
            return float(self.option.default)

    def weigh(self, host: HostState, spec: RequestSpec) -> float:
        return self.weigh_all([host], spec)[0]


class RamWeigher(_Weigher):
    """``ram``: free RAM in MiB (allocation ratio applied)."""

    option = cfg.FloatOpt("ram_weight_multiplier", default=1.0,
                          help="Multiplier of the ram weigher: > 0 spreads servers over the hosts with the "
                               "most free RAM, < 0 stacks them on the fullest hosts.")

    def weigh_all(self, hosts: list[HostState], spec: RequestSpec) -> list[float]:
        return [h.memory_mb * h.ram_allocation_ratio - h.memory_mb_used for h in hosts]


class CpuWeigher(_Weigher):
    """``cpu``: free vCPUs (allocation ratio applied)."""

    option = cfg.FloatOpt("cpu_weight_multiplier", default=1.0,
                          help="Multiplier of the cpu weigher: > 0 spreads, < 0 stacks by free vCPUs.")

    def weigh_all(self, hosts: list[HostState], spec: RequestSpec) -> list[float]:
        return [h.vcpus * h.cpu_allocation_ratio - h.vcpus_used for h in hosts]


class DiskWeigher(_Weigher):
    """``disk``: free local disk in GiB (allocation ratio applied)."""

    option = cfg.FloatOpt("disk_weight_multiplier", default=1.0,
                          help="Multiplier of the disk weigher: > 0 spreads, < 0 stacks by free disk.")

    def weigh_all(self, hosts: list[HostState], spec: RequestSpec) -> list[float]:
        return [h.local_gb * h.disk_allocation_ratio - h.local_gb_used for h in hosts]


class _GroupWeigher(_Weigher):
    policy: ClassVar[str]
    sign: ClassVar[float]

    def applies(self, spec: RequestSpec) -> bool:
        return group_policy(spec) == self.policy and bool(group_hosts(spec))

    def weigh_all(self, hosts: list[HostState], spec: RequestSpec) -> list[float]:
        if group_policy(spec) != self.policy:
            return [0.0] * len(hosts)
        counts = Counter(group_hosts(spec))
        if not counts:
            return [0.0] * len(hosts)
        sign = self.sign
        get = counts.get
        return [sign * get(h.host, 0) for h in hosts]


class SoftAffinityWeigher(_GroupWeigher):
    """``soft_affinity``: for a ``soft-affinity`` group, prefer hosts running more members."""

    policy = "soft-affinity"
    sign = 1.0
    option = cfg.FloatOpt("soft_affinity_weight_multiplier", default=10.0, min=0.0,
                          help="Multiplier of the soft_affinity weigher (>= 0). Above the sum of the "
                               "resource weighers' multipliers it wins over spreading (Nova's default is 1.0).")


class SoftAntiAffinityWeigher(_GroupWeigher):
    """``soft_anti_affinity``: for a ``soft-anti-affinity`` group, prefer hosts running fewer members."""

    policy = "soft-anti-affinity"
    sign = -1.0
    option = cfg.FloatOpt("soft_anti_affinity_weight_multiplier", default=10.0, min=0.0,
                          help="Multiplier of the soft_anti_affinity weigher (>= 0). Above the sum of the "
                               "resource weighers' multipliers it wins over stacking (Nova's default is 1.0).")
