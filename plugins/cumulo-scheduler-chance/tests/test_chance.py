"""The chance scheduler: conformance plus randomness and room checks."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from cumulo_scheduler_chance.scheduler import ChanceScheduler

from cumulo import registry
from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.scheduler import NoValidHost
from cumulo.testing.conformance.scheduler import SchedulerConformance, host, spec


class TestChanceConformance(SchedulerConformance):
    plugin_name = "chance"

    @pytest.fixture
    def scheduler(self) -> ChanceScheduler:
        return ChanceScheduler(PluginContext(CONF))


def test_random_over_fitting_hosts() -> None:
    s = ChanceScheduler(PluginContext(CONF), rng=random.Random(1))
    hosts = [host(f"h{i}") for i in range(4)] + [host("off", enabled=False), host("full", memory_mb_used=8192)]
    seen = Counter(s.select_destinations(spec(), hosts)[0].host for _ in range(200))
    assert set(seen) == {"h0", "h1", "h2", "h3"}
    assert min(seen.values()) > 20  # roughly uniform


def test_multi_create_fills_then_fails() -> None:
    s = ChanceScheduler(PluginContext(CONF), rng=random.Random(2))
    hosts = [host("a", memory_mb=1024), host("b", memory_mb=512)]
    picks = s.select_destinations(spec(3), hosts)
    assert Counter(p.host for p in picks) == {"a": 2, "b": 1}
    with pytest.raises(NoValidHost, match="instance 4 of 4"):
        s.select_destinations(spec(4), hosts)


def test_honours_availability_zone() -> None:
    s = ChanceScheduler(PluginContext(CONF))
    hosts = [host("a"), host("b", availability_zone="az2")]
    assert {s.select_destinations(spec(availability_zone="az2"), hosts)[0].host for _ in range(20)} == {"b"}


def test_loaded_by_name() -> None:
    assert isinstance(registry.load_plugin("scheduler", "chance", PluginContext(CONF)), ChanceScheduler)
