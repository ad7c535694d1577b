"""The ``filter`` scheduler: filters, then weighers, one instance at a time.

For each instance of a request: run the enabled filters in order over the
candidates (a filter that empties the list is named in the NoValidHost
message), score the survivors with the weighers, take the best (or one of the
``host_subset_size`` best at random), and account for the pick: the chosen
host is replaced by a copy that consumed the instance, and the request's
server group gains the host, so later instances of the same request see it
(anti-affinity across one multi-create works).

Filters only narrow as resources get used, so instance *n+1* is filtered
from the survivors of instance *n*, not from every host again.
"""

from __future__ import annotations

import dataclasses
import heapq
import random

from oslo_config import cfg

from cumulo import registry
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.scheduler import HostFilter, HostState, HostWeigher, NoValidHost, RequestSpec, Scheduler
from cumulo_scheduler_filter import opts as opts_mod
from cumulo_scheduler_filter import weighers as weighers_mod


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """``oslo.config.opts`` entry point: the ``[scheduler]`` options of this driver and the multipliers
    of this distribution's weighers."""
    return FilterScheduler.list_opts()


def _combine(terms: list[tuple[float, list[float]]]) -> list[float]:
    """sum(scale * raw) per host, in as few passes as possible."""
    if len(terms) == 1:
        (a, ra), = terms
        return [a * x for x in ra] if a != 1.0 else ra
    if len(terms) == 2:
        (a, ra), (b, rb) = terms
        return [a * x + b * y for x, y in zip(ra, rb, strict=True)]
    (a, ra), (b, rb), (c, rc) = terms[:3]
    total = [a * x + b * y + c * z for x, y, z in zip(ra, rb, rc, strict=True)]
    for d, rd in terms[3:]:
        total = [t + d * x for t, x in zip(total, rd, strict=True)]
    return total


class FilterScheduler(Scheduler):
    """Filter and weigh hosts (``[scheduler] enabled_filters`` and ``weighers``)."""

    interface_version = "2.0"

    def __init__(self, ctx: PluginContext, filters: list[tuple[str, HostFilter]] | None = None,
                 weighers: list[tuple[str, HostWeigher]] | None = None) -> None:
        super().__init__(ctx)
        # Built directly (tests, the bench) rather than by the registry: register what it reads.
        registry.register_plugin_opts(type(self), self.conf)
        opts = self.conf.scheduler
        if filters is None:
            names = list(opts.enabled_filters)
            filters = list(zip(names, registry.load_plugins("scheduler.filters", names, ctx), strict=True))
        if weighers is None:
            names = list(opts.weighers)
            weighers = list(zip(names, registry.load_plugins("scheduler.weighers", names, ctx), strict=True))
        self.filters = filters
        self.weighers = weighers

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        """``[scheduler] enabled_filters, weighers, host_subset_size`` and the weighers' multipliers."""
        multipliers: list[cfg.Opt] = [w.option for w in (weighers_mod.RamWeigher, weighers_mod.CpuWeigher,
                                                         weighers_mod.DiskWeigher, weighers_mod.SoftAffinityWeigher,
                                                         weighers_mod.SoftAntiAffinityWeigher)]
        return [(opts_mod.GROUP, list(opts_mod.scheduler_opts)), (weighers_mod.GROUP, multipliers)]

    # -- one instance ----------------------------------------------------------
    def _filter(self, hosts: list[HostState], spec: RequestSpec, instance: int) -> list[HostState]:
        if not hosts:
            raise NoValidHost(reason="There are no candidate hosts.")
        trail = []
        for name, f in self.filters:
            before = len(hosts)
            hosts = f.filter_all(hosts, spec)
            trail.append(f"{name} {before}->{len(hosts)}")
            if not hosts:
                which = f" for instance {instance + 1} of {spec.num_instances}" if spec.num_instances > 1 else ""
                raise NoValidHost(reason=f"Filter '{name}' removed the last {before} host(s){which} "
                                         f"(filters: {', '.join(trail)}).")
        return hosts

    def _choose(self, hosts: list[HostState], spec: RequestSpec) -> int:
        """Index of the chosen host in ``hosts``.

        The weight of a host is sum(multiplier * (raw - lo) / (hi - lo)) over the
        weighers; the ``lo`` terms are the same for every host, so ranking by
        sum(scale * raw) with ``scale = multiplier / (hi - lo)`` is equivalent
        and takes one pass over the hosts.
        """
        n = len(hosts)
        if n == 1:
            return 0
        terms: list[tuple[float, list[float]]] = []
        for _name, w in self.weighers:
            m = float(w.multiplier())
            if not m or not w.applies(spec):
                continue
            raw = w.weigh_all(hosts, spec)
            lo, hi = min(raw), max(raw)
            if hi == lo:
                continue  # no opinion: every host normalises to 0
            terms.append((m / (hi - lo), raw))
        subset = min(int(self.conf.scheduler.host_subset_size), n)
        if not terms:
            return random.randrange(subset) if subset > 1 else 0
        total = _combine(terms)
        if subset == 1:
            return max(range(n), key=total.__getitem__)
        return random.choice(heapq.nlargest(subset, range(n), key=total.__getitem__))

    # -- the request ------------------------------------------------------------
    def select_destinations(self, spec: RequestSpec, hosts: list[HostState]) -> list[HostState]:
        flavor = spec.flavor
        uuids = spec.instance_uuids
        work = spec
        candidates = hosts
        picks: list[HostState] = []
        for i in range(spec.num_instances):
            candidates = self._filter(candidates, work, i)
            idx = self._choose(candidates, work)
            chosen = candidates[idx]
            uuid = uuids[i] if i < len(uuids) else None
            picked = chosen.claimed(flavor, uuid)
            picks.append(picked)
            if i + 1 == spec.num_instances:
                break
            if candidates is hosts:
                candidates = list(hosts)  # never modify the caller's list
            candidates[idx] = picked
            if work.instance_group is not None:
                group = dict(work.instance_group)
                group["hosts"] = [*(group.get("hosts") or []), picked.host]
                if uuid:
                    group["members"] = [*(group.get("members") or []), uuid]
                work = dataclasses.replace(work, instance_group=group)
        return picks
