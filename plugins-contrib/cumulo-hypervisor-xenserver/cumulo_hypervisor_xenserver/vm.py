"""VM records from flavors, the VMs of an instance, and their VBDs and VIFs.

An instance is the VM named ``instance.name`` whose ``other_config`` carries
``cumulo-instance-uuid``, ``cumulo-host`` (the compute host that owns it) and
``cumulo-role``: ``instance``; while rescued, a second VM ``<name>-rescue``
(role ``rescue``) runs; during a resize the original waits as ``<name>-orig``
(role ``resize-orig``) for the confirm or revert. Disks sit on userdevices as
Nova's XenAPI driver put them: root 0, config drive 3, ephemeral 4, volumes on
the first free one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from cumulo.interfaces.hypervisor import VIF, Flavor, HypervisorError, Instance, PowerState
from cumulo_hypervisor_xenserver.session import XapiClient, XapiError, is_code

MiB = 1024 ** 2
TAG_UUID, TAG_HOST, TAG_ROLE, TAG_PORT = "cumulo-instance-uuid", "cumulo-host", "cumulo-role", "cumulo-port-id"
TAG_NETWORK = "cumulo-network-id"
INSTANCE, RESCUE, RESIZE_ORIG = "instance", "rescue", "resize-orig"
SUFFIX = {INSTANCE: "", RESCUE: "-rescue", RESIZE_ORIG: "-orig"}
ROOT, RESCUE_OF_ROOT, CONFIG_DRIVE, EPHEMERAL = "0", "1", "3", "4"
MAX_USERDEVICE = 15

#: XAPI's VM power_state -> the interface's.
POWER_STATES: Mapping[str, PowerState] = {
    "Running": PowerState.RUNNING, "Paused": PowerState.PAUSED, "Halted": PowerState.SHUTDOWN,
    "Suspended": PowerState.SUSPENDED, "Crashed": PowerState.CRASHED,
}


def name_of(instance: Instance, role: str) -> str:
    return instance.name + SUFFIX[role]


def record(instance: Instance, flavor: Flavor, host: str, role: str, properties: Mapping[str, str]) -> dict[str, Any]:
    """The ``VM.create`` record: memory fixed at the flavor's (static = dynamic), VCPUs, HVM or PV boot."""
    memory = str(flavor.memory_mb * MiB)
    pv = properties.get("vm_mode") == "xen"
    return {
        "name_label": name_of(instance, role), "name_description": f"Cumulo instance {instance.uuid}",
        "user_version": "1", "is_a_template": False, "affinity": "OpaqueRef:NULL",
        "memory_static_min": memory, "memory_static_max": memory, "memory_dynamic_min": memory,
        "memory_dynamic_max": memory, "VCPUs_params": {}, "VCPUs_max": str(flavor.vcpus),
        "VCPUs_at_startup": str(flavor.vcpus), "actions_after_shutdown": "destroy",
        "actions_after_reboot": "restart", "actions_after_crash": "destroy",
        "PV_bootloader": "pygrub" if pv else "", "PV_kernel": "", "PV_ramdisk": "",
        "PV_args": "console=hvc0" if pv else "", "PV_bootloader_args": "", "PV_legacy_args": "",
        "HVM_boot_policy": "" if pv else "BIOS order", "HVM_boot_params": {} if pv else {"order": "dc"},
        "platform": {"acpi": "1", "apic": "true", "pae": "true", "nx": "true", "viridian": "false",
                     "timeoffset": "0"},
        "PCI_bus": "", "recommendations": "", "xenstore_data": {}, "tags": [],
        "other_config": {TAG_UUID: instance.uuid, TAG_HOST: host, TAG_ROLE: role},
    }


def find(x: XapiClient, instance: Instance, role: str = INSTANCE) -> str | None:
    """The instance's VM in ``role``, or None."""
    for ref in x.call("VM.get_by_name_label", name_of(instance, role)):
        try:
            other = x.call("VM.get_other_config", ref)
        except XapiError as err:
            if is_code(err, "HANDLE_INVALID"):
                continue  # destroyed between the two calls
            raise
        if other.get(TAG_UUID) == instance.uuid and other.get(TAG_ROLE) == role:
            return str(ref)
    return None


def set_role(x: XapiClient, vm: str, instance: Instance, role: str, host: str) -> None:
    """Rename ``vm`` and retag it (resize keeps the original as ``-orig``, a revert gives it back)."""
    x.call("VM.set_name_label", vm, name_of(instance, role))
    other = dict(x.call("VM.get_other_config", vm))
    other.update({TAG_ROLE: role, TAG_HOST: host})
    x.call("VM.set_other_config", vm, other)


def power_state(x: XapiClient, vm: str) -> PowerState:
    return POWER_STATES.get(str(x.call("VM.get_power_state", vm)), PowerState.NOSTATE)


def create_vbd(x: XapiClient, vm: str, vdi: str, userdevice: str, bootable: bool = False, mode: str = "RW",
               kind: str = "Disk") -> str:
    return str(x.call("VBD.create", {
        "VM": vm, "VDI": vdi, "userdevice": userdevice, "bootable": bootable, "mode": mode, "type": kind,
        "empty": False, "unpluggable": True, "other_config": {}, "qos_algorithm_type": "",
        "qos_algorithm_params": {}}))


def plug(x: XapiClient, cls: str, ref: str, vm: str) -> None:
    """Hot-plug a new VBD or VIF when its VM runs (a halted VM attaches it at its next start)."""
    if x.call("VM.get_power_state", vm) == "Running":
        x.call_async(f"{cls}.plug", ref)


def unplug_and_destroy(x: XapiClient, cls: str, ref: str) -> None:
    """Unplug (when attached) and destroy a VBD or VIF; one already gone is fine."""
    try:
        if x.call(f"{cls}.get_currently_attached", ref):
            with contextlib.suppress(XapiError):  # DEVICE_ALREADY_DETACHED: someone was quicker
                x.call_async(f"{cls}.unplug", ref)
        x.call(f"{cls}.destroy", ref)
    except XapiError as err:
        if not is_code(err, "HANDLE_INVALID"):
            raise


def disks(x: XapiClient, vm: str) -> dict[str, str]:
    """userdevice -> VDI of the VM's disk VBDs (empty drives left out)."""
    found = {}
    for vbd in x.call("VM.get_VBDs", vm):
        rec = x.call("VBD.get_record", vbd)
        if rec["VDI"] != "OpaqueRef:NULL":
            found[str(rec["userdevice"])] = str(rec["VDI"])
    return found


def free_userdevice(x: XapiClient, vm: str, wanted: str | None = None) -> str:
    """``wanted`` when it is free, else the lowest free userdevice above the config drive's."""
    taken = {str(x.call("VBD.get_userdevice", v)) for v in x.call("VM.get_VBDs", vm)}
    if wanted is not None and wanted not in taken:
        return wanted
    for n in range(1, MAX_USERDEVICE + 1):
        if str(n) not in taken and str(n) not in (CONFIG_DRIVE, EPHEMERAL):
            return str(n)
    raise HypervisorError(f"VM {vm}: no free disk slot (XenServer has {MAX_USERDEVICE + 1})")


def device_name(userdevice: str) -> str:
    """The guest's name for a userdevice: 0 -> /dev/xvda, 1 -> /dev/xvdb..."""
    return "/dev/xvd" + chr(ord("a") + int(userdevice))


def userdevice_of(device: str | None) -> str | None:
    """``/dev/xvdb`` (or vdb, sdb) -> "1"; None for anything else."""
    if not device:
        return None
    tail = device.rsplit("/", 1)[-1]
    if len(tail) >= 3 and tail[-1].isalpha() and tail[:-1] in ("xvd", "vd", "sd", "hd"):
        n = ord(tail[-1]) - ord("a")
        return str(n) if 0 < n <= MAX_USERDEVICE else None
    return None


# -- networks and VIFs -------------------------------------------------------------------------------
def network_for(x: XapiClient, vif: VIF, default: str) -> str:
    """The XenServer network of a port: the one whose bridge (or name_label) is the port's bridge, else the
    one tagged ``other_config:cumulo-network-id`` with its network, else ``default`` (bridge or name_label).

    :raises HypervisorError: none matches.
    """
    networks = x.call("network.get_all_records")
    for want, match in ((vif.bridge, lambda r, w: w in (r["bridge"], r["name_label"])),
                        (vif.network_id, lambda r, w: r["other_config"].get(TAG_NETWORK) == w),
                        (default, lambda r, w: w in (r["bridge"], r["name_label"]))):
        if not want:
            continue
        for ref, rec in networks.items():
            if match(rec, want):
                return str(ref)
    raise HypervisorError(f"port {vif.id}: no XenServer network has bridge {vif.bridge or '-'} or "
                          f"other_config:{TAG_NETWORK}={vif.network_id}, and [xenserver] default_network "
                          f"({default or 'unset'}) matches none")


def vifs_by_port(x: XapiClient, vm: str) -> dict[str, str]:
    """Port id -> VIF ref, for the VM's VIFs this driver made."""
    found = {}
    for ref in x.call("VM.get_VIFs", vm):
        port = x.call("VIF.get_other_config", ref).get(TAG_PORT)
        if port:
            found[str(port)] = str(ref)
    return found


def create_vif(x: XapiClient, vm: str, vif: VIF, default_network: str) -> str:
    """A VIF for ``vif`` on the VM's lowest free device number."""
    network = network_for(x, vif, default_network)
    taken = {str(x.call("VIF.get_device", v)) for v in x.call("VM.get_VIFs", vm)}
    device = next(str(n) for n in range(64) if str(n) not in taken)
    return str(x.call("VIF.create", {
        "device": device, "network": network, "VM": vm, "MAC": vif.mac_address,
        "MTU": str(vif.mtu or 1500), "other_config": {TAG_PORT: vif.id}, "qos_algorithm_type": "",
        "qos_algorithm_params": {}, "locking_mode": "network_default"}))
