"""Tests of :mod:`cumulo_hypervisor_libvirt.host`: the virt_type choice (fake /dev/kvm and cpuinfo) and resources."""

from __future__ import annotations

import os
from typing import Any

import libvirt
import pytest
from cumulo_hypervisor_libvirt import host


def cpuinfo(tmp_path: Any, flags: str) -> str:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse2 {flags}\n\n"
                    f"processor\t: 1\nflags\t\t: fpu\n")
    return str(path)


def dev(tmp_path: Any, mode: int | None) -> str:
    path = tmp_path / "kvm"
    if mode is not None:
        path.write_bytes(b"")
        path.chmod(mode)
    return str(path)


def test_auto_picks_kvm_with_hardware_virtualisation(tmp_path: Any) -> None:
    choice = host.choose_virt_type("auto", dev(tmp_path, 0o666), cpuinfo(tmp_path, "vmx"))
    assert choice.virt_type == "kvm" and "vmx" in choice.reason


def test_auto_picks_qemu_on_a_paravirtual_kvm(tmp_path: Any) -> None:
    """The build machines: /dev/kvm opens (PVM) but the CPU shows no vmx/svm."""
    choice = host.choose_virt_type("auto", dev(tmp_path, 0o666), cpuinfo(tmp_path, "sse4_2"))
    assert choice.virt_type == "qemu"
    assert "no vmx/svm" in choice.reason and "TCG" in choice.reason


def test_auto_picks_qemu_without_dev_kvm(tmp_path: Any) -> None:
    choice = host.choose_virt_type("auto", dev(tmp_path, None), cpuinfo(tmp_path, "svm"))
    assert choice.virt_type == "qemu" and "does not exist" in choice.reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root opens a file whatever its mode")
def test_auto_picks_qemu_when_dev_kvm_is_unreadable(tmp_path: Any) -> None:
    choice = host.choose_virt_type("auto", dev(tmp_path, 0o000), cpuinfo(tmp_path, "svm"))
    assert choice.virt_type == "qemu" and "cannot be opened" in choice.reason


@pytest.mark.parametrize("configured", ["kvm", "qemu", "lxc"])
def test_explicit_choice_is_kept(tmp_path: Any, configured: str) -> None:
    choice = host.choose_virt_type(configured, dev(tmp_path, None), cpuinfo(tmp_path, ""))
    assert choice.virt_type == configured
    assert host.describe_choice(configured) == f"virt_type = {configured} as configured"


def test_cpu_flags(tmp_path: Any) -> None:
    assert {"vmx", "sse2"} <= host.cpu_flags(cpuinfo(tmp_path, "vmx"))
    assert host.cpu_flags(str(tmp_path / "missing")) == set()


def test_config_problems(tmp_path: Any) -> None:
    kvm, info = dev(tmp_path, 0o666), cpuinfo(tmp_path, "")
    assert host.config_problems("qemu", "test:///default") == []
    [line] = host.config_problems("kvm", "test:///default", kvm, info)
    assert "no vmx/svm" in line
    [line] = host.config_problems("qemu", "qemu:///system", sockets=(str(tmp_path / "sock"),))
    assert "libvirtd is not running" in line
    [line] = host.config_problems("qemu", "test:///nonexistent.xml")
    assert "unreachable" in line


def test_host_resources_from_the_test_driver(tmp_path: Any) -> None:
    conn = libvirt.open("test:///default")
    res = host.host_resources(conn, "qemu", "node-1", str(tmp_path / "instances"))
    model, memory_mb, cpus, *_ = conn.getInfo()
    assert (res.vcpus, res.memory_mb) == (cpus, memory_mb)
    assert res.hypervisor_type == "QEMU" and res.hypervisor_hostname == "node-1"
    assert res.local_gb >= 0 and res.local_gb_used is not None
    assert res.cpu_info["arch"] == model
    assert res.supported_instances and all(t[1:] == ("qemu", "hvm") for t in res.supported_instances)
    lxc = host.host_resources(conn, "lxc", "node-1", str(tmp_path / "instances"))
    assert lxc.hypervisor_type == "LXC"
