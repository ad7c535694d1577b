"""The XenServer driver against the XAPI simulator: what the conformance kit does not reach.

Fault injection (a XAPI failure midway leaves no VM or VDI behind), the image
cache, configuration checks, the event stream, networks, volumes, rescue,
snapshots and the clean-shutdown fallback.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from typing import Any

import pytest
from cumulo_hypervisor_xenserver.driver import XenServerDriver
from xapisim import XapiSimulator, vhd

from cumulo.interfaces.hypervisor import (
    PROTOCOL_FILE,
    VIF,
    BlockDevice,
    ConnectionInfo,
    FileConnection,
    Flavor,
    HypervisorError,
    ImageMeta,
    ImageVerificationError,
    Instance,
    InstanceNotFound,
    PowerState,
    StreamImageReader,
)

DATA = hashlib.sha512(b"disk").digest() * 1024  # 64 KiB


def meta(data: bytes = DATA, image_id: str = "img-1", disk_format: str = "raw") -> ImageMeta:
    return ImageMeta(id=image_id, disk_format=disk_format, size=len(data),
                     checksum=hashlib.md5(data, usedforsecurity=False).hexdigest(),
                     os_hash_algo="sha512", os_hash_value=hashlib.sha512(data).hexdigest())


def image(data: bytes = DATA, image_id: str = "img-1", disk_format: str = "raw") -> StreamImageReader:
    return StreamImageReader.from_bytes(meta(data, image_id, disk_format), data, chunk_size=4096)


def instance(**overrides: Any) -> Instance:
    u = str(uuidlib.uuid4())
    fields: dict[str, Any] = {"uuid": u, "name": f"instance-{u}", "hostname": "vm1",
                              "flavor": Flavor(id="1", name="tiny", vcpus=1, memory_mb=128, root_gb=1)}
    fields.update(overrides)
    return Instance(**fields)


def port(bridge: str | None = None, network_id: str = "net-1") -> VIF:
    return VIF(id=str(uuidlib.uuid4()), mac_address="fa:16:3e:00:00:02", network_id=network_id, bridge=bridge)


def vms_of(sim: XapiSimulator, inst: Instance) -> list[dict[str, Any]]:
    return [r for r in sim.records("VM").values() if r["other_config"].get("cumulo-instance-uuid") == inst.uuid]


def non_base_vdis(sim: XapiSimulator) -> list[dict[str, Any]]:
    return [r for r in sim.records("VDI").values() if not r["other_config"].get("cumulo-image-id")]


@pytest.fixture
def drv(make_driver: Callable[..., XenServerDriver]) -> XenServerDriver:
    return make_driver()


# -- faults midway leave nothing behind ------------------------------------------------------------
@pytest.mark.parametrize("method, error", [
    ("VBD.create", ["SR_BACKEND_FAILURE_46", "", "The VDI is not available", ""]),
    ("VIF.create", ["INTERNAL_ERROR", "injected"]),
    ("VM.start", ["HOST_NOT_ENOUGH_FREE_MEMORY", "134217728", "0"]),
    ("VDI.clone", ["SR_BACKEND_FAILURE_44", "", "There is insufficient space", ""]),
    ("VDI.resize", ["SR_BACKEND_FAILURE_44", "", "There is insufficient space", ""]),
])
def test_a_xapi_failure_mid_spawn_leaves_nothing(sim: XapiSimulator, drv: XenServerDriver, method: str,
                                                 error: list[str]) -> None:
    inst = instance()
    sim.inject(method, error, after=1 if method == "VBD.create" else 0)  # VBD.create: the config drive's fails
    with pytest.raises(HypervisorError) as caught:
        drv.spawn(inst, image(), [port()], admin_password="pw")
    assert error[0] in str(caught.value)
    assert vms_of(sim, inst) == []
    assert non_base_vdis(sim) == []
    assert inst.uuid not in drv.list_power_states()
    assert not [t for t in sim.records("task").values()]  # tasks destroyed too
    drv.spawn(inst, image(), [port()])  # the fault was once: a retry works
    assert drv.get_power_state(inst) == PowerState.RUNNING


def test_a_failed_import_leaves_no_vdi(sim: XapiSimulator, drv: XenServerDriver) -> None:
    sim.inject("import_raw_vdi", ["VDI_IO_ERROR", "Device I/O errors"])
    with pytest.raises(HypervisorError, match="VDI_IO_ERROR"):
        drv.spawn(instance(), image(), [])
    assert sim.records("VDI") == {}


def test_a_corrupt_image_is_refused_and_its_vdi_destroyed(sim: XapiSimulator, drv: XenServerDriver) -> None:
    corrupt = StreamImageReader.from_bytes(meta(), b"\1" + DATA[1:])
    with pytest.raises(ImageVerificationError, match="MD5"):
        drv.spawn(instance(), corrupt, [])
    assert sim.records("VDI") == {} and not vms_of(sim, instance())
    short = StreamImageReader.from_bytes(meta(), DATA[:-10])
    with pytest.raises(ImageVerificationError, match="recorded"):
        drv.spawn(instance(), short, [])
    assert sim.records("VDI") == {}


def test_an_image_format_xenserver_cannot_import(sim: XapiSimulator, drv: XenServerDriver) -> None:
    with pytest.raises(HypervisorError, match="not qcow2"):
        drv.spawn(instance(), image(disk_format="qcow2"), [])
    assert sim.records("VDI") == {}


def test_a_port_on_no_known_network_fails_cleanly(sim: XapiSimulator, make_driver: Callable[..., XenServerDriver]) -> None:
    drv = make_driver(default_network="")
    inst = instance()
    with pytest.raises(HypervisorError, match="no XenServer network"):
        drv.spawn(inst, image(), [port(bridge="br-missing")])
    assert vms_of(sim, inst) == [] and non_base_vdis(sim) == []


def test_the_port_goes_on_the_network_with_its_bridge(sim: XapiSimulator, drv: XenServerDriver) -> None:
    inst = instance()
    drv.spawn(inst, image(), [port(bridge="xenapi")])
    (vif,) = sim.records("VIF").values()
    networks = sim.records("network")
    assert networks[vif["network"]]["bridge"] == "xenapi" and vif["currently_attached"]
    assert vif["MAC"] == "fa:16:3e:00:00:02"


# -- the image cache --------------------------------------------------------------------------------
def test_instances_of_an_image_share_one_base_vdi(sim: XapiSimulator, drv: XenServerDriver) -> None:
    first, second = instance(), instance()
    threads = [threading.Thread(target=drv.spawn, args=(i, image(), [])) for i in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bases = [r for r in sim.records("VDI").values() if r["other_config"].get("cumulo-image-id") == "img-1"]
    assert len(bases) == 1
    roots = [r for r in sim.records("VDI").values() if r["name_label"].endswith(" root")]
    assert len(roots) == 2 and all(r["sm_config"]["vhd-parent"] == bases[0]["uuid"] for r in roots)
    assert all(r["virtual_size"] == str(1024 ** 3) for r in roots)  # grown to the flavor's root_gb
    drv.destroy(first, [])
    drv.destroy(second, [])
    assert [r["name_label"] for r in sim.records("VDI").values()] == [bases[0]["name_label"]]


def test_without_the_cache_each_instance_imports(sim: XapiSimulator, make_driver: Callable[..., XenServerDriver]) -> None:
    drv = make_driver(cache_images="none", force_config_drive=False)
    drv.spawn(instance(), image(), [])
    drv.spawn(instance(), image(), [])
    assert sim.calls.count("import_raw_vdi") == 2 and "VDI.clone" not in sim.calls
    assert not [r for r in sim.records("VDI").values() if r["other_config"].get("cumulo-image-id")]


def test_a_vhd_image_is_imported_as_vhd(sim: XapiSimulator, drv: XenServerDriver) -> None:
    data = DATA + vhd.fixed_footer(len(DATA))
    inst = instance(flavor=Flavor(id="0", name="zero", vcpus=1, memory_mb=64, root_gb=0))
    drv.spawn(inst, image(data, "img-vhd", "vhd"), [])
    (base,) = [r for r in sim.records("VDI").values() if r["other_config"].get("cumulo-image-id") == "img-vhd"]
    assert base["virtual_size"] == str(1024 * 1024)  # the footer's size, rounded up to XAPI's 1 MiB minimum
    chunks: list[bytes] = []
    drv.snapshot(inst, chunks.append)
    assert b"".join(chunks)[:len(DATA)] == DATA  # the raw bytes, without the footer


# -- configuration ----------------------------------------------------------------------------------
def test_validate_logs_in_once(sim: XapiSimulator, xen_conf_factory: Callable[..., Any]) -> None:
    assert XenServerDriver.validate_config(xen_conf_factory(sim)) == []
    assert sim.calls.count("session.login_with_password") == 1
    problems = XenServerDriver.validate_config(xen_conf_factory(sim, connection_password="wrong"))
    assert len(problems) == 1 and "SESSION_AUTHENTICATION_FAILED" in problems[0]
    problems = XenServerDriver.validate_config(xen_conf_factory(sim, sr_name_label="Fast SSD"))
    assert problems == ["[xenserver] sr_name_label: the pool has no SR named 'Fast SSD'"]
    problems = XenServerDriver.validate_config(xen_conf_factory(sim, connection_url="http://127.0.0.1:9"))
    assert len(problems) == 1 and "cannot log in" in problems[0]
    assert not sim.api.sessions - {r for r, rec in sim.records("session").items()}  # logged out again


def test_an_expired_session_is_renewed(sim: XapiSimulator, drv: XenServerDriver) -> None:
    inst = instance()
    drv.spawn(inst, image(), [])
    sim.api.sessions.clear()  # as after a pool master restart: SESSION_INVALID on the next call
    assert drv.get_power_state(inst) == PowerState.RUNNING


def test_host_resources(drv: XenServerDriver) -> None:
    drv.spawn(instance(), image(), [])
    res = drv.get_host_resources()
    assert (res.vcpus, res.memory_mb, res.local_gb, res.hypervisor_type) == (8, 16384, 100, "xen")
    assert res.hypervisor_version == 4013005 and res.vcpus_used == 1
    assert res.memory_mb_used == 1024 + 128  # dom0 and the instance
    assert ("x86_64", "xen", "hvm") in res.supported_instances


# -- lifecycle details ------------------------------------------------------------------------------
def test_power_events_report_a_guest_that_halts_itself(sim: XapiSimulator, drv: XenServerDriver) -> None:
    seen: list[tuple[str, PowerState]] = []
    got = threading.Event()

    def callback(uuid: str, state: PowerState) -> None:
        seen.append((uuid, state))
        if state == PowerState.SHUTDOWN:
            got.set()

    inst = instance()
    drv.spawn(inst, image(), [])
    assert drv.register_power_events(callback) is True
    (ref,) = [r for r, rec in sim.records("VM").items() if rec["name_label"] == inst.name]
    sim.api.guest_halts(ref)
    assert got.wait(10), seen
    assert (inst.uuid, PowerState.SHUTDOWN) in seen


def test_power_events_follow_the_rescue_vm(sim: XapiSimulator, drv: XenServerDriver) -> None:
    seen: list[tuple[str, PowerState]] = []
    inst = instance()
    drv.spawn(inst, image(), [])
    drv.register_power_events(lambda uuid, state: seen.append((uuid, state)))
    drv.rescue(inst, image(b"R" * 8192, "rescue-img"), "pw")

    def wait_last(state: PowerState) -> None:
        deadline = time.monotonic() + 10
        while not (seen and seen[-1] == (inst.uuid, state)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seen and seen[-1] == (inst.uuid, state), seen

    wait_last(PowerState.RUNNING)  # the rescue VM runs (its own VM halted on the way: a transient hint)
    (rescue,) = [r for r, rec in sim.records("VM").items() if rec["name_label"] == inst.name + "-rescue"]
    count = len(seen)
    sim.api.guest_halts(rescue)
    wait_last(PowerState.SHUTDOWN)
    assert len(seen) == count + 1  # one change, the rescue VM's


def test_power_off_falls_back_to_a_hard_shutdown(sim: XapiSimulator, drv: XenServerDriver) -> None:
    inst = instance()
    drv.spawn(inst, image(), [])
    sim.api.guest_ignores_shutdown = True
    drv.power_off(inst, timeout=1)
    assert drv.get_power_state(inst) == PowerState.SHUTDOWN
    assert sim.calls.index("VM.clean_shutdown") < sim.calls.index("VM.hard_shutdown")


def test_a_vm_deleted_behind_the_drivers_back(sim: XapiSimulator, drv: XenServerDriver) -> None:
    inst = instance()
    drv.spawn(inst, image(), [])
    (ref,) = [r for r, rec in sim.records("VM").items() if rec["name_label"] == inst.name]
    sim.api.guest_halts(ref)
    with sim.db.lock:
        sim.api.VM__destroy("", ref)
    with pytest.raises(InstanceNotFound):
        drv.reboot(inst, hard=True)
    drv.destroy(inst, [])  # nothing to do, no error


def test_rescue_boots_a_second_vm_with_the_root_disk(sim: XapiSimulator, drv: XenServerDriver) -> None:
    inst = instance()
    drv.spawn(inst, image(), [port()])
    drv.rescue(inst, image(b"R" * 8192, "rescue-img"), "rescue-pw")
    vms = {r["name_label"]: r for r in vms_of(sim, inst)}
    assert vms[inst.name]["power_state"] == "Halted" and vms[inst.name + "-rescue"]["power_state"] == "Running"
    vbds = {r["userdevice"]: r for r in sim.records("VBD").values() if r["VM"] in
            {ref for ref, rec in sim.records("VM").items() if rec["name_label"] == inst.name + "-rescue"}}
    own_root = next(r for r in sim.records("VBD").values()
                    if r["userdevice"] == "0" and sim.records("VM")[r["VM"]]["name_label"] == inst.name)
    assert vbds["1"]["VDI"] == own_root["VDI"]  # the instance's disk, as the rescue VM's second disk
    assert len([r for r in sim.records("VIF").values() if r["MAC"] == "fa:16:3e:00:00:02"]) == 2
    drv.unrescue(inst)
    assert [r["name_label"] for r in vms_of(sim, inst)] == [inst.name]
    assert drv.get_power_state(inst) == PowerState.RUNNING
    assert own_root["VDI"] in sim.records("VDI")


def test_snapshot_streams_the_root_disk_and_drops_the_snapshot(sim: XapiSimulator, drv: XenServerDriver) -> None:
    inst = instance(flavor=Flavor(id="0", name="zero", vcpus=1, memory_mb=64, root_gb=0))
    drv.spawn(inst, image(), [])
    chunks: list[bytes] = []
    result = drv.snapshot(inst, chunks.append)
    assert result.disk_format == "raw"
    assert b"".join(chunks)[:len(DATA)] == DATA
    assert not [r for r in sim.records("VM").values() if r["is_a_snapshot"]]
    assert not [r for r in sim.records("VDI").values() if r["is_a_snapshot"]]


def test_a_failed_export_still_drops_the_snapshot(sim: XapiSimulator, drv: XenServerDriver) -> None:
    inst = instance()
    drv.spawn(inst, image(), [])
    sim.inject("export_raw_vdi", ["VDI_IO_ERROR", "Device I/O errors"])
    with pytest.raises(HypervisorError):
        drv.snapshot(inst, lambda b: None)
    assert not [r for r in sim.records("VM").values() if r["is_a_snapshot"]]


def test_resize_to_a_smaller_root_disk_is_refused(drv: XenServerDriver) -> None:
    inst = instance(flavor=Flavor(id="2", name="big", vcpus=1, memory_mb=64, root_gb=2))
    drv.spawn(inst, image(), [])
    with pytest.raises(HypervisorError, match="cannot shrink"):
        drv.migrate_disk_and_power_off(inst, drv.host, Flavor(id="1", name="small", vcpus=1, memory_mb=64,
                                                              root_gb=1))
    assert drv.get_power_state(inst) == PowerState.RUNNING


def test_console_output_and_vnc_console(drv: XenServerDriver) -> None:
    inst = instance()
    drv.spawn(inst, image(), [])
    assert "Linux version" in drv.get_console_output(inst)
    console = drv.get_remote_console(inst, "novnc")
    assert console.internal_access_path and console.internal_access_path.startswith("/console?ref=OpaqueRef:")
    with pytest.raises(HypervisorError, match="spice"):
        drv.get_remote_console(inst, "spice-html5")
    drv.power_off(inst)
    assert drv.get_console_output(inst) == ""


# -- volumes and interfaces -------------------------------------------------------------------------
def volume(path: str, device: str | None = "/dev/xvdb") -> BlockDevice:
    with open(path, "wb") as f:
        f.truncate(1 << 20)
    vid = str(uuidlib.uuid4())
    return BlockDevice(source_type="volume", destination_type="volume", device_name=device, volume_id=vid,
                       connection_info=ConnectionInfo(driver_volume_type=PROTOCOL_FILE, volume_id=vid,
                                                      data=FileConnection(path, "raw")))


def test_volumes_attach_through_an_sr_on_their_directory(sim: XapiSimulator, drv: XenServerDriver,
                                                         tmp_path: Any) -> None:
    inst = instance()
    drv.spawn(inst, image(), [])
    first, second = volume(str(tmp_path / "v1")), volume(str(tmp_path / "v2"), device="/dev/vdc")
    assert drv.attach_volume(inst, first) is None  # /dev/xvdb: userdevice 1
    assert drv.attach_volume(inst, second) == "/dev/xvdc"  # vdc is userdevice 2, named the Xen way
    assert drv.attach_volume(inst, first) is None  # again: nothing changes
    file_srs = [r for r in sim.records("SR").values() if r["type"] == "file"]
    assert len(file_srs) == 1
    attached = [r for r in sim.records("VBD").values() if r["userdevice"] in ("1", "2")]
    assert len(attached) == 2 and all(r["currently_attached"] for r in attached)
    drv.detach_volume(inst, first)
    drv.detach_volume(inst, first)
    assert len([r for r in sim.records("SR").values() if r["type"] == "file"]) == 1  # v2 still attached
    drv.destroy(inst, [])
    assert not [r for r in sim.records("SR").values() if r["type"] == "file"]  # forgotten, files kept
    assert (tmp_path / "v1").exists() and (tmp_path / "v2").exists()


def test_a_qcow2_volume_is_refused(drv: XenServerDriver, tmp_path: Any) -> None:
    inst = instance()
    drv.spawn(inst, image(), [])
    bd = volume(str(tmp_path / "v1"))
    assert bd.connection_info is not None
    bad = BlockDevice(source_type="volume", destination_type="volume", volume_id=bd.volume_id,
                      connection_info=ConnectionInfo(driver_volume_type=PROTOCOL_FILE, volume_id=bd.volume_id,
                                                     data=FileConnection(str(tmp_path / "v1"), "qcow2")))
    with pytest.raises(HypervisorError, match="qcow2"):
        drv.attach_volume(inst, bad)


def test_interfaces_hot_plug(sim: XapiSimulator, drv: XenServerDriver) -> None:
    inst = instance()
    drv.spawn(inst, image(), [])
    extra = port()
    drv.attach_interface(inst, extra)
    drv.attach_interface(inst, extra)  # idempotent
    (vif,) = sim.records("VIF").values()
    assert vif["currently_attached"] and vif["other_config"]["cumulo-port-id"] == extra.id
    drv.detach_interface(inst, extra)
    drv.detach_interface(inst, extra)
    assert sim.records("VIF") == {}
