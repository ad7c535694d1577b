"""The filter scheduler, each filter and each weigher against the conformance suites."""

from __future__ import annotations

from typing import Any

import pytest
from cumulo_scheduler_filter.scheduler import FilterScheduler

from cumulo import registry
from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo.testing.conformance.scheduler import HostFilterConformance, HostWeigherConformance, SchedulerConformance

FILTERS = ["compute", "ram", "vcpu", "disk", "availability_zone", "image_properties", "server_group_affinity",
           "server_group_anti_affinity", "same_host", "different_host", "aggregate_instance_extra_specs"]
WEIGHERS = ["ram", "cpu", "disk", "soft_affinity", "soft_anti_affinity"]


class TestFilterScheduler(SchedulerConformance):
    plugin_name = "filter"

    @pytest.fixture
    def scheduler(self) -> FilterScheduler:
        return FilterScheduler(PluginContext(CONF))


def _filter_case(name: str) -> type:
    def host_filter(self: Any) -> Any:
        return registry.load_plugin("scheduler.filters", name, PluginContext(CONF))

    return type(f"TestFilter_{name}", (HostFilterConformance,),
                {"plugin_name": name, "host_filter": pytest.fixture(host_filter)})


def _weigher_case(name: str) -> type:
    def weigher(self: Any) -> Any:
        return registry.load_plugin("scheduler.weighers", name, PluginContext(CONF))

    return type(f"TestWeigher_{name}", (HostWeigherConformance,),
                {"plugin_name": name, "weigher": pytest.fixture(weigher)})


for _name in FILTERS:
    globals()[f"TestFilter_{_name}"] = _filter_case(_name)
for _name in WEIGHERS:
    globals()[f"TestWeigher_{_name}"] = _weigher_case(_name)


def test_every_entry_point_is_covered() -> None:
    assert set(registry.names("scheduler.filters")) >= set(FILTERS)
    assert set(registry.names("scheduler.weighers")) >= set(WEIGHERS)
