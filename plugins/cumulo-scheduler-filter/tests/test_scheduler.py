"""The filter scheduler: choosing, weighing, multi-instance requests, messages, options."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from cumulo_scheduler_filter.scheduler import FilterScheduler

from cumulo import registry
from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.scheduler import NoValidHost
from cumulo.testing.conformance.scheduler import host, spec


@pytest.fixture
def override() -> Iterator[object]:
    registry.register_plugin_opts(FilterScheduler, CONF)  # the options are the plugin's: known once it loads
    done: list[tuple[str, str]] = []

    def set_(name: str, value: object, group: str) -> None:
        CONF.set_override(name, value, group=group)
        done.append((name, group))

    yield set_
    for name, group in done:
        CONF.clear_override(name, group=group)


def sched() -> FilterScheduler:
    return FilterScheduler(PluginContext(CONF))


def test_message_names_the_filter_and_the_trail() -> None:
    hosts = [host("a"), host("b", availability_zone="az2", memory_mb=256)]
    with pytest.raises(NoValidHost) as info:
        sched().select_destinations(spec(availability_zone="az2"), hosts)
    text = str(info.value)
    assert text.startswith("No valid host was found.")
    assert "Filter 'ram' removed the last 1 host(s)" in text
    assert "availability_zone 2->1" in text


def test_message_names_the_instance_of_a_multi_create() -> None:
    with pytest.raises(NoValidHost, match="instance 3 of 3"):
        sched().select_destinations(spec(3), [host("a", memory_mb=1024)])


def test_prefers_most_free_resources() -> None:
    hosts = [host("busy", memory_mb_used=6000, vcpus_used=6), host("idle")]
    assert sched().select_destinations(spec(), hosts)[0].host == "idle"


def test_negative_multipliers_stack(override: object) -> None:
    for opt in ("ram_weight_multiplier", "cpu_weight_multiplier", "disk_weight_multiplier"):
        override(opt, -1.0, "scheduler_filter")
    hosts = [host("busy", memory_mb_used=6000, vcpus_used=4), host("idle")]  # room for 4 more
    picks = sched().select_destinations(spec(4), hosts)
    assert [p.host for p in picks] == ["busy"] * 4


def test_spreads_a_multi_create_over_equal_hosts() -> None:
    hosts = [host(f"h{i}") for i in range(4)]
    picks = sched().select_destinations(spec(8), hosts)
    assert Counter(p.host for p in picks) == {"h0": 2, "h1": 2, "h2": 2, "h3": 2}
    # the second pick of a host is a copy that consumed both instances
    last_h0 = [p for p in picks if p.host == "h0"][-1]
    assert last_h0.memory_mb_used == 1024 and len(last_h0.instances) == 2


def test_anti_affinity_across_instances_of_one_request() -> None:
    hosts = [host("a"), host("b"), host("c")]
    group = {"policy": "anti-affinity", "hosts": [], "members": []}
    picks = sched().select_destinations(spec(3, instance_group=group), hosts)
    assert sorted(p.host for p in picks) == ["a", "b", "c"]
    with pytest.raises(NoValidHost, match="server_group_anti_affinity"):
        sched().select_destinations(spec(4, instance_group=group), hosts)
    assert group == {"policy": "anti-affinity", "hosts": [], "members": []}  # spec not mutated


def test_affinity_keeps_a_multi_create_together() -> None:
    hosts = [host("a"), host("b", memory_mb=16384)]
    picks = sched().select_destinations(spec(3, instance_group={"policy": "affinity", "hosts": [], "members": []}),
                                        hosts)
    assert len({p.host for p in picks}) == 1
    # and follows existing members
    picks = sched().select_destinations(spec(2, instance_group={"policy": "affinity", "hosts": ["a"]}), hosts)
    assert {p.host for p in picks} == {"a"}


def test_soft_affinity_prefers_members_but_does_not_fail() -> None:
    hosts = [host("a", memory_mb=2048), host("b", memory_mb=16384)]
    group = {"policy": "soft-affinity", "hosts": ["a"], "members": ["m"]}
    picks = sched().select_destinations(spec(5, instance_group=group), hosts)
    hosts_used = [p.host for p in picks]
    assert hosts_used[:4] == ["a"] * 4  # a fits 4 x 512 MiB, b is emptier but a has the member
    assert hosts_used[4] == "b"  # a is full: soft, so b


def test_soft_anti_affinity_spreads_even_against_free_resources() -> None:
    hosts = [host("big", memory_mb=65536, vcpus=64, local_gb=1000), host("small1"), host("small2")]
    group = {"policy": "soft-anti-affinity", "hosts": [], "members": []}
    picks = sched().select_destinations(spec(3, instance_group=group), hosts)
    assert sorted(p.host for p in picks) == ["big", "small1", "small2"]
    picks = sched().select_destinations(spec(4, instance_group=group), hosts)  # more than hosts: still works
    assert len(picks) == 4


def test_host_subset_size_randomises_among_the_best(override: object) -> None:
    override("host_subset_size", 3, "scheduler")
    hosts = [host(f"h{i}") for i in range(5)] + [host("worst", memory_mb_used=8000, vcpus_used=7)]
    chosen = {sched().select_destinations(spec(), hosts)[0].host for _ in range(60)}
    assert len(chosen) > 1 and "worst" not in chosen


def test_enabled_filters_and_weighers_come_from_config(override: object) -> None:
    override("enabled_filters", ["ram"], "scheduler")
    override("weighers", [], "scheduler")
    s = sched()
    assert [n for n, _ in s.filters] == ["ram"] and s.weighers == []
    # a disabled host passes when 'compute' is not enabled
    assert s.select_destinations(spec(), [host("off", enabled=False)])[0].host == "off"


def test_unknown_filter_name_lists_what_is_installed(override: object) -> None:
    override("enabled_filters", ["ram", "nope"], "scheduler")
    with pytest.raises(registry.PluginError, match="nope.*available:.*availability_zone"):
        sched()


def test_loaded_by_registry_name() -> None:
    assert isinstance(registry.load_plugin("scheduler", "filter", PluginContext(CONF)), FilterScheduler)


def test_options_listed() -> None:
    groups = {g: {o.dest for o in opts} for g, opts in FilterScheduler.list_opts()}
    assert groups == {
        "scheduler": {"enabled_filters", "weighers", "host_subset_size"},
        "scheduler_filter": {"ram_weight_multiplier", "cpu_weight_multiplier", "disk_weight_multiplier",
                             "soft_affinity_weight_multiplier", "soft_anti_affinity_weight_multiplier"},
    }


def test_options_are_the_plugins_not_the_kernels() -> None:
    """The scheduler area declares what it reads, this plugin the rest of [scheduler]; the kernel none of it."""
    from cumulo_scheduler_filter.scheduler import list_opts

    from cumulo import conf as cumulo_conf
    from cumulo import registry

    assert not [g for g, _ in cumulo_conf.list_opts() if g == "scheduler"]
    area = registry.load_class("service", "scheduler")
    assert {o.dest for g, opts in area.list_opts() if g == "scheduler" for o in opts} == {"driver", "claim_timeout"}
    assert {o.dest for g, opts in list_opts() if g == "scheduler" for o in opts} == {
        "enabled_filters", "weighers", "host_subset_size"}


def test_config_naming_the_options_passes_the_check(tmp_path: Any) -> None:
    from oslo_config import cfg

    from cumulo import conf as cumulo_conf
    from cumulo.cmd import config as check

    path = tmp_path / "c.conf"
    path.write_text("[scheduler]\ndriver = filter\nenabled_filters = ram,compute\nweighers = ram\n"
                    "host_subset_size = 2\n[scheduler_filter]\nram_weight_multiplier = -1.0\n")
    conf = cfg.ConfigOpts()
    cumulo_conf.register(conf)
    cumulo_conf.load(config_files=[str(path)], conf=conf)
    assert check.run_checks(conf, check_database=False) == []
    assert conf.scheduler.enabled_filters == ["ram", "compute"] and conf.scheduler.host_subset_size == 2


def test_bench_command_reports_rows() -> None:
    from cumulo_scheduler_filter import bench

    rows = bench.run([200], runs=3)
    assert [r[0] for r in rows] == [200, 200]
    assert all(r[3] > 0 and r[4] >= r[3] for r in rows)
