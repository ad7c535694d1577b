"""The domain XML of an instance, built and read with :mod:`xml.etree.ElementTree`.

:func:`domain_xml` turns an :class:`~cumulo.interfaces.hypervisor.Instance`,
its image's metadata, VIFs and disks into a libvirt domain: ``cumulo-<uuid>``,
q35 + ACPI (x86), virtio disks in the order given (root ``vda``, ephemeral,
volumes, the read-only config drive last), direct kernel boot for AKI/ARI
images, bridge/ethernet/ovs interfaces, a serial console logged to
``<instance dir>/console.log`` and VNC on localhost; or, for lxc, an ``exe``
domain over a root-filesystem directory. The other functions read and edit an
existing domain's XML (targets, devices, the VNC port, rescue).
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from cumulo.interfaces.hypervisor import (
    PROTOCOL_FILE,
    VIF,
    BlockDevice,
    FileConnection,
    FixedIP,
    HypervisorError,
    ImageMeta,
    Instance,
)

#: The namespace of Cumulo's ``<metadata>`` element (who owns the domain).
METADATA_NS = "https://cumulo.dev/xmlns/libvirt/1"
ET.register_namespace("cumulo", METADATA_NS)

DOMAIN_PREFIX = "cumulo-"
VOLUME_TRANSPORTS = (PROTOCOL_FILE,)  # what the driver can open; also its volume_protocols


def domain_name(instance: Instance) -> str:
    """The libvirt name of an instance's domain: ``cumulo-<uuid>``."""
    return DOMAIN_PREFIX + instance.uuid


def console_log_path(instance_dir: str) -> str:
    """Where the serial console of the instance in ``instance_dir`` is logged."""
    return os.path.join(instance_dir, "console.log")


@dataclasses.dataclass(frozen=True)
class Disk:
    """One disk of a domain: a file or block device, its format, read-only or not.

    ``serial`` is the guest-visible serial number (a volume's id, how
    detach finds it again).
    """

    path: str
    format: str = "qcow2"
    readonly: bool = False
    serial: str | None = None
    block: bool = False


@dataclasses.dataclass(frozen=True)
class KernelBoot:
    """Direct kernel boot: the kernel, the initrd (if any) and the command line."""

    kernel: str
    ramdisk: str | None
    cmdline: str


@dataclasses.dataclass(frozen=True)
class GuestSettings:
    """The host-wide settings of every domain (from ``[libvirt]`` and the host's choice)."""

    virt_type: str
    host: str
    machine_type: str = "q35"
    cpu_mode: str = ""
    cpu_model: str = ""
    vnc_listen: str = "127.0.0.1"
    lxc_init: str = "/sbin/init"
    #: "uid:gid" QEMU runs as (a static DAC label, no relabelling), "" for libvirt's own user
    #: (``qemu_user`` in qemu.conf). See ``[libvirt] qemu_dac_label``.
    dac_label: str = ""


def target_name(index: int) -> str:
    """``vda``, ``vdb``... ``vdz``, ``vdaa``: the virtio target of the ``index``-th disk."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return "vd" + letters


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    elem = ET.SubElement(parent, tag, attrib)
    if text is not None:
        elem.text = text
    return elem


def volume_disk(block_device: BlockDevice) -> Disk:
    """The disk of a volume exported as a file (or block device) on this host, raw or qcow2.

    A qcow2 volume's backing chain (its snapshots) is named, with formats, in
    its own header: libvirt follows it.

    :raises HypervisorError: another transport (NBD needs x509 TLS in libvirt, the
        volume drivers offer TLS-PSK), or the path does not exist.
    """
    ci = block_device.connection_info
    if ci is None or ci.driver_volume_type not in VOLUME_TRANSPORTS or not isinstance(ci.data, FileConnection):
        kind = ci.driver_volume_type if ci else "none"
        raise HypervisorError(f"volume transport {kind!r} is not supported here: only {', '.join(VOLUME_TRANSPORTS)}")
    path = ci.data.path
    try:
        block = stat.S_ISBLK(os.stat(path).st_mode)
    except OSError as err:
        raise HypervisorError(f"volume {ci.volume_id}: {path}: {err.strerror}") from err
    return Disk(path, ci.data.disk_format, readonly=ci.read_only, serial=block_device.volume_id or ci.volume_id,
                block=block)


def disk_element(disk: Disk, target: str) -> ET.Element:
    """A ``<disk>`` device for ``disk`` as virtio ``target``."""
    elem = ET.Element("disk", {"type": "block" if disk.block else "file", "device": "disk"})
    _sub(elem, "driver", name="qemu", type=disk.format)
    _sub(elem, "source", **({"dev": disk.path} if disk.block else {"file": disk.path}))
    _sub(elem, "target", dev=target, bus="virtio")
    if disk.readonly:
        _sub(elem, "readonly")
    if disk.serial:
        _sub(elem, "serial", disk.serial[:20])  # QEMU truncates virtio serials at 20 characters
    return elem


def interface_element(vif: VIF) -> ET.Element:
    """An ``<interface>`` for ``vif``: on its bridge (Linux or OVS), or a bare tap when it has none."""
    if vif.bridge:
        elem = ET.Element("interface", {"type": "bridge"})
        _sub(elem, "source", bridge=vif.bridge)
        if vif.vif_type == "ovs":
            port = _sub(elem, "virtualport", type="openvswitch")
            _sub(port, "parameters", interfaceid=vif.id)
    else:  # no bridge (the no-op network driver, vif_type tap): a tap the network area may plug later
        elem = ET.Element("interface", {"type": "ethernet"})
    _sub(elem, "mac", address=vif.mac_address)
    _sub(elem, "target", dev=vif.tap_name[:15])  # IFNAMSIZ
    _sub(elem, "model", type="virtio")
    if vif.mtu:
        _sub(elem, "mtu", size=str(vif.mtu))
    return elem


def _metadata(root: ET.Element, instance: Instance, settings: GuestSettings) -> None:
    meta = _sub(root, "metadata")
    ours = _sub(meta, f"{{{METADATA_NS}}}instance")
    _sub(ours, f"{{{METADATA_NS}}}host", settings.host)
    _sub(ours, f"{{{METADATA_NS}}}name", instance.name)
    _sub(ours, f"{{{METADATA_NS}}}flavor", instance.flavor.name)
    _sub(ours, f"{{{METADATA_NS}}}image", instance.image_ref or "")


def _cpu(root: ET.Element, settings: GuestSettings) -> None:
    mode = settings.cpu_mode or ("host-model" if settings.virt_type == "kvm" else "none")
    if mode == "none":
        return  # QEMU's default model (TCG cannot emulate the host's)
    cpu = _sub(root, "cpu", mode=mode)
    if mode == "custom":
        _sub(cpu, "model", settings.cpu_model or "qemu64", fallback="allow")


def domain_xml(instance: Instance, image: ImageMeta, settings: GuestSettings, instance_dir: str,
               disks: Sequence[Disk], vifs: Sequence[VIF], kernel: KernelBoot | None = None,
               rootfs: str | None = None) -> str:
    """The domain XML of ``instance`` (see the module docstring).

    ``disks`` get targets ``vda``, ``vdb``... in order; ``rootfs`` is the
    root-filesystem directory of an lxc container (``disks`` are then ignored).
    """
    root = ET.Element("domain", {"type": settings.virt_type})
    _sub(root, "name", domain_name(instance))
    _sub(root, "uuid", instance.uuid)
    _metadata(root, instance, settings)
    _sub(root, "memory", str(instance.memory_mb), unit="MiB")
    _sub(root, "vcpu", str(max(instance.vcpus, 1)))
    os_elem = _sub(root, "os")
    devices: ET.Element
    if settings.virt_type == "lxc":
        _sub(os_elem, "type", "exe")
        _sub(os_elem, "init", settings.lxc_init)
        devices = _sub(root, "devices")
        fs = _sub(devices, "filesystem", type="mount")
        _sub(fs, "source", dir=rootfs or os.path.join(instance_dir, "rootfs"))
        _sub(fs, "target", dir="/")
    else:
        arch = image.properties.get("hw_architecture") or image.properties.get("architecture") or "x86_64"
        type_attrs = {"arch": arch}
        if arch == "x86_64":
            type_attrs["machine"] = settings.machine_type
        _sub(os_elem, "type", "hvm", **type_attrs)
        if kernel is not None:
            _sub(os_elem, "kernel", kernel.kernel)
            if kernel.ramdisk:
                _sub(os_elem, "initrd", kernel.ramdisk)
            _sub(os_elem, "cmdline", kernel.cmdline)
        else:
            _sub(os_elem, "boot", dev="hd")
        features = _sub(root, "features")
        _sub(features, "acpi")
        _sub(features, "apic")
        _cpu(root, settings)
        _sub(root, "clock", offset="utc")
    _sub(root, "on_poweroff", "destroy")
    _sub(root, "on_reboot", "restart")
    _sub(root, "on_crash", "destroy")
    if settings.virt_type != "lxc":
        devices = _sub(root, "devices")
        for index, disk in enumerate(disks):
            devices.append(disk_element(disk, target_name(index)))
    for vif in vifs:
        devices.append(interface_element(vif))
    if settings.virt_type == "lxc":
        _sub(devices, "console", type="pty")
    else:
        log = console_log_path(instance_dir)
        serial = _sub(devices, "serial", type="pty")
        _sub(serial, "log", file=log, append="on")
        _sub(serial, "target", port="0")
        console = _sub(devices, "console", type="pty")
        _sub(console, "target", type="serial", port="0")
        graphics = _sub(devices, "graphics", type="vnc", autoport="yes", listen=settings.vnc_listen)
        _sub(graphics, "listen", type="address", address=settings.vnc_listen)
        video = _sub(devices, "video")
        _sub(video, "model", type="vga")
    if settings.dac_label and settings.virt_type != "lxc":
        seclabel = _sub(root, "seclabel", type="static", model="dac", relabel="no")
        _sub(seclabel, "label", settings.dac_label)
    return ET.tostring(root, encoding="unicode")


# -- reading and editing an existing domain's XML ------------------------------------------------
def owner_host(xml: str) -> str | None:
    """The compute host named in the domain's Cumulo metadata; None when it has none."""
    return ET.fromstring(xml).findtext(f"metadata/{{{METADATA_NS}}}instance/{{{METADATA_NS}}}host")


def disk_targets(xml: str) -> list[str]:
    """The target devices of the domain's disks, in document order."""
    return [t.get("dev", "") for t in ET.fromstring(xml).findall("devices/disk/target")]


def free_target(xml: str, wanted: str | None = None) -> str:
    """``wanted`` (``/dev/vdb`` or ``vdb``) when free, else the first free ``vdX``."""
    used = set(disk_targets(xml))
    name = os.path.basename(wanted) if wanted else ""
    if name.startswith("vd") and name not in used:
        return name
    index = 0
    while target_name(index) in used:
        index += 1
    return target_name(index)


def disk_files(xml: str) -> list[str]:
    """The file or device paths of the domain's disks."""
    out = []
    for src in ET.fromstring(xml).findall("devices/disk/source"):
        path = src.get("file") or src.get("dev")
        if path:
            out.append(path)
    return out


def find_disk(xml: str, serial: str | None = None, path: str | None = None) -> str | None:
    """The ``<disk>`` element (XML text) with this serial or source path; None when absent."""
    for disk in ET.fromstring(xml).findall("devices/disk"):
        src = disk.find("source")
        src_path = (src.get("file") or src.get("dev")) if src is not None else None
        if (serial and disk.findtext("serial") == serial[:20]) or (path and src_path == path):
            return ET.tostring(disk, encoding="unicode")
    return None


def find_interface(xml: str, mac: str) -> str | None:
    """The ``<interface>`` element (XML text) with MAC address ``mac``; None when absent."""
    for iface in ET.fromstring(xml).findall("devices/interface"):
        found = iface.find("mac")
        if found is not None and found.get("address", "").lower() == mac.lower():
            return ET.tostring(iface, encoding="unicode")
    return None


def has_device(xml: str, device: str) -> bool:
    """Whether the domain has a device equal to ``device`` (same tag, same target or MAC)."""
    wanted = ET.fromstring(device)
    key = _device_key(wanted)
    devices = ET.fromstring(xml).find("devices")
    return devices is not None and any(e.tag == wanted.tag and _device_key(e) == key for e in devices)


def with_device(xml: str, device: str) -> str:
    """The domain XML with ``device`` (an element's XML) appended to ``<devices>``."""
    root = ET.fromstring(xml)
    devices = root.find("devices")
    if devices is None:
        devices = _sub(root, "devices")
    devices.append(ET.fromstring(device))
    return ET.tostring(root, encoding="unicode")


def without_device(xml: str, device: str) -> str:
    """The domain XML without the device equal to ``device`` (same tag, same target or MAC)."""
    root = ET.fromstring(xml)
    gone = ET.fromstring(device)
    devices = root.find("devices")
    if devices is None:
        return xml
    key = _device_key(gone)
    for elem in list(devices):
        if elem.tag == gone.tag and _device_key(elem) == key:
            devices.remove(elem)
    return ET.tostring(root, encoding="unicode")


def _device_key(elem: ET.Element) -> str:
    if elem.tag == "interface":
        mac = elem.find("mac")
        return mac.get("address", "").lower() if mac is not None else ""
    target = elem.find("target")
    return target.get("dev", "") if target is not None else ""


def vnc_port(xml: str) -> int | None:
    """The VNC port libvirt gave a running domain; None when it has none (yet)."""
    graphics = ET.fromstring(xml).find("devices/graphics[@type='vnc']")
    if graphics is None:
        return None
    try:
        port = int(graphics.get("port", "-1"))
    except ValueError:
        return None
    return port if port > 0 else None


def rescue_xml(xml: str, rescue_disk: Disk, kernel: KernelBoot | None) -> str:
    """The domain booting ``rescue_disk`` (``vda``) with its own disks after it (``vdb``...).

    The kernel boot of the original is replaced by the rescue image's (or by a
    boot from disk); interfaces, console and graphics are kept.
    """
    root = ET.fromstring(xml)
    os_elem = root.find("os")
    if os_elem is not None:
        for tag in ("kernel", "initrd", "cmdline", "boot"):
            for elem in os_elem.findall(tag):
                os_elem.remove(elem)
        if kernel is not None:
            _sub(os_elem, "kernel", kernel.kernel)
            if kernel.ramdisk:
                _sub(os_elem, "initrd", kernel.ramdisk)
            _sub(os_elem, "cmdline", kernel.cmdline)
        else:
            _sub(os_elem, "boot", dev="hd")
    devices = root.find("devices")
    if devices is None:
        devices = _sub(root, "devices")
    disks = devices.findall("disk")
    position = list(devices).index(disks[0]) if disks else 0
    for disk in disks:
        devices.remove(disk)
    ordered = [disk_element(rescue_disk, "vda"), *disks]
    for index, disk in enumerate(ordered):
        target = disk.find("target")
        if target is not None:
            target.set("dev", target_name(index))
        address = disk.find("address")  # let libvirt place the re-ordered disks afresh
        if address is not None:
            disk.remove(address)
        devices.insert(position + index, disk)
    return ET.tostring(root, encoding="unicode")


def replace_disk_source(xml: str, old_path: str, new_path: str) -> str:
    """The domain XML with the disk whose source file is ``old_path`` reading ``new_path`` instead."""
    root = ET.fromstring(xml)
    for source in root.findall("devices/disk/source"):
        if source.get("file") == old_path:
            source.set("file", new_path)
    return ET.tostring(root, encoding="unicode")


def retarget(xml: str, instance: Instance, settings: GuestSettings, vifs: Sequence[VIF]) -> str:
    """The domain XML for ``instance``'s (new) flavor on ``settings.host`` with ``vifs`` as its interfaces.

    For the destination of a resize: the disks, boot and console stay; memory,
    vCPUs, the owner metadata and the interfaces follow the arguments.
    """
    root = ET.fromstring(xml)
    for tag in ("memory", "currentMemory", "vcpu", "metadata"):
        for elem in root.findall(tag):
            root.remove(elem)
    position = [child.tag for child in root].index("uuid") + 1 if root.find("uuid") is not None else 0
    fresh = ET.fromstring(domain_xml(instance, ImageMeta(id=instance.image_ref or ""), settings, "", (), ()))
    for offset, tag in enumerate(("metadata", "memory", "vcpu")):
        new = fresh.find(tag)
        if new is not None:
            root.insert(position + offset, new)
    devices = root.find("devices")
    if devices is None:
        devices = _sub(root, "devices")
    for iface in devices.findall("interface"):
        devices.remove(iface)
    for vif in vifs:
        devices.append(interface_element(vif))
    return ET.tostring(root, encoding="unicode")


def save_vifs(path: str, vifs: Sequence[VIF]) -> None:
    """Keep ``vifs`` in ``path`` (JSON): what the config drive is rebuilt from later."""
    rows = [dataclasses.asdict(v) | {"details": dict(v.details)} for v in vifs]
    with open(path + ".part", "w", encoding="utf-8") as f:
        json.dump(rows, f)
    os.replace(path + ".part", path)


def load_vifs(path: str) -> list[VIF]:
    """The VIFs :func:`save_vifs` kept in ``path``; none when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            rows = json.load(f)
    except (OSError, ValueError):
        return []
    return [_record(VIF, {**row, "fixed_ips": tuple(_record(FixedIP, ip) for ip in row.get("fixed_ips", ()))})
            for row in rows]


def _record(cls: Any, row: dict[str, Any]) -> Any:
    """``cls(**row)`` with JSON lists back as tuples; keys ``cls`` no longer has are dropped."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in row.items() if k in names})
