"""What each filter keeps and removes."""

from __future__ import annotations

from typing import Any

import pytest
from cumulo_scheduler_filter import extra_specs_ops
from cumulo_scheduler_filter import filters as f

from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo.testing.conformance.scheduler import host, spec


def names(flt: Any, hosts: list[Any], s: Any) -> list[str]:
    out = [h.host for h in flt.filter_all(hosts, s)]
    assert out == [h.host for h in hosts if flt.host_passes(h, s)]
    return out


def test_compute_filter() -> None:
    hosts = [host("a"), host("off", enabled=False), host("down", up=False)]
    assert names(f.ComputeFilter(PluginContext(CONF)), hosts, spec()) == ["a"]


def test_ram_filter_uses_allocation_ratio() -> None:
    hosts = [host("a", memory_mb=1000, ram_allocation_ratio=1.5, memory_mb_used=900),  # 600 free
             host("b", memory_mb=1000, ram_allocation_ratio=1.0, memory_mb_used=900)]  # 100 free
    flavor = {"vcpus": 1, "ram": 600, "disk": 0}
    assert names(f.RamFilter(PluginContext(CONF)), hosts, spec(flavor=flavor)) == ["a"]
    assert names(f.RamFilter(PluginContext(CONF)), hosts, spec(flavor={**flavor, "ram": 601})) == []


def test_vcpu_filter_ratio_and_no_self_overcommit() -> None:
    hosts = [host("a", vcpus=4, cpu_allocation_ratio=4.0, vcpus_used=12),  # 4 free
             host("b", vcpus=2, cpu_allocation_ratio=16.0)]  # 32 free but only 2 physical
    assert names(f.VcpuFilter(PluginContext(CONF)), hosts, spec(flavor={"vcpus": 4, "ram": 1, "disk": 0})) == ["a"]
    assert names(f.VcpuFilter(PluginContext(CONF)), hosts, spec(flavor={"vcpus": 2, "ram": 1, "disk": 0})) == ["a", "b"]


def test_disk_filter_counts_ephemeral() -> None:
    hosts = [host("a", local_gb=30, local_gb_used=10), host("b", local_gb=40, disk_allocation_ratio=1.0)]
    s = spec(flavor={"vcpus": 1, "ram": 1, "disk": 15, "ephemeral": 10})
    assert names(f.DiskFilter(PluginContext(CONF)), hosts, s) == ["b"]


def test_availability_zone_filter() -> None:
    hosts = [host("a", availability_zone="nova"), host("b", availability_zone="az2")]
    assert names(f.AvailabilityZoneFilter(PluginContext(CONF)), hosts, spec(availability_zone="az2")) == ["b"]
    assert names(f.AvailabilityZoneFilter(PluginContext(CONF)), hosts, spec()) == ["a", "b"]
    assert names(f.AvailabilityZoneFilter(PluginContext(CONF)), hosts, spec(availability_zone="nowhere")) == []


@pytest.mark.parametrize(("props", "expected"), [
    ({}, ["x86", "arm", "bare", "unknown"]),
    ({"hw_architecture": "x86_64"}, ["x86", "bare", "unknown"]),
    ({"architecture": "amd64"}, ["x86", "bare", "unknown"]),  # legacy name, alias
    ({"hw_architecture": "aarch64", "img_hv_type": "qemu"}, ["arm", "unknown"]),
    ({"img_hv_type": "fake", "hw_vm_mode": "hvm"}, ["x86", "unknown"]),
    ({"hypervisor_type": "xen"}, ["unknown"]),
    ({"properties": {"hw_architecture": "aarch64"}}, ["arm", "unknown"]),  # nested Glance form
    ({"img_hv_requested_version": ">=2.0"}, ["arm", "bare", "unknown"]),
    ({"img_hv_requested_version": ">= 1.0, <2"}, ["x86", "bare", "unknown"]),
])
def test_image_properties_filter(props: dict[str, Any], expected: list[str]) -> None:
    hosts = [
        host("x86", capabilities={"supported_instances": [["x86_64", "fake", "hvm"]], "hypervisor_version": 1000}),
        host("arm", capabilities={"supported_instances": [["aarch64", "qemu", "hvm"]], "hypervisor_version": 2000}),
        host("bare", hypervisor_type="kvm", capabilities={"cpu_info": {"arch": "x86_64"}}),  # no triples
        host("unknown", hypervisor_type="", capabilities={}),  # reports nothing: matches anything
    ]
    assert names(f.ImagePropertiesFilter(PluginContext(CONF)), hosts, spec(image=props)) == expected


@pytest.mark.parametrize(("have", "req", "ok"), [
    (1000, ">=1.0", True), (1000, ">1.0", False), (2003004, "==2.3.4", True), ("6.1", ">=6.0, <7", True),
    ("7", ">=6.0, <7", False), (1000, "garbage", False), ("x.y", ">=1", False),
])
def test_version_satisfies(have: Any, req: str, ok: bool) -> None:
    assert f.version_satisfies(have, req) is ok


def test_affinity_filter() -> None:
    hosts = [host("a"), host("b")]
    flt = f.ServerGroupAffinityFilter(PluginContext(CONF))
    assert names(flt, hosts, spec(instance_group={"policy": "affinity", "hosts": [], "members": []})) == ["a", "b"]
    assert names(flt, hosts, spec(instance_group={"policy": "affinity", "hosts": ["b"], "members": ["x"]})) == ["b"]
    # another policy: not this filter's business
    assert names(flt, hosts, spec(instance_group={"policy": "anti-affinity", "hosts": ["b"]})) == ["a", "b"]


def test_anti_affinity_filter_and_max_server_per_host() -> None:
    hosts = [host("a"), host("b"), host("c")]
    flt = f.ServerGroupAntiAffinityFilter(PluginContext(CONF))
    g = {"policy": "anti-affinity", "hosts": ["a", "b", "b"], "members": ["1", "2", "3"]}
    assert names(flt, hosts, spec(instance_group=g)) == ["c"]
    g2 = {**g, "rules": {"max_server_per_host": 2}}
    assert names(flt, hosts, spec(instance_group=g2)) == ["a", "c"]
    legacy = {"policies": ["anti-affinity"], "hosts": ["a"], "members": ["1"]}
    assert names(flt, hosts, spec(instance_group=legacy)) == ["b", "c"]


def test_same_and_different_host_hints() -> None:
    hosts = [host("a", instances={"i1", "i2"}), host("b", instances={"i3"}), host("c")]
    assert names(f.SameHostFilter(PluginContext(CONF)), hosts, spec(scheduler_hints={"same_host": ["i3", "zz"]})) == ["b"]
    assert names(f.SameHostFilter(PluginContext(CONF)), hosts, spec(scheduler_hints={"same_host": "i1"})) == ["a"]
    assert names(f.DifferentHostFilter(PluginContext(CONF)), hosts, spec(scheduler_hints={"different_host": ["i1", "i3"]})) == ["c"]
    assert names(f.DifferentHostFilter(PluginContext(CONF)), hosts, spec(scheduler_hints={})) == ["a", "b", "c"]


def test_aggregate_instance_extra_specs_filter() -> None:
    ssd = {"id": 1, "name": "fast", "metadata": {"ssd": "true", "gpus": "4"}}
    hdd = {"id": 2, "name": "slow", "metadata": {"ssd": "false"}}
    hosts = [host("a", aggregates=[ssd]), host("b", aggregates=[hdd]), host("c"), host("d", aggregates=[hdd, ssd])]
    flt = f.AggregateInstanceExtraSpecsFilter(PluginContext(CONF))

    def flavor(extra: dict[str, str]) -> Any:
        return spec(flavor={"vcpus": 1, "ram": 1, "disk": 0, "extra_specs": extra})

    assert names(flt, hosts, flavor({"aggregate_instance_extra_specs:ssd": "true"})) == ["a", "d"]
    assert names(flt, hosts, flavor({"ssd": "false"})) == ["b", "d"]  # unscoped keys count too
    assert names(flt, hosts, flavor({"aggregate_instance_extra_specs:gpus": ">= 2"})) == ["a", "d"]
    assert names(flt, hosts, flavor({"hw:cpu_policy": "dedicated"})) == ["a", "b", "c", "d"]  # other scopes ignored
    assert names(flt, hosts, flavor({})) == ["a", "b", "c", "d"]


@pytest.mark.parametrize(("value", "req", "ok"), [
    ("4", "= 2", True), ("1", "= 2", False), ("4", "== 4", True), ("4", "!= 4", False),
    ("3", "<= 4", True), ("5", ">= 4", True), ("abc", "s== abc", True), ("abc", "s!= abc", False),
    ("b", "s> a", True), ("b", "s< a", False), ("avx sse", "<in> avx", True), ("sse", "<in> avx", False),
    ("a b c", "<all-in> a c", True), ("a b", "<all-in> a c", False),
    ("y", "<or> x <or> y", True), ("z", "<or> x <or> y", False), ("true", "true", True), ("True", "true", False),
    ("x", "= 2", False), (None, "true", False), (None, "= 1", False),
])
def test_extra_specs_ops(value: Any, req: str, ok: bool) -> None:
    assert extra_specs_ops.match(value, req) is ok
