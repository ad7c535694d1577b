"""The example plugin: discovered with no kernel change, and it filters as configured."""

from __future__ import annotations

import pytest

from cumulo import registry
from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.scheduler import HostState, RequestSpec
from cumulo.testing.conformance import RegistryConformance


class TestRegistry(RegistryConformance):
    kind = "scheduler.filters"
    plugin_name = "hostname"


@pytest.fixture
def hosts():
    return [HostState(host=name) for name in ("rack1-a", "rack1-b", "rack2-a")]


def test_default_passes_every_host(cumulo_conf, hosts):
    f = registry.load_plugin("scheduler.filters", "hostname", PluginContext(CONF))
    assert f.filter_all(hosts, RequestSpec(project_id="p", flavor={})) == hosts


def test_pattern_selects_hosts(cumulo_conf, hosts):
    f = registry.load_plugin("scheduler.filters", "hostname", PluginContext(CONF))
    cumulo_conf.set("pattern", r"rack1-.*", group="scheduler_hostname")
    spec = RequestSpec(project_id="p", flavor={})
    assert [h.host for h in f.filter_all(hosts, spec)] == ["rack1-a", "rack1-b"]
    assert f.host_passes(hosts[2], spec) is False
