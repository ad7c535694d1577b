"""The compute host's resources as the pool master reports them (``host``, ``host_metrics``, the SR)."""

from __future__ import annotations

from cumulo.interfaces.hypervisor import HostResources
from cumulo_hypervisor_xenserver.session import XapiClient

MiB, GiB = 1024 ** 2, 1024 ** 3


def version_number(text: str) -> int:
    """``"4.13.5"`` -> 4013005, the integer Nova reports as hypervisor_version."""
    parts = [int(p) if p.isdigit() else 0 for p in (text.split(".") + ["0", "0"])[:3]]
    return parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2]


def supported_instances(capabilities: list[str]) -> tuple[tuple[str, str, str], ...]:
    """``xen-3.0-x86_64`` -> (x86_64, xen, xen); ``hvm-3.0-x86_32p`` -> (i686, xen, hvm)."""
    found = []
    for cap in capabilities:
        mode, _, arch = cap.partition("-3.0-")
        if mode not in ("xen", "hvm") or not arch:
            continue
        arch = "i686" if arch.startswith("x86_32") else arch
        if (arch, "xen", mode) not in found:
            found.append((arch, "xen", mode))
    return tuple(found)


def resources(x: XapiClient, sr: str) -> HostResources:
    """The pool master's CPUs and memory, the SR's size and use, and the VCPUs of the guests it runs."""
    pool = x.call("pool.get_all")[0]
    host = x.call("pool.get_master", pool)
    rec = x.call("host.get_record", host)
    metrics = x.call("host_metrics.get_record", rec["metrics"])
    sr_rec = x.call("SR.get_record", sr)
    vcpus_used = 0
    for vm in rec["resident_VMs"]:
        vm_rec = x.call("VM.get_record", vm)
        if not vm_rec["is_control_domain"]:
            vcpus_used += int(vm_rec["VCPUs_at_startup"])
    total, free = int(metrics["memory_total"]), int(metrics["memory_free"])
    cpu = rec["cpu_info"]
    software = rec["software_version"]
    return HostResources(
        vcpus=int(cpu.get("cpu_count", "0")), memory_mb=total // MiB, local_gb=int(sr_rec["physical_size"]) // GiB,
        hypervisor_type="xen", hypervisor_version=version_number(software.get("xen", "0")),
        hypervisor_hostname=str(rec["hostname"] or rec["name_label"]),
        cpu_info={"arch": "x86_64", "vendor": cpu.get("vendor", ""), "model": cpu.get("modelname", ""),
                  "topology": {"sockets": int(cpu.get("socket_count", "1"))},
                  "product": f"{software.get('product_brand', 'XenServer')} {software.get('product_version', '')}"},
        vcpus_used=vcpus_used, memory_mb_used=(total - free) // MiB,
        local_gb_used=int(sr_rec["physical_utilisation"]) // GiB,
        supported_instances=supported_instances(list(rec["capabilities"])))
