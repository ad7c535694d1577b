"""Conformance suites for schedulers, host filters and host weighers.

Three base classes, one per plugin kind of :mod:`cumulo.interfaces.scheduler`;
subclass the one you need, name the plugin and provide the instance::

    from cumulo.testing.conformance.scheduler import (
        HostFilterConformance, HostWeigherConformance, SchedulerConformance)

    class TestMyScheduler(SchedulerConformance):
        plugin_name = "mine"

        @pytest.fixture
        def scheduler(self):
            return MyScheduler(PluginContext(conf))

    class TestMyFilter(HostFilterConformance):
        plugin_name = "mine"

        @pytest.fixture
        def host_filter(self):
            return MyFilter(PluginContext(conf))

``SchedulerConformance`` checks: one host per instance, never a disabled or
down host, never a host without room, earlier picks of the same request are
accounted for (two instances that fit a host once each land on two hosts),
NoValidHost when nothing fits, the hosts given are not mutated, and
concurrent calls are safe. The filter and weigher suites check the bulk
method agrees with the per-host one, keeps order, does not mutate, and
copes with an empty list. Override :meth:`sample_specs` to add requests that
exercise your plugin.
"""

from __future__ import annotations

import copy
import threading
from typing import Any, ClassVar

import pytest

from cumulo.interfaces.scheduler import HostFilter, HostState, HostWeigher, NoValidHost, RequestSpec, Scheduler
from cumulo.testing.conformance import RegistryConformance

SMALL = {"vcpus": 1, "ram": 512, "disk": 1, "ephemeral": 0, "extra_specs": {}}


def host(name: str, **kw: Any) -> HostState:
    """A roomy healthy host unless told otherwise."""
    base: dict[str, Any] = {"hypervisor_type": "fake", "vcpus": 8, "memory_mb": 8192, "local_gb": 100,
                            "cpu_allocation_ratio": 1.0, "ram_allocation_ratio": 1.0, "disk_allocation_ratio": 1.0,
                            "capabilities": {"supported_instances": [["x86_64", "fake", "hvm"]]}}
    base.update(kw)
    return HostState(host=name, **base)


def spec(num: int = 1, flavor: dict[str, Any] | None = None, **kw: Any) -> RequestSpec:
    return RequestSpec(project_id="p", flavor=dict(flavor or SMALL), num_instances=num,
                       instance_uuids=[f"00000000-0000-0000-0000-{i:012d}" for i in range(num)], **kw)


def sample_hosts() -> list[HostState]:
    """Varied hosts: sizes, usage, zones, aggregates, a disabled one, a down one."""
    return [
        host("h1", memory_mb_used=1024, instances={"00000000-0000-0000-0000-00000000aaaa"}),
        host("h2", vcpus=2, memory_mb=2048, local_gb=20, availability_zone="az2"),
        host("h3", enabled=False),
        host("h4", up=False),
        host("h5", memory_mb=16384, vcpus_used=6,
             aggregates=[{"id": 1, "name": "ssd", "metadata": {"ssd": "true"}}]),
        host("h6", local_gb=1, local_gb_used=1, hypervisor_type="qemu",
             capabilities={"supported_instances": [["aarch64", "qemu", "hvm"]]}),
    ]


def snapshot(hosts: list[HostState]) -> list[dict[str, Any]]:
    return [h.to_dict() for h in hosts]


class _SpecCases:
    def sample_specs(self) -> list[RequestSpec]:
        """Requests the filter/weigher suites run; extend to reach your plugin's branches."""
        return [
            spec(),
            spec(flavor={"vcpus": 4, "ram": 4096, "disk": 50}),
            spec(availability_zone="az2"),
            spec(image={"hw_architecture": "aarch64", "img_hv_type": "qemu"}),
            spec(scheduler_hints={"same_host": ["00000000-0000-0000-0000-00000000aaaa"]}),
            spec(scheduler_hints={"different_host": "00000000-0000-0000-0000-00000000aaaa"}),
            spec(instance_group={"policy": "affinity", "hosts": ["h1"], "members": ["x"]}),
            spec(instance_group={"policy": "anti-affinity", "hosts": ["h1", "h5"], "members": ["x", "y"]}),
            spec(instance_group={"policy": "soft-anti-affinity", "hosts": ["h1"], "members": ["x"]}),
            spec(flavor={**SMALL, "extra_specs": {"aggregate_instance_extra_specs:ssd": "true"}}),
        ]


class SchedulerConformance(RegistryConformance):
    """What every scheduler (``cumulo.scheduler``) must do. Provide ``scheduler`` and ``plugin_name``."""

    kind: ClassVar[str] = "scheduler"

    @pytest.fixture
    def scheduler(self) -> Scheduler:
        raise NotImplementedError("subclass SchedulerConformance and provide a 'scheduler' fixture")

    def test_is_a_scheduler(self, scheduler: Scheduler) -> None:
        assert isinstance(scheduler, Scheduler)

    def test_one_host_per_instance(self, scheduler: Scheduler) -> None:
        hosts = [host("a"), host("b"), host("c")]
        picks = scheduler.select_destinations(spec(3), hosts)
        assert len(picks) == 3
        assert all(isinstance(p, HostState) and p.host in {"a", "b", "c"} for p in picks)

    def test_picks_have_consumed_the_instance(self, scheduler: Scheduler) -> None:
        hosts = [host("a")]
        (pick,) = scheduler.select_destinations(spec(1), hosts)
        assert pick.vcpus_used == 1 and pick.memory_mb_used == 512 and pick.local_gb_used == 1
        assert "00000000-0000-0000-0000-000000000000" in pick.instances

    def test_does_not_mutate_the_hosts(self, scheduler: Scheduler) -> None:
        hosts = [host("a"), host("b")]
        before = snapshot(hosts)
        listed = list(hosts)
        scheduler.select_destinations(spec(2), hosts)
        assert snapshot(hosts) == before
        assert hosts == listed

    def test_never_disabled_or_down(self, scheduler: Scheduler) -> None:
        hosts = [host("off", enabled=False), host("gone", up=False), host("ok")]
        for _ in range(5):
            assert [p.host for p in scheduler.select_destinations(spec(), hosts)] == ["ok"]

    def test_never_a_host_without_room(self, scheduler: Scheduler) -> None:
        hosts = [host("full", memory_mb_used=8000), host("tiny", vcpus=1, vcpus_used=1),
                 host("nodisk", local_gb_used=100), host("ok")]
        for _ in range(5):
            assert [p.host for p in scheduler.select_destinations(spec(), hosts)] == ["ok"]

    def test_earlier_picks_are_accounted_for(self, scheduler: Scheduler) -> None:
        hosts = [host("a", memory_mb=512), host("b", memory_mb=512)]
        picks = scheduler.select_destinations(spec(2), hosts)
        assert sorted(p.host for p in picks) == ["a", "b"]
        with pytest.raises(NoValidHost):
            scheduler.select_destinations(spec(3), hosts)

    def test_no_valid_host(self, scheduler: Scheduler) -> None:
        with pytest.raises(NoValidHost):
            scheduler.select_destinations(spec(flavor={"vcpus": 1, "ram": 10**7, "disk": 1}), [host("a")])
        with pytest.raises(NoValidHost):
            scheduler.select_destinations(spec(), [])
        with pytest.raises(NoValidHost):
            scheduler.select_destinations(spec(), [host("a", enabled=False)])

    def test_no_valid_host_message_is_one_readable_line(self, scheduler: Scheduler) -> None:
        with pytest.raises(NoValidHost) as info:
            scheduler.select_destinations(spec(), [host("a", up=False)])
        text = str(info.value)
        assert text and "\n" not in text

    def test_concurrent_calls(self, scheduler: Scheduler) -> None:
        hosts = [host(f"h{i}") for i in range(10)]
        errors: list[BaseException] = []
        results: list[list[HostState]] = []

        def go() -> None:
            try:
                results.append(scheduler.select_destinations(spec(2), hosts))
            except BaseException as err:  # reported below
                errors.append(err)

        threads = [threading.Thread(target=go) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors
        assert len(results) == 8 and all(len(r) == 2 for r in results)


class HostFilterConformance(RegistryConformance, _SpecCases):
    """What every host filter (``cumulo.scheduler.filters``) must do. Provide ``host_filter``."""

    kind: ClassVar[str] = "scheduler.filters"

    @pytest.fixture
    def host_filter(self) -> HostFilter:
        raise NotImplementedError("subclass HostFilterConformance and provide a 'host_filter' fixture")

    def test_is_a_filter(self, host_filter: HostFilter) -> None:
        assert isinstance(host_filter, HostFilter)

    def test_bulk_agrees_with_one_by_one(self, host_filter: HostFilter) -> None:
        hosts = sample_hosts()
        for s in self.sample_specs():
            bulk = [h.host for h in host_filter.filter_all(hosts, s)]
            single = [h.host for h in hosts if host_filter.host_passes(h, s)]
            assert bulk == single, f"filter_all and host_passes disagree for {s}"

    def test_result_is_an_ordered_subset(self, host_filter: HostFilter) -> None:
        hosts = sample_hosts()
        for s in self.sample_specs():
            out = host_filter.filter_all(hosts, s)
            positions = [next(i for i, h in enumerate(hosts) if h is o) for o in out]
            assert positions == sorted(positions) and len(set(positions)) == len(positions)

    def test_does_not_mutate(self, host_filter: HostFilter) -> None:
        hosts = sample_hosts()
        for s in self.sample_specs():
            before, spec_before = snapshot(hosts), copy.deepcopy(s)
            host_filter.filter_all(list(hosts), s)
            for h in hosts:
                host_filter.host_passes(h, s)
            assert snapshot(hosts) == before and s == spec_before

    def test_empty_list(self, host_filter: HostFilter) -> None:
        for s in self.sample_specs():
            assert list(host_filter.filter_all([], s)) == []

    def test_returns_bools(self, host_filter: HostFilter) -> None:
        for s in self.sample_specs():
            for h in sample_hosts():
                assert isinstance(host_filter.host_passes(h, s), bool)


class HostWeigherConformance(RegistryConformance, _SpecCases):
    """What every host weigher (``cumulo.scheduler.weighers``) must do. Provide ``weigher``."""

    kind: ClassVar[str] = "scheduler.weighers"

    @pytest.fixture
    def weigher(self) -> HostWeigher:
        raise NotImplementedError("subclass HostWeigherConformance and provide a 'weigher' fixture")

    def test_is_a_weigher(self, weigher: HostWeigher) -> None:
        assert isinstance(weigher, HostWeigher)

    def test_multiplier_is_a_number(self, weigher: HostWeigher) -> None:
        m = weigher.multiplier()
        assert isinstance(m, int | float) and not isinstance(m, bool)

    def test_bulk_agrees_with_one_by_one(self, weigher: HostWeigher) -> None:
        hosts = sample_hosts()
        for s in self.sample_specs():
            bulk = list(weigher.weigh_all(hosts, s))
            single = [weigher.weigh(h, s) for h in hosts]
            assert len(bulk) == len(hosts)
            assert bulk == pytest.approx(single)
            assert all(isinstance(w, int | float) and not isinstance(w, bool) for w in bulk)

    def test_does_not_mutate(self, weigher: HostWeigher) -> None:
        hosts = sample_hosts()
        for s in self.sample_specs():
            before, spec_before = snapshot(hosts), copy.deepcopy(s)
            weigher.weigh_all(hosts, s)
            assert snapshot(hosts) == before and s == spec_before

    def test_empty_list(self, weigher: HostWeigher) -> None:
        for s in self.sample_specs():
            assert list(weigher.weigh_all([], s)) == []
