"""This host as libvirt sees it: which virt_type to run, and the resources to report.

:func:`choose_virt_type` settles ``virt_type = auto``: ``kvm`` only when
``/dev/kvm`` opens read-write *and* ``/proc/cpuinfo`` shows VT-x or AMD-V
(``vmx``/``svm``). The build machines have a PVM-backed ``/dev/kvm`` that opens
but has neither flag, and a Debian kernel hangs under it; they get ``qemu``
(TCG). :func:`host_resources` reads the connection's node info and
capabilities and the instances filesystem.
"""

from __future__ import annotations

import dataclasses
import os
import xml.etree.ElementTree as ET
from typing import Any

import libvirt

from cumulo.interfaces.hypervisor import HostResources

DEV_KVM = "/dev/kvm"
CPUINFO = "/proc/cpuinfo"
#: Where a running libvirtd (or the modular virtqemud/virtlxcd) listens.
DAEMON_SOCKETS = ("/var/run/libvirt/libvirt-sock", "/var/run/libvirt/virtqemud-sock",
                  "/var/run/libvirt/virtlxcd-sock")


@dataclasses.dataclass(frozen=True)
class VirtChoice:
    """The virt_type the driver runs and the one-line reason (logged, and shown by ``config check``)."""

    virt_type: str
    reason: str


def cpu_flags(cpuinfo: str = CPUINFO) -> set[str]:
    """The CPU flags of ``/proc/cpuinfo`` (first ``flags`` line); empty when unreadable."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "flags":
                    return set(value.split())
    except OSError:
        pass
    return set()


def kvm_usable(dev_kvm: str = DEV_KVM) -> str | None:
    """None when ``dev_kvm`` opens read-write, else why not (one phrase)."""
    if not os.path.exists(dev_kvm):
        return f"{dev_kvm} does not exist"
    try:
        fd = os.open(dev_kvm, os.O_RDWR | os.O_CLOEXEC)
    except OSError as err:
        return f"{dev_kvm} cannot be opened read-write ({err.strerror})"
    os.close(fd)
    return None


def choose_virt_type(configured: str, dev_kvm: str = DEV_KVM, cpuinfo: str = CPUINFO) -> VirtChoice:
    """The virt_type to run for ``[libvirt] virt_type = configured`` and why.

    An explicit kvm, qemu or lxc is kept as asked (``validate_config`` reports a
    kvm that cannot work); ``auto`` becomes kvm only with a usable /dev/kvm and
    vmx/svm, else qemu.
    """
    if configured != "auto":
        return VirtChoice(configured, f"virt_type = {configured} as configured")
    problem = kvm_usable(dev_kvm)
    hw = cpu_flags(cpuinfo) & {"vmx", "svm"}
    if problem is None and hw:
        return VirtChoice("kvm", f"virt_type auto: kvm ({DEV_KVM} usable, CPU has {'/'.join(sorted(hw))})")
    if problem is None:
        why = f"{dev_kvm} opens but {cpuinfo} has no vmx/svm (a paravirtual KVM such as PVM, not VT-x/AMD-V)"
    else:
        why = problem
    return VirtChoice("qemu", f"virt_type auto: qemu (TCG emulation) because {why}")


def describe_choice(configured: str, dev_kvm: str = DEV_KVM, cpuinfo: str = CPUINFO) -> str:
    """One line for ``cumulo config check``: the virt_type this host runs and why."""
    return choose_virt_type(configured, dev_kvm, cpuinfo).reason


def _capabilities_facts(caps_xml: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """``(cpu_info, [(arch, os_type)...])`` from a libvirt capabilities document."""
    root = ET.fromstring(caps_xml)
    cpu = root.find("host/cpu")
    info: dict[str, Any] = {}
    if cpu is not None:
        info["arch"] = cpu.findtext("arch", "")
        info["model"] = cpu.findtext("model", "")
        info["vendor"] = cpu.findtext("vendor", "")
        topo = cpu.find("topology")
        if topo is not None:
            info["topology"] = {k: int(v) for k, v in topo.attrib.items() if v.isdigit()}
        info["features"] = sorted(f.get("name", "") for f in cpu.findall("feature") if f.get("name"))
    guests = []
    for guest in root.findall("guest"):
        arch = guest.find("arch")
        if arch is not None and arch.get("name"):
            guests.append((arch.get("name", ""), guest.findtext("os_type", "hvm")))
    return info, guests


def host_resources(conn: Any, virt_type: str, hostname: str, instances_path: str) -> HostResources:
    """The host's capacity from ``conn.getInfo()``, ``conn.getCapabilities()`` and the instances filesystem.

    ``vcpus``/``memory_mb`` are the node's logical CPUs and RAM; ``local_gb``
    the size of the filesystem holding ``instances_path`` and ``local_gb_used``
    what is used on it. vCPU and RAM use are left to the compute area (None),
    which counts its own instances.
    """
    _model, memory_mb, cpus, _mhz, _nodes, sockets, cores, threads = conn.getInfo()
    cpu_info, guests = _capabilities_facts(conn.getCapabilities())
    cpu_info.setdefault("topology", {"sockets": sockets, "cores": cores, "threads": threads})
    os.makedirs(instances_path, exist_ok=True)
    st = os.statvfs(instances_path)
    total_gb = st.f_blocks * st.f_frsize // 2**30
    free_gb = st.f_bavail * st.f_frsize // 2**30
    vm_mode = "exe" if virt_type == "lxc" else "hvm"
    supported = tuple(sorted({(arch, virt_type, vm_mode) for arch, os_type in guests
                              if os_type == vm_mode or virt_type != "lxc"}))
    return HostResources(
        vcpus=int(cpus), memory_mb=int(memory_mb), local_gb=int(total_gb),
        hypervisor_type="LXC" if virt_type == "lxc" else "QEMU",  # as Nova reports both qemu and kvm
        hypervisor_version=int(conn.getVersion() or 0), hypervisor_hostname=hostname,
        cpu_info=cpu_info, local_gb_used=max(int(total_gb - free_gb), 0), supported_instances=supported,
    )


def quiet_libvirt() -> None:
    """Stop libvirt printing every error on stderr: each one is raised as ``libvirtError`` too."""
    libvirt.registerErrorHandler(_ignore, None)


def _ignore(ctx: object, err: object) -> None:
    """libvirt's error handler: nothing."""


def config_problems(virt_type: str, uri: str, dev_kvm: str = DEV_KVM, cpuinfo: str = CPUINFO,
                    sockets: tuple[str, ...] = DAEMON_SOCKETS, startable: bool = False) -> list[str]:
    """One line per reason the driver cannot run ``virt_type`` on ``uri`` here (``validate_config``).

    kvm asked without a usable ``/dev/kvm`` or without vmx/svm; a local URI
    with no libvirtd socket (unless ``startable``: the all-in-one starts it,
    :mod:`.daemons`); a URI that does not answer a read-only connection.
    """
    problems = []
    if virt_type == "kvm":
        why = kvm_usable(dev_kvm)
        if why is None and not cpu_flags(cpuinfo) & {"vmx", "svm"}:
            why = f"{cpuinfo} has no vmx/svm (no VT-x/AMD-V)"
        if why:
            problems.append(f"[libvirt] virt_type = kvm but {why}; use qemu or auto")
    if uri.startswith(("qemu:///", "lxc:///")) and not any(os.path.exists(s) for s in sockets):
        if startable:
            return problems
        problems.append(f"libvirtd is not running: no socket at {sockets[0]} for {uri} "
                        "(start virtlogd -d, then libvirtd -d)")
        return problems
    quiet_libvirt()
    try:
        libvirt.openReadOnly(uri).close()
    except libvirt.libvirtError as err:
        problems.append(f"[libvirt] connection_uri {uri} is unreachable: {err.get_error_message()}")
    return problems
