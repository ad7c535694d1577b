"""Tests of :mod:`cumulo_hypervisor_libvirt.guest`: the domain XML, read back with ElementTree."""

from __future__ import annotations

import dataclasses
import os
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from cumulo_hypervisor_libvirt import guest
from cumulo_hypervisor_libvirt.guest import Disk, GuestSettings, KernelBoot

from cumulo.interfaces.hypervisor import (
    VIF,
    BlockDevice,
    ConnectionInfo,
    FileConnection,
    FixedIP,
    Flavor,
    HypervisorError,
    ImageMeta,
    Instance,
    NbdConnection,
)

UUID = "6f1c1d51-8f3a-4b7e-9a0e-0123456789ab"
INSTANCE = Instance(uuid=UUID, name=f"instance-{UUID}", image_ref="img",
                    flavor=Flavor(id="1", name="m1.small", vcpus=2, memory_mb=256, root_gb=1))
QEMU = GuestSettings(virt_type="qemu", host="node-1")
DISKS = [Disk("/i/disk"), Disk("/i/disk.eph0"), Disk("/i/disk.config", "raw", readonly=True)]


def build(settings: GuestSettings = QEMU, **kw: Any) -> ET.Element:
    args: dict[str, Any] = {"disks": DISKS, "vifs": [], "kernel": None} | kw
    return ET.fromstring(guest.domain_xml(INSTANCE, kw.pop("image", ImageMeta(id="img")), settings, "/i",
                                          args["disks"], args["vifs"], args["kernel"]))


def test_identity_size_and_machine() -> None:
    root = build()
    assert root.get("type") == "qemu"
    assert root.findtext("name") == f"cumulo-{UUID}" and root.findtext("uuid") == UUID
    assert (root.findtext("memory"), root.find("memory").get("unit")) == ("256", "MiB")  # type: ignore[union-attr]
    assert root.findtext("vcpu") == "2"
    os_type = root.find("os/type")
    assert os_type is not None and os_type.text == "hvm"
    assert os_type.attrib == {"arch": "x86_64", "machine": "q35"}
    assert root.find("features/acpi") is not None
    assert root.find("os/boot").get("dev") == "hd"  # type: ignore[union-attr]
    assert guest.owner_host(ET.tostring(root, encoding="unicode")) == "node-1"


def test_disks_in_order_config_drive_read_only_last() -> None:
    root = build()
    disks = root.findall("devices/disk")
    assert [d.find("target").get("dev") for d in disks] == ["vda", "vdb", "vdc"]  # type: ignore[union-attr]
    assert all(d.find("target").get("bus") == "virtio" for d in disks)  # type: ignore[union-attr]
    assert [d.find("driver").get("type") for d in disks] == ["qcow2", "qcow2", "raw"]  # type: ignore[union-attr]
    assert disks[-1].find("readonly") is not None and disks[0].find("readonly") is None


def test_cpu_mode_follows_virt_type_and_option() -> None:
    assert build().find("cpu") is None  # TCG: QEMU's default model
    assert build(GuestSettings(virt_type="kvm", host="h")).find("cpu").get("mode") == "host-model"  # type: ignore[union-attr]
    custom = build(GuestSettings(virt_type="kvm", host="h", cpu_mode="custom", cpu_model="Nehalem"))
    assert custom.findtext("cpu/model") == "Nehalem"


def test_direct_kernel_boot() -> None:
    root = build(kernel=KernelBoot("/b/aki", "/b/ari", "root=/dev/vda console=ttyS0"))
    assert root.findtext("os/kernel") == "/b/aki" and root.findtext("os/initrd") == "/b/ari"
    assert root.findtext("os/cmdline") == "root=/dev/vda console=ttyS0"
    assert root.find("os/boot") is None
    no_ramdisk = build(kernel=KernelBoot("/b/aki", None, "x"))
    assert no_ramdisk.find("os/initrd") is None


def test_interfaces() -> None:
    bridged = VIF(id="0123456789abcdef", mac_address="fa:16:3e:aa:bb:cc", network_id="n", bridge="br-int",
                  mtu=1450, fixed_ips=(FixedIP("10.0.0.5"),))
    bare = VIF(id="fedcba9876543210", mac_address="fa:16:3e:00:00:02", network_id="n", devname="tapcustom")
    ovs = VIF(id="port-ovs", mac_address="fa:16:3e:00:00:03", network_id="n", bridge="br-int", vif_type="ovs")
    first, second, third = build(vifs=[bridged, bare, ovs]).findall("devices/interface")
    assert first.get("type") == "bridge" and first.find("source").get("bridge") == "br-int"  # type: ignore[union-attr]
    assert first.find("target").get("dev") == "tap0123456789a"  # type: ignore[union-attr]
    assert first.find("mac").get("address") == "fa:16:3e:aa:bb:cc"  # type: ignore[union-attr]
    assert first.find("model").get("type") == "virtio" and first.find("mtu").get("size") == "1450"  # type: ignore[union-attr]
    assert second.get("type") == "ethernet" and second.find("target").get("dev") == "tapcustom"  # type: ignore[union-attr]
    assert third.find("virtualport/parameters").get("interfaceid") == "port-ovs"  # type: ignore[union-attr]


def test_serial_console_log_and_vnc_on_localhost() -> None:
    root = build()
    serial = root.find("devices/serial")
    assert serial is not None and serial.get("type") == "pty"
    assert serial.find("log").get("file") == os.path.join("/i", "console.log")  # type: ignore[union-attr]
    assert root.find("devices/console/target").get("type") == "serial"  # type: ignore[union-attr]
    vnc = root.find("devices/graphics")
    assert vnc is not None and vnc.attrib == {"type": "vnc", "autoport": "yes", "listen": "127.0.0.1"}


def test_lxc_container() -> None:
    root = build(GuestSettings(virt_type="lxc", host="h"))
    assert root.get("type") == "lxc"
    assert root.findtext("os/type") == "exe" and root.findtext("os/init") == "/sbin/init"
    fs = root.find("devices/filesystem")
    assert fs is not None and fs.get("type") == "mount"
    assert fs.find("source").get("dir") == "/i/rootfs" and fs.find("target").get("dir") == "/"  # type: ignore[union-attr]
    assert root.find("devices/disk") is None and root.find("devices/graphics") is None
    assert root.find("features") is None


def test_non_x86_has_no_machine_type() -> None:
    os_type = build(image=ImageMeta(id="img", properties={"hw_architecture": "aarch64"})).find("os/type")
    assert os_type is not None and os_type.attrib == {"arch": "aarch64"}


@pytest.mark.parametrize(("index", "name"), [(0, "vda"), (25, "vdz"), (26, "vdaa"), (27, "vdab")])
def test_target_names(index: int, name: str) -> None:
    assert guest.target_name(index) == name


def test_free_target_and_finding_devices() -> None:
    xml = guest.domain_xml(INSTANCE, ImageMeta(id="img"), QEMU, "/i", DISKS,
                           [VIF(id="p", mac_address="FA:16:3E:00:00:01", network_id="n")])
    assert guest.free_target(xml) == "vdd"
    assert guest.free_target(xml, "/dev/vdf") == "vdf" and guest.free_target(xml, "/dev/vdb") == "vdd"
    assert guest.find_disk(xml, path="/i/disk.eph0") and guest.find_disk(xml, path="/nope") is None
    found = guest.find_interface(xml, "fa:16:3e:00:00:01")
    assert found is not None
    assert guest.find_interface(guest.without_device(xml, found), "fa:16:3e:00:00:01") is None
    vol = ET.tostring(guest.disk_element(Disk("/dev/sdb", "raw", serial="v" * 30, block=True), "vdd"),
                      encoding="unicode")
    added = guest.with_device(xml, vol)
    assert guest.find_disk(added, serial="v" * 30) and guest.disk_targets(added)[-1] == "vdd"
    assert guest.without_device(added, vol) == guest.without_device(added, vol)
    assert "vdd" not in guest.disk_targets(guest.without_device(added, vol))


def test_vnc_port() -> None:
    assert guest.vnc_port("<domain><devices><graphics type='vnc' port='5901'/></devices></domain>") == 5901
    assert guest.vnc_port("<domain><devices><graphics type='vnc' port='-1'/></devices></domain>") is None
    assert guest.vnc_port("<domain><devices/></domain>") is None


def test_rescue_puts_the_rescue_disk_first() -> None:
    xml = guest.domain_xml(INSTANCE, ImageMeta(id="img"), QEMU, "/i", DISKS, [],
                           KernelBoot("/b/aki", None, "root=/dev/vda"))
    rescued = ET.fromstring(guest.rescue_xml(xml, Disk("/i/disk.rescue"), None))
    disks = rescued.findall("devices/disk")
    assert [d.find("source").get("file") for d in disks] == [  # type: ignore[union-attr]
        "/i/disk.rescue", "/i/disk", "/i/disk.eph0", "/i/disk.config"]
    assert [d.find("target").get("dev") for d in disks] == ["vda", "vdb", "vdc", "vdd"]  # type: ignore[union-attr]
    assert rescued.find("os/kernel") is None and rescued.find("os/boot") is not None
    with_kernel = ET.fromstring(guest.rescue_xml(xml, Disk("/i/disk.rescue"), KernelBoot("/r/k", "/r/i", "c")))
    assert with_kernel.findtext("os/kernel") == "/r/k" and with_kernel.findtext("os/cmdline") == "c"


def test_retarget_for_a_resize() -> None:
    xml = guest.domain_xml(INSTANCE, ImageMeta(id="img"), QEMU, "/i", DISKS,
                           [VIF(id="old", mac_address="fa:16:3e:00:00:09", network_id="n")])
    bigger = Instance(uuid=UUID, name=INSTANCE.name, image_ref="img",
                      flavor=Flavor(id="2", name="m1.big", vcpus=4, memory_mb=1024, root_gb=2))
    new = guest.retarget(xml, bigger, GuestSettings(virt_type="qemu", host="node-2"),
                         [VIF(id="new", mac_address="fa:16:3e:00:00:0a", network_id="n")])
    root = ET.fromstring(new)
    assert root.findtext("vcpu") == "4" and root.findtext("memory") == "1024"
    assert guest.owner_host(new) == "node-2"
    assert guest.disk_files(new) == guest.disk_files(xml)
    assert guest.find_interface(new, "fa:16:3e:00:00:09") is None and guest.find_interface(new, "fa:16:3e:00:00:0a")


def test_volume_disk(tmp_path: Any) -> None:
    path = tmp_path / "vol"
    path.write_bytes(b"")
    ok = BlockDevice(source_type="volume", destination_type="volume", volume_id="v1",
                     connection_info=ConnectionInfo(driver_volume_type="file", volume_id="v1",
                                                    data=FileConnection(str(path), "raw"), read_only=True))
    assert guest.volume_disk(ok) == Disk(str(path), "raw", readonly=True, serial="v1", block=False)
    qcow2 = dataclasses.replace(ok, connection_info=ConnectionInfo(driver_volume_type="file", volume_id="v1",
                                                                   data=FileConnection(str(path))))
    assert guest.volume_disk(qcow2).format == "qcow2"
    nbd = dataclasses.replace(ok, connection_info=ConnectionInfo(driver_volume_type="nbd", volume_id="v1",
                                                                 data=NbdConnection("127.0.0.1", 10809, "v1")))
    with pytest.raises(HypervisorError, match="nbd"):
        guest.volume_disk(nbd)
    missing = BlockDevice(source_type="volume", destination_type="volume", volume_id="v1",
                          connection_info=ConnectionInfo(driver_volume_type="file", volume_id="v1",
                                                         data=FileConnection(str(tmp_path / "none"))))
    with pytest.raises(HypervisorError, match="none"):
        guest.volume_disk(missing)


def test_vifs_round_trip(tmp_path: Any) -> None:
    vifs = [VIF(id="p", mac_address="m", network_id="n", fixed_ips=(FixedIP("10.0.0.5", prefixlen=24),),
                floating_ips=("1.2.3.4",), details={"k": "v"})]
    guest.save_vifs(str(tmp_path / "v.json"), vifs)
    assert guest.load_vifs(str(tmp_path / "v.json")) == vifs
    assert guest.load_vifs(str(tmp_path / "missing.json")) == []


def test_qemu_runs_as_the_state_path_owner_when_asked() -> None:
    assert build().find("seclabel") is None  # libvirt's own qemu user
    label = build(GuestSettings(virt_type="qemu", host="h", dac_label="+0:+0")).find("seclabel")
    assert label is not None and label.attrib == {"type": "static", "model": "dac", "relabel": "no"}
    assert label.findtext("label") == "+0:+0"


def test_dac_label_setting(tmp_path: Any) -> None:
    from cumulo_hypervisor_libvirt.files import dac_label

    st = os.stat(tmp_path)
    assert dac_label("owner", str(tmp_path / "not" / "yet")) == f"+{st.st_uid}:+{st.st_gid}"
    assert dac_label("libvirt", str(tmp_path)) == ""
    assert dac_label("+107:+107", str(tmp_path)) == "+107:+107"
