"""The plugin registry: discovery, loading, and every error path the kernel issue names."""

from __future__ import annotations

import pytest

from cumulo import registry
from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.scheduler import HostFilter

GOOD = """
from cumulo.interfaces.scheduler import HostFilter

class EvenFilter(HostFilter):
    interface_version = "2.0"
    def host_passes(self, host, spec):
        return True
"""


def _dist(fake_distribution, source, target="mod:EvenFilter", name="even", dist="demo-plugins"):
    return fake_distribution(dist, {"cumulo.scheduler.filters": {name: target}}, {"mod": source})


def test_every_kind_has_a_namespace_and_an_interface():
    expected = {"cumulo.api", "cumulo.auth", "cumulo.scheduler", "cumulo.scheduler.filters",
                "cumulo.scheduler.weighers", "cumulo.hypervisor", "cumulo.network", "cumulo.volume",
                "cumulo.image", "cumulo.object", "cumulo.cli"}
    assert expected <= {k.namespace for k in registry.KINDS.values()}
    for kind in registry.KINDS.values():
        iface = kind.interface_class()
        assert iface.INTERFACE_VERSION.count(".") == 1


def test_load_plugin_builds_with_context_and_lists_distribution(fake_distribution):
    _dist(fake_distribution, GOOD)
    ctx = PluginContext(CONF, host="h1")
    plugin = registry.load_plugin("scheduler.filters", "even", ctx)
    assert isinstance(plugin, HostFilter)
    assert plugin.ctx.kind == "scheduler.filters" and plugin.ctx.name == "even" and plugin.ctx.host == "h1"
    assert plugin.conf is CONF
    info = [p for p in registry.installed("scheduler.filters") if p.name == "even"]
    assert info and info[0].distribution == "demo-plugins" and info[0].version == "0.1"
    assert info[0].target == "mod:EvenFilter"


def test_load_plugins_keeps_order(fake_distribution):
    source = GOOD + "\nclass OddFilter(EvenFilter):\n    interface_version = '2.0'\n"
    fake_distribution("demo-two", {"cumulo.scheduler.filters": {"even": "mod:EvenFilter", "odd": "mod:OddFilter"}},
                      {"mod": source})
    loaded = registry.load_plugins("scheduler.filters", ["odd", "even"], PluginContext(CONF))
    assert [type(p).__name__ for p in loaded] == ["OddFilter", "EvenFilter"]


def test_unknown_name_lists_available(fake_distribution):
    _dist(fake_distribution, GOOD)
    with pytest.raises(registry.PluginError) as err:
        registry.load_plugin("scheduler.filters", "nope", PluginContext(CONF))
    message = str(err.value)
    assert "No scheduler.filters plugin named 'nope'" in message and "even" in message
    assert "\n" not in message


def test_unknown_kind_lists_kinds():
    with pytest.raises(registry.PluginError, match="Unknown plugin kind 'teleporter'.*hypervisor"):
        registry.installed("teleporter")


def test_import_failure_names_distribution_and_cause(fake_distribution):
    _dist(fake_distribution, "import module_that_does_not_exist_anywhere\n")
    with pytest.raises(registry.PluginError) as err:
        registry.load_plugin("scheduler.filters", "even", PluginContext(CONF))
    message = str(err.value)
    assert "demo-plugins 0.1" in message
    assert "module_that_does_not_exist_anywhere" in message and "ModuleNotFoundError" in message


def test_missing_methods_are_named(fake_distribution):
    source = """
from cumulo.interfaces.scheduler import HostFilter

class EvenFilter(HostFilter):
    interface_version = "2.0"
"""
    _dist(fake_distribution, source)
    with pytest.raises(registry.PluginError, match="does not implement HostFilter: missing host_passes"):
        registry.load_plugin("scheduler.filters", "even", PluginContext(CONF))


def test_duck_typed_class_missing_methods_is_refused(fake_distribution):
    _dist(fake_distribution, "class EvenFilter:\n    interface_version = '2.0'\n")
    with pytest.raises(registry.PluginError, match="missing host_passes"):
        registry.load_class("scheduler.filters", "even")


@pytest.mark.parametrize("declared, accepted", [("2.0", True), ("2.9", False), ("3.0", False), ("1.0", False)])
def test_interface_version_compatibility(fake_distribution, declared, accepted):
    _dist(fake_distribution, GOOD.replace('interface_version = "2.0"', f'interface_version = "{declared}"'))
    if accepted:
        registry.load_class("scheduler.filters", "even")
    else:
        with pytest.raises(registry.PluginError, match=f"written for HostFilter {declared}, but this kernel provides 2.0"):
            registry.load_class("scheduler.filters", "even")


def test_undeclared_version_is_refused(fake_distribution):
    _dist(fake_distribution, GOOD.replace('    interface_version = "2.0"\n', ""))
    with pytest.raises(registry.PluginError, match="does not declare interface_version"):
        registry.load_class("scheduler.filters", "even")


@pytest.mark.parametrize("requires, accepted", [
    ((), True),                                   # names no kernel: not checked
    (("cumulo>=0.1,<0.2",), True),
    (("cumulo>=0.2,<0.3",), False),
    (("cumulo<0.1",), False),
    (("cumulo>=0.2; extra == 'docs'",), True),    # only for an extra: not a requirement of the plugin
    (("requests>=2", "Cumulo>=0.1"), True),       # names are compared canonically
])
def test_kernel_range_checked_at_load(fake_distribution, requires, accepted):
    fake_distribution("ranged-plugin", {"cumulo.scheduler.filters": {"even": "mod:EvenFilter"}}, {"mod": GOOD},
                      requires=requires)
    if accepted:
        assert registry.load_class("scheduler.filters", "even").__name__ == "EvenFilter"
    else:
        import cumulo

        with pytest.raises(registry.PluginError, match=rf"ranged-plugin 0.1 supports cumulo.*this kernel is "
                                                        rf"{cumulo.__version__}"):
            registry.load_class("scheduler.filters", "even")


def test_bundled_plugins_accept_this_kernel():
    import importlib.metadata

    checked = set()
    for info in registry.installed():
        if info.distribution.startswith("cumulo-") and info.distribution not in checked:
            dist = importlib.metadata.distribution(info.distribution)
            assert any(r.startswith("cumulo") for r in dist.requires or []), info.distribution
            registry.check_kernel_range(info.kind, info.name, dist)  # raises if its range excluded us
            checked.add(info.distribution)
    assert len(checked) >= 15


def test_describe_shows_options_and_versions(fake_distribution):
    source = GOOD + """
from oslo_config import cfg

class Configured(EvenFilter):
    interface_version = "2.0"
    @classmethod
    def list_opts(cls):
        return [("filter_even", [cfg.IntOpt("modulus", default=2, help="Divide by this.")])]
"""
    _dist(fake_distribution, source, target="mod:Configured")
    d = registry.describe("scheduler.filters", "even")
    assert d["distribution"] == "demo-plugins" and d["interface_version"] == "2.0"
    assert d["options"] == [{"group": "filter_even", "name": "modulus", "type": "Integer", "default": 2,
                             "help": "Divide by this."}]


def test_plugin_options_registered_on_load(fake_distribution, cumulo_conf):
    source = GOOD + """
from oslo_config import cfg

class Configured(EvenFilter):
    interface_version = "2.0"
    @classmethod
    def list_opts(cls):
        return [("filter_even2", [cfg.IntOpt("modulus", default=3, help="Divide by this.")])]
"""
    _dist(fake_distribution, source, target="mod:Configured")
    registry.load_plugin("scheduler.filters", "even", PluginContext(CONF))
    assert CONF.filter_even2.modulus == 3


def test_a_plugin_that_cannot_be_built_with_ctx_is_refused(fake_distribution):
    source = GOOD + """
class NoContext(EvenFilter):
    interface_version = "2.0"
    def __init__(self, conf, extra):
        pass
"""
    _dist(fake_distribution, source, target="mod:NoContext")
    with pytest.raises(registry.PluginError, match=r"__init__\(\): parameter 1 must be 'ctx'"):
        registry.load_class("scheduler.filters", "even")
