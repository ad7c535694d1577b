"""Tests of :mod:`cumulo_hypervisor_libvirt.driver` against libvirt's ``test:///default`` (no daemon).

The conformance kit runs twice: with the disk functions stubbed (always) and
with the real qemu-img (skips when it is absent, fails instead when ``CI`` is
set). The test driver keeps domains in memory, shared by every connection of
the process, so each test gets its own host name and directories.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import threading
import uuid as uuidlib
from collections.abc import Iterator
from typing import Any

import libvirt
import pycdlib
import pytest
from cumulo_hypervisor_libvirt import disks, driver, guest, opts
from cumulo_hypervisor_libvirt.driver import LibvirtDriver
from cumulo_hypervisor_libvirt.events import power_state
from oslo_config import cfg

from cumulo import conf as cumulo_conf
from cumulo import exception, registry
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.hypervisor import (
    VIF,
    BlockDevice,
    ConnectionInfo,
    FileConnection,
    Flavor,
    HypervisorError,
    ImageMeta,
    ImageReader,
    Instance,
    InstanceNotFound,
    NbdConnection,
    PowerState,
    StreamImageReader,
)
from cumulo.testing.conformance.hypervisor import HypervisorConformance
from cumulo.testing.fixtures import unavailable

GiB = 1024 ** 3


def make_conf(tmp: str, **overrides: Any) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    cumulo_conf.register(conf)
    conf.set_override("state_path", tmp)
    opts.register_opts(conf)
    settings = {"connection_uri": "test:///default", "virt_type": "qemu",
                "instances_path": os.path.join(tmp, "instances"), "images_path": os.path.join(tmp, "_base"),
                "shutdown_timeout": 1}
    settings.update(overrides)
    for name, value in settings.items():
        conf.set_override(name, value, group="libvirt")
    return conf


def make_driver(tmp: str, host: str | None = None, **overrides: Any) -> LibvirtDriver:
    return LibvirtDriver(PluginContext(make_conf(tmp, **overrides), kind="hypervisor", name="libvirt",
                                       host=host or f"node-{uuidlib.uuid4().hex[:8]}"))


def cleanup(drv: LibvirtDriver) -> None:
    """Undefine what a test left on the shared test:///default."""
    for uuid in list(drv.list_power_states()):
        dom = drv._connection().lookupByUUIDString(uuid)
        if dom.isActive():
            dom.destroy()
        dom.undefine()


class StubCache:
    """:class:`disks.ImageCache` without qemu-img: the verified bytes, taken as raw."""

    def __init__(self, base_dir: str) -> None:
        self.base_dir = base_dir
        self._lock = threading.Lock()

    def base_image(self, reader: ImageReader) -> disks.BaseImage:
        os.makedirs(self.base_dir, exist_ok=True)
        path = os.path.join(self.base_dir, reader.meta.id)
        with self._lock:  # one download per image, as the real cache does
            if not os.path.exists(path):
                reader.save_to(path)  # verifies the checksum
        return disks.BaseImage(path=path, format="raw", virtual_size=os.path.getsize(path))

    def kernel_files(self, reader: ImageReader) -> tuple[str, str | None]:
        props = reader.meta.properties
        kernel = self.base_image(reader.related(props["kernel_id"])).path
        ramdisk = self.base_image(reader.related(props["ramdisk_id"])).path if props.get("ramdisk_id") else None
        return kernel, ramdisk


def _touch(path: str, size: int = 0) -> None:
    with open(path, "wb") as f:
        f.truncate(size)


def _stub_flatten(path: str, out_path: str, out_format: str = "qcow2") -> None:
    with open(out_path, "wb") as f:
        f.write(b"QFI\xfb" + b"\0" * 508)  # a qcow2 magic; the bytes themselves do not matter here


@pytest.fixture
def stub_disks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace the qemu-img calls the driver makes with files of the right names."""
    monkeypatch.setattr(disks, "ImageCache", StubCache)
    monkeypatch.setattr(disks, "create_overlay", lambda base, path, size_gb: _touch(path, size_gb * GiB))
    monkeypatch.setattr(disks, "create_blank", lambda path, size_gb, fmt="qcow2": _touch(path, size_gb * GiB))
    monkeypatch.setattr(disks, "resize", lambda path, size_gb: _touch(path, size_gb * GiB))
    monkeypatch.setattr(disks, "flatten", _stub_flatten)


@pytest.fixture
def vnc_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    """test:///default never gives an autoport domain a port: pretend libvirt gave 5901."""
    real = guest.vnc_port
    monkeypatch.setattr(guest, "vnc_port", lambda xml: real(xml) or 5901)


class LibvirtConformance(HypervisorConformance):
    plugin_name = "libvirt"
    reads_image = True
    concurrent_spawns = 4

    @pytest.fixture
    def driver(self, tmp_path: Any, vnc_ports: None) -> Iterator[LibvirtDriver]:
        self.tmp = str(tmp_path)
        drv = make_driver(self.tmp)
        yield drv
        cleanup(drv)

    def volume(self, device_name: str = "/dev/vdb") -> BlockDevice:
        vid = str(uuidlib.uuid4())
        path = os.path.join(self.tmp, f"volume-{vid}")
        _touch(path, 1024 * 1024)
        return BlockDevice(source_type="volume", destination_type="volume", device_name=device_name, volume_id=vid,
                           connection_info=ConnectionInfo(driver_volume_type="file", volume_id=vid,
                                                          data=FileConnection(path, "raw")))


@pytest.mark.usefixtures("stub_disks")
class TestConformanceStubDisks(LibvirtConformance):
    """The kit with the disk functions stubbed: runs wherever libvirt-python does."""


@pytest.fixture
def qemu_img() -> None:
    if shutil.which("qemu-img") is None:
        unavailable("qemu-img is not installed (Debian: apt-get install qemu-utils)")


@pytest.mark.usefixtures("qemu_img")
class TestConformanceQemuImg(LibvirtConformance):
    """The kit with real qcow2 overlays, config drives and snapshots (qemu-img)."""


# -- the driver's own behaviour (stubbed disks) ---------------------------------------------------
@pytest.fixture
def drv(tmp_path: Any, stub_disks: None) -> Iterator[LibvirtDriver]:
    d = make_driver(str(tmp_path))
    yield d
    cleanup(d)


def instance(**overrides: Any) -> Instance:
    u = str(uuidlib.uuid4())
    fields: dict[str, Any] = {"uuid": u, "name": f"instance-{u}", "image_ref": "img",
                              "flavor": Flavor(id="1", name="m1.tiny", vcpus=1, memory_mb=64, root_gb=1)}
    return Instance(**(fields | overrides))


def reader(data: bytes = b"\0" * 4096, image_id: str = "img", **props: str) -> StreamImageReader:
    meta = ImageMeta(id=image_id, size=len(data), checksum=hashlib.md5(data, usedforsecurity=False).hexdigest(),
                     properties=props)
    return StreamImageReader(meta, lambda: [data],
                             open_related=lambda rid: StreamImageReader.from_bytes(ImageMeta(id=rid), rid.encode()))


def vif(mac: str = "fa:16:3e:00:00:01", **kw: Any) -> VIF:
    return VIF(**({"id": str(uuidlib.uuid4()), "mac_address": mac, "network_id": "n"} | kw))


def xml_of(d: LibvirtDriver, inst: Instance) -> str:
    return str(d._lookup(inst).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))


def test_loaded_through_the_registry(tmp_path: Any) -> None:
    conf = make_conf(str(tmp_path))
    loaded = registry.load_plugin("hypervisor", "libvirt", PluginContext(conf, host="reg-1"))
    assert isinstance(loaded, LibvirtDriver) and loaded.host == "reg-1"


@pytest.mark.parametrize(("state", "saved", "expected"), [
    (libvirt.VIR_DOMAIN_RUNNING, False, PowerState.RUNNING),
    (libvirt.VIR_DOMAIN_BLOCKED, False, PowerState.RUNNING),
    (libvirt.VIR_DOMAIN_PAUSED, False, PowerState.PAUSED),
    (libvirt.VIR_DOMAIN_SHUTDOWN, False, PowerState.SHUTDOWN),
    (libvirt.VIR_DOMAIN_SHUTOFF, False, PowerState.SHUTDOWN),
    (libvirt.VIR_DOMAIN_SHUTOFF, True, PowerState.SUSPENDED),
    (libvirt.VIR_DOMAIN_CRASHED, False, PowerState.CRASHED),
    (libvirt.VIR_DOMAIN_PMSUSPENDED, False, PowerState.SUSPENDED),
    (libvirt.VIR_DOMAIN_NOSTATE, False, PowerState.NOSTATE),
    (99, False, PowerState.NOSTATE),
])
def test_power_state_mapping(state: int, saved: bool, expected: PowerState) -> None:
    assert power_state(state, saved) == expected


def test_spawn_lays_out_the_instance(drv: LibvirtDriver) -> None:
    inst = instance(flavor=Flavor(id="2", name="m1.eph", vcpus=2, memory_mb=128, root_gb=1, ephemeral_gb=1))
    drv.spawn(inst, reader(), [vif(bridge="br-int", mtu=1450)], admin_password="pw")
    d = drv.instance_dir(inst)
    assert sorted(os.listdir(d)) >= ["disk", "disk.config", "disk.eph0", "vifs.json"]
    xml = xml_of(drv, inst)
    assert guest.disk_targets(xml) == ["vda", "vdb", "vdc"]
    assert guest.disk_files(xml) == [os.path.join(d, n) for n in ("disk", "disk.eph0", "disk.config")]
    assert guest.owner_host(xml) == drv.host
    assert f"<name>cumulo-{inst.uuid}</name>" in xml and "br-int" in xml


def test_config_drive_only_on_request_when_not_forced(tmp_path: Any, stub_disks: None) -> None:
    d = make_driver(str(tmp_path), force_config_drive=False)
    try:
        plain, asked = instance(), instance(config_drive=True)
        d.spawn(plain, reader(), [])
        d.spawn(asked, reader(), [])
        assert not os.path.exists(os.path.join(d.instance_dir(plain), "disk.config"))
        assert os.path.exists(os.path.join(d.instance_dir(asked), "disk.config"))
        with pytest.raises(HypervisorError, match="no config drive"):
            d.set_admin_password(plain, "pw")
    finally:
        cleanup(d)


def test_direct_kernel_boot(drv: LibvirtDriver) -> None:
    inst = instance()
    drv.spawn(inst, reader(kernel_id="aki-1", ramdisk_id="ari-1", os_command_line="root=/dev/vda quiet"), [])
    xml = xml_of(drv, inst)
    base = drv.cache.base_dir
    assert f"<kernel>{base}/aki-1</kernel>" in xml and f"<initrd>{base}/ari-1</initrd>" in xml
    assert "<cmdline>root=/dev/vda quiet</cmdline>" in xml


def test_failed_spawn_leaves_nothing(drv: LibvirtDriver, monkeypatch: pytest.MonkeyPatch) -> None:
    inst = instance()

    def broken(*args: Any) -> None:
        raise HypervisorError("disk full")

    monkeypatch.setattr(disks, "create_overlay", broken)
    with pytest.raises(HypervisorError, match="disk full"):
        drv.spawn(inst, reader(), [])
    assert not os.path.exists(drv.instance_dir(inst))
    assert inst.uuid not in drv.list_power_states()


def test_spawn_of_a_defined_but_stopped_domain_starts_it(drv: LibvirtDriver) -> None:
    inst = instance()
    drv.spawn(inst, reader(), [])
    drv._lookup(inst).destroy()
    drv.spawn(inst, reader(), [])
    assert drv.get_power_state(inst) == PowerState.RUNNING


def test_libvirt_errors_map_to_hypervisor_errors(drv: LibvirtDriver) -> None:
    inst = instance()
    drv.spawn(inst, reader(), [])
    drv._lookup(inst).suspend()  # paused: suspend() again is an error of the test driver
    with pytest.raises(HypervisorError, match="pause"):
        with drv._errors(inst, "pause"):
            drv._lookup(inst).suspend()
    with pytest.raises(InstanceNotFound):
        with drv._errors(inst, "x"):
            drv._connection().lookupByUUIDString(str(uuidlib.uuid4()))


def test_unreachable_uri_is_a_hypervisor_error(tmp_path: Any) -> None:
    d = make_driver(str(tmp_path), connection_uri="test:///nonexistent/file.xml")
    with pytest.raises(HypervisorError, match="cannot connect"):
        d.list_power_states()


def test_hosts_sharing_a_daemon_see_their_own(tmp_path: Any, stub_disks: None) -> None:
    a = make_driver(str(tmp_path / "a"))
    b = make_driver(str(tmp_path / "a"), host=a.host + "-b")  # same instances_path too
    try:
        inst = instance()
        a.spawn(inst, reader(), [])
        assert inst.uuid in a.list_power_states() and inst.uuid not in b.list_power_states()
        with pytest.raises(InstanceNotFound):
            b.get_power_state(inst)
        b.destroy(inst, [])  # not b's: left alone, disks included
        assert a.get_power_state(inst) == PowerState.RUNNING
        assert os.path.isdir(a.instance_dir(inst))
    finally:
        cleanup(a)


def test_resize_between_hosts_sharing_the_daemon(tmp_path: Any, stub_disks: None) -> None:
    src = make_driver(str(tmp_path))
    dst = make_driver(str(tmp_path), host=src.host + "-dst")
    try:
        inst = instance()
        src.spawn(inst, reader(), [vif()])
        bigger = Flavor(id="2", name="m1.small", vcpus=2, memory_mb=128, root_gb=2)
        info = src.migrate_disk_and_power_off(inst, dst.host, bigger)
        resized = dataclasses.replace(inst, flavor=bigger)
        dst.finish_migration(resized, json.loads(json.dumps(info)), [vif()], ImageMeta(id="img"), True)
        assert dst.get_power_state(resized) == PowerState.RUNNING
        assert inst.uuid not in src.list_power_states()
        assert os.path.getsize(os.path.join(dst.instance_dir(resized), "disk")) == 2 * GiB
        assert "<vcpu" in xml_of(dst, resized) and ">2</vcpu>" in xml_of(dst, resized)
        src.confirm_migration(inst, [])
        assert not os.path.exists(src.instance_dir(inst) + "_resize")
        assert dst.get_power_state(resized) == PowerState.RUNNING
    finally:
        cleanup(dst)


def test_resize_refuses_to_shrink(drv: LibvirtDriver) -> None:
    inst = instance(flavor=Flavor(id="2", name="m1.small", vcpus=1, memory_mb=64, root_gb=5))
    drv.spawn(inst, reader(), [])
    with pytest.raises(HypervisorError, match="shrink"):
        drv.migrate_disk_and_power_off(inst, drv.host, Flavor(id="1", name="m1.tiny", vcpus=1, memory_mb=64,
                                                              root_gb=1))
    assert drv.get_power_state(inst) == PowerState.RUNNING


def test_revert_without_kept_disks_fails(drv: LibvirtDriver) -> None:
    with pytest.raises(HypervisorError, match="gone"):
        drv.finish_revert_migration(instance(), [])


def test_rescue_boots_the_rescue_disk_first(drv: LibvirtDriver) -> None:
    inst = instance()
    drv.spawn(inst, reader(), [])
    d = drv.instance_dir(inst)
    drv.rescue(inst, reader(b"rescue", image_id="rescue-img"), "pw")
    drv.rescue(inst, reader(b"rescue", image_id="rescue-img"), "pw")  # again: no-op
    files = guest.disk_files(xml_of(drv, inst))
    assert files[:2] == [os.path.join(d, "disk.rescue"), os.path.join(d, "disk")]
    # The rescue boots with the config drive's copy that carries the rescue password (Nova injects it).
    rescue_config = os.path.join(d, "disk.config.rescue")
    assert rescue_config in files and os.path.join(d, "disk.config") not in files
    iso = pycdlib.PyCdlib()
    iso.open(rescue_config)
    meta = io.BytesIO()
    iso.get_file_from_iso_fp(meta, rr_path="/openstack/latest/meta_data.json")
    iso.close()
    assert json.loads(meta.getvalue())["admin_pass"] == "pw"
    drv.unrescue(inst)
    drv.unrescue(inst)  # again: no-op
    assert guest.disk_files(xml_of(drv, inst))[0] == os.path.join(d, "disk")
    assert os.path.join(d, "disk.config") in guest.disk_files(xml_of(drv, inst))
    assert not os.path.exists(os.path.join(d, "disk.rescue")) and not os.path.exists(rescue_config)


def test_rebuild_keeps_the_ephemeral_disk(drv: LibvirtDriver) -> None:
    inst = instance(flavor=Flavor(id="2", name="eph", vcpus=1, memory_mb=64, root_gb=1, ephemeral_gb=1))
    drv.spawn(inst, reader(), [])
    eph = os.path.join(drv.instance_dir(inst), "disk.eph0")
    with open(eph, "r+b") as f:
        f.write(b"keep")
    drv.rebuild(inst, reader(b"\1" * 4096, image_id="img-2"), [])
    with open(eph, "rb") as f:
        assert f.read(4) == b"keep"
    assert drv.get_power_state(inst) == PowerState.RUNNING


def test_snapshot_streams_and_keeps_pause_state(drv: LibvirtDriver) -> None:
    inst = instance()
    drv.spawn(inst, reader(), [])
    drv.pause(inst)
    chunks: list[bytes] = []
    result = drv.snapshot(inst, chunks.append)
    assert result.disk_format == "qcow2" and b"".join(chunks)
    assert drv.get_power_state(inst) == PowerState.PAUSED
    assert not os.path.exists(os.path.join(drv.instance_dir(inst), "disk.snapshot"))


def test_console_output_is_the_log_tail(tmp_path: Any, stub_disks: None) -> None:
    d = make_driver(str(tmp_path), console_log_max_bytes=1024)
    try:
        inst = instance()
        d.spawn(inst, reader(), [])
        assert d.get_console_output(inst) == ""
        with open(guest.console_log_path(d.instance_dir(inst)), "wb") as f:
            f.write(b"x" * 5000 + b"login:")
        out = d.get_console_output(inst)
        assert len(out) == 1024 and out.endswith("login:")
    finally:
        cleanup(d)


def test_remote_console_needs_a_port_and_a_known_type(drv: LibvirtDriver) -> None:
    inst = instance()
    drv.spawn(inst, reader(), [])
    with pytest.raises(HypervisorError, match="no VNC port"):  # test:///default assigns none
        drv.get_remote_console(inst, "novnc")
    with pytest.raises(exception.Invalid):
        drv.get_remote_console(inst, "telnet")


def test_volumes_attach_by_file(drv: LibvirtDriver, tmp_path: Any) -> None:
    inst = instance()
    drv.spawn(inst, reader(), [])
    path = str(tmp_path / "vol")
    _touch(path, 4096)
    bd = BlockDevice(source_type="volume", destination_type="volume", device_name="/dev/vdz", volume_id="v-1",
                     connection_info=ConnectionInfo(driver_volume_type="file", volume_id="v-1",
                                                    data=FileConnection(path, "raw")))
    assert drv.attach_volume(inst, bd) is None  # the name asked for
    assert drv.attach_volume(inst, bd) is None  # again: no second disk
    xml = xml_of(drv, inst)
    assert guest.disk_files(xml).count(path) == 1 and "vdz" in guest.disk_targets(xml)
    other = str(tmp_path / "vol2")
    _touch(other, 4096)
    taken = dataclasses.replace(bd, volume_id="v-2", connection_info=ConnectionInfo(
        driver_volume_type="file", volume_id="v-2", data=FileConnection(other, "raw")))
    used = drv.attach_volume(inst, taken)  # vdz is taken: the driver says which name the disk got
    assert used is not None and used != "/dev/vdz" and used.removeprefix("/dev/") in guest.disk_targets(
        xml_of(drv, inst))
    drv.detach_volume(inst, taken)
    drv.detach_volume(inst, bd)
    assert path not in guest.disk_files(xml_of(drv, inst))
    nbd = dataclasses.replace(bd, connection_info=ConnectionInfo(driver_volume_type="nbd", volume_id="v-1",
                                                                 data=NbdConnection("127.0.0.1", 10809, "v-1")))
    with pytest.raises(HypervisorError, match="nbd"):
        drv.attach_volume(inst, nbd)


def test_interfaces_and_the_saved_vifs(drv: LibvirtDriver) -> None:
    inst = instance()
    first = vif("fa:16:3e:00:00:01")
    drv.spawn(inst, reader(), [first])
    second = vif("fa:16:3e:00:00:02", bridge="br0")
    drv.attach_interface(inst, second)
    drv.attach_interface(inst, second)
    xml = xml_of(drv, inst)
    assert xml.count("fa:16:3e:00:00:02") == 1
    drv.detach_interface(inst, first)
    drv.detach_interface(inst, first)
    assert guest.find_interface(xml_of(drv, inst), first.mac_address) is None
    saved = guest.load_vifs(os.path.join(drv.instance_dir(inst), "vifs.json"))
    assert saved == [second]


def test_power_off_asks_the_guest_first(drv: LibvirtDriver) -> None:
    inst = instance()
    drv.spawn(inst, reader(), [])
    drv.power_off(inst, timeout=5)  # the test driver's guests shut down at once
    assert drv.get_power_state(inst) == PowerState.SHUTDOWN


def test_suspended_power_off_discards_the_saved_memory(drv: LibvirtDriver) -> None:
    inst = instance()
    drv.spawn(inst, reader(), [])
    drv.suspend(inst)
    drv.power_off(inst)
    assert drv.get_power_state(inst) == PowerState.SHUTDOWN


def test_validate_config(tmp_path: Any) -> None:
    conf = make_conf(str(tmp_path))
    assert LibvirtDriver.validate_config(conf) == []
    conf.set_override("connection_uri", "test:///nonexistent/file.xml", group="libvirt")
    [problem] = LibvirtDriver.validate_config(conf)
    assert "unreachable" in problem

def test_no_daemon_is_a_problem_only_when_it_cannot_be_started() -> None:
    gone = ("/nonexistent/libvirt-sock",)
    [problem] = driver.host.config_problems("qemu", "qemu:///system", sockets=gone, startable=False)
    assert "libvirtd is not running" in problem
    assert driver.host.config_problems("qemu", "qemu:///system", sockets=gone, startable=True) == []


def test_validate_config_reports_kvm_without_hardware(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(driver.host, "kvm_usable", lambda dev_kvm="/dev/kvm": None)
    monkeypatch.setattr(driver.host, "cpu_flags", lambda cpuinfo="/proc/cpuinfo": {"sse2"})
    problems = LibvirtDriver.validate_config(make_conf(str(tmp_path), virt_type="kvm"))
    assert problems == ["[libvirt] virt_type = kvm but /proc/cpuinfo has no vmx/svm (no VT-x/AMD-V); use qemu or auto"]


def test_describe_choice(tmp_path: Any) -> None:
    assert LibvirtDriver.describe_choice(make_conf(str(tmp_path))) == "virt_type = qemu as configured"


def test_power_change_events(drv: LibvirtDriver) -> None:
    seen: list[tuple[str, PowerState]] = []
    got = threading.Event()

    def note(uuid: str, state: PowerState) -> None:
        seen.append((uuid, state))
        if state == PowerState.SHUTDOWN:
            got.set()

    drv.on_power_change(note)
    inst = instance()
    drv.spawn(inst, reader(), [])
    drv.power_off(inst)
    assert got.wait(5), seen
    assert (inst.uuid, PowerState.RUNNING) in seen and (inst.uuid, PowerState.SHUTDOWN) in seen
