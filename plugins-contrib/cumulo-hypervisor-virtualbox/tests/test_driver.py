"""The VirtualBox driver's own behaviour against the VBoxManage simulator: what it asks VirtualBox for,
and that a VBoxManage failure mid-spawn leaves nothing behind."""

from __future__ import annotations

import hashlib
import os
import struct
import uuid as uuidlib
from collections.abc import Callable
from typing import Any

import pytest
from cumulo_hypervisor_virtualbox.driver import VirtualBoxDriver
from cumulo_hypervisor_virtualbox.vboxmanage import VBoxManageError

from cumulo import exception
from cumulo.interfaces.hypervisor import (
    VIF,
    Flavor,
    HypervisorError,
    ImageMeta,
    ImageVerificationError,
    Instance,
    InstanceNotFound,
    PowerState,
    StreamImageReader,
)

MakeDriver = Callable[..., VirtualBoxDriver]
Sim = Any  # conftest.Sim (test modules are imported by path: conftest is not importable)
IMAGE = bytes(range(256)) * 16  # 4 KiB, whole sectors


def instance(**overrides: Any) -> Instance:
    u = str(uuidlib.uuid4())
    fields: dict[str, Any] = {"uuid": u, "name": f"instance-{u}", "image_ref": "img",
                              "flavor": Flavor(id="1", name="m1.tiny", vcpus=2, memory_mb=96, root_gb=1)}
    return Instance(**(fields | overrides))


def reader(data: bytes = IMAGE, image_id: str = "img-1", disk_format: str = "raw") -> StreamImageReader:
    meta = ImageMeta(id=image_id, disk_format=disk_format, size=len(data),
                     checksum=hashlib.md5(data, usedforsecurity=False).hexdigest())
    return StreamImageReader.from_bytes(meta, data)


def vif(mac: str = "fa:16:3e:00:00:01", **kw: Any) -> VIF:
    return VIF(**({"id": str(uuidlib.uuid4()), "mac_address": mac, "network_id": "n"} | kw))


def vminfo(sim: Sim, ref: str) -> dict[str, str]:
    values = {}
    for line in sim("showvminfo", ref, "--machinereadable").stdout.splitlines():
        key, _, value = line.partition("=")
        values[key.strip('"')] = value.strip('"')
    return values


def assert_nothing_left(sim: Sim, inst: Instance) -> None:
    assert sim.vms() == []
    assert not os.path.exists(sim.machines / inst.name)
    assert [p for p in sim.hdd_locations() if not p.startswith(str(sim.images))] == []


# -- spawn and its failures ---------------------------------------------------------------------------
def test_spawn_creates_the_machine_vbox_users_know(sim: Sim, make_driver: MakeDriver) -> None:
    drv = make_driver(host="node-a")
    inst = instance()
    drv.spawn(inst, reader(), [vif(), vif("fa:16:3e:00:00:02")])
    info = vminfo(sim, inst.uuid)
    assert (info["name"], info["UUID"], info["groups"], info["VMState"]) == (inst.name, inst.uuid, "/cumulo/node-a",
                                                                           "running")
    assert (info["memory"], info["cpus"]) == ("96", "2")
    assert (info["nic1"], info["hostonlyadapter1"], info["macaddress1"]) == ("hostonly", "vboxnet0", "FA163E000001")
    assert info["macaddress2"] == "FA163E000002" and info["nic3"] == "none"
    disk = sim.machines / inst.name / "disk.vdi"
    assert info["SATA-0-0"] == str(disk)
    assert info["uartmode1"] == f"file,{sim.machines / inst.name / 'console.log'}"
    assert (info["vrde"], info["vrdeports"], info["vrdeaddress"]) == ("on", "5000-5099", "127.0.0.1")
    with open(disk, "rb") as f:  # the image's bytes, in a disk grown to the flavor's 1 GiB
        header = f.read(512)
        assert struct.unpack_from("<Q", header, 0x170)[0] == 1024 ** 3
        assert f.read() == IMAGE
    assert sim.hdd_locations().count(str(sim.images / "img-1.vdi")) == 1  # the base VDI, kept for the next


def test_bridged_adapters_follow_the_port_binding(sim: Sim, make_driver: MakeDriver) -> None:
    drv = make_driver(nic_mode="bridged")
    inst = instance()
    drv.spawn(inst, reader(), [vif(bridge="brq1234")])
    info = vminfo(sim, inst.uuid)
    assert (info["nic1"], info["bridgeadapter1"]) == ("bridged", "brq1234")


def test_a_port_without_a_bridge_fails_before_anything_exists(sim: Sim, make_driver: MakeDriver) -> None:
    drv = make_driver(nic_mode="bridged")
    inst = instance()
    with pytest.raises(HypervisorError, match="no host bridge"):
        drv.spawn(inst, reader(), [vif()])
    assert_nothing_left(sim, inst)


@pytest.mark.parametrize("command", ["createvm", "clonemedium", "modifymedium", "modifyvm", "storagectl",
                                     "storageattach", "startvm"])
def test_a_vboxmanage_error_mid_spawn_leaves_nothing_behind(sim: Sim, make_driver: MakeDriver, command: str) -> None:
    drv = make_driver()
    drv.cache.base_vdi(reader())  # the base exists: the failing clonemedium is the instance's
    sim.fail(command, code="VBOX_E_IPRT_ERROR", message=f"Simulated trouble in {command} (VERR_DISK_FULL)")
    inst = instance()
    with pytest.raises(VBoxManageError) as caught:
        drv.spawn(inst, reader(), [vif()])
    assert f"Simulated trouble in {command} (VERR_DISK_FULL)" in str(caught.value)
    assert caught.value.code == "VBOX_E_IPRT_ERROR"
    assert_nothing_left(sim, inst)
    assert inst.uuid not in drv.list_power_states()


def test_a_failed_image_conversion_caches_nothing(sim: Sim, make_driver: MakeDriver) -> None:
    drv = make_driver()
    sim.fail("convertfromraw", times=1, message="Cannot create the disk image: VERR_DISK_FULL")
    inst = instance()
    with pytest.raises(VBoxManageError, match="VERR_DISK_FULL"):
        drv.spawn(inst, reader(), [])
    assert os.listdir(sim.images) == []
    drv.spawn(inst, reader(), [])  # the fault has passed: a retry works
    assert drv.get_power_state(inst) == PowerState.RUNNING


def test_a_corrupt_image_fails_cleanly(sim: Sim, make_driver: MakeDriver) -> None:
    drv = make_driver()
    inst = instance()
    good = reader()
    corrupt = StreamImageReader.from_bytes(good.meta, b"\1" + IMAGE[1:])
    with pytest.raises(ImageVerificationError):
        drv.spawn(inst, corrupt, [])
    assert_nothing_left(sim, inst)
    assert os.listdir(sim.images) == []


def test_qcow2_images_are_cloned_by_vboxmanage(sim: Sim, make_driver: MakeDriver) -> None:
    qcow2 = bytearray(512)
    qcow2[:4] = b"QFI\xfb"
    struct.pack_into(">IQ", qcow2, 4, 3, 0)
    struct.pack_into(">Q", qcow2, 24, 2 * 1024 ** 3)  # virtual size: 2 GiB
    drv = make_driver()
    inst = instance()
    drv.spawn(inst, reader(bytes(qcow2), "img-q", "qcow2"), [])
    assert "Capacity:       2048 MBytes" in sim("showmediuminfo", "disk", str(sim.machines / inst.name / "disk.vdi")).stdout
    assert not any(p.endswith(".download") for p in sim.hdd_locations())  # the source was closed again


def test_unknown_disk_formats_are_refused(make_driver: MakeDriver) -> None:
    with pytest.raises(HypervisorError, match="cannot boot disk format 'iso'"):
        make_driver().spawn(instance(), reader(disk_format="iso"), [])


# -- power, ownership ----------------------------------------------------------------------------------
def test_power_off_presses_the_acpi_button_first(sim: Sim, make_driver: MakeDriver) -> None:
    drv = make_driver()
    inst = instance()
    drv.spawn(inst, reader(), [])
    drv.power_off(inst, timeout=5)
    assert drv.get_power_state(inst) == PowerState.SHUTDOWN


def test_a_guest_ignoring_acpi_is_powered_off_after_the_timeout(sim: Sim, make_driver: MakeDriver) -> None:
    drv = make_driver(shutdown_timeout=1)
    inst = instance()
    drv.spawn(inst, reader(), [])
    sim.set(guest_ignores_acpi=True)
    drv.power_off(inst, timeout=1)
    assert drv.get_power_state(inst) == PowerState.SHUTDOWN
    drv.power_on(inst)
    drv.reboot(inst, hard=False)  # ACPI ignored: reset after shutdown_timeout
    assert drv.get_power_state(inst) == PowerState.RUNNING
    assert "reset" in drv.get_console_output(inst)


def test_suspend_is_savestate(sim: Sim, make_driver: MakeDriver) -> None:
    drv = make_driver()
    inst = instance()
    drv.spawn(inst, reader(), [])
    drv.suspend(inst)
    assert vminfo(sim, inst.uuid)["VMState"] == "saved"
    drv.power_off(inst)  # a saved state is discarded
    assert vminfo(sim, inst.uuid)["VMState"] == "poweroff"


def test_machines_of_another_host_are_not_this_hosts(sim: Sim, make_driver: MakeDriver) -> None:
    a, b = make_driver(host="node-a"), make_driver(host="node-b")
    inst = instance()
    a.spawn(inst, reader(), [])
    assert inst.uuid not in b.list_power_states()
    with pytest.raises(InstanceNotFound):
        b.get_power_state(inst)
    b.destroy(inst, [])
    assert a.get_power_state(inst) == PowerState.RUNNING
    with pytest.raises(HypervisorError, match="belongs to node-a"):
        b.spawn(inst, reader(), [])


def test_a_machine_stopped_behind_our_back_is_started_by_a_retried_spawn(sim: Sim, make_driver: MakeDriver) -> None:
    drv = make_driver()
    inst = instance()
    drv.spawn(inst, reader(), [])
    sim("controlvm", inst.uuid, "poweroff")
    drv.spawn(inst, reader(), [])
    assert drv.get_power_state(inst) == PowerState.RUNNING


def test_errors_carry_virtualbox_s_message(sim: Sim, make_driver: MakeDriver) -> None:
    drv = make_driver()
    inst = instance()
    drv.spawn(inst, reader(), [])
    sim.fail("controlvm pause", message="Cannot pause the machine as it is not running (machine state: Stuck)",
             code="VBOX_E_INVALID_VM_STATE")
    with pytest.raises(VBoxManageError) as caught:
        drv.pause(inst)
    assert str(caught.value) == (f"pause of {inst.uuid} failed: Cannot pause the machine as it is not running "
                                 "(machine state: Stuck)")
    assert caught.value.code == "VBOX_E_INVALID_VM_STATE"


def test_a_hung_vboxmanage_is_killed(sim: Sim, make_driver: MakeDriver, tmp_path: Any) -> None:
    hung = tmp_path / "hung-VBoxManage"
    hung.write_text("#!/bin/sh\nsleep 30\n")
    hung.chmod(0o755)
    drv = make_driver(vboxmanage_path=str(hung), command_timeout=1)
    with pytest.raises(HypervisorError, match="did not finish in 1 s"):
        drv.list_power_states()


# -- snapshot, consoles ----------------------------------------------------------------------------------
def test_snapshot_streams_the_disk_and_leaves_no_snapshot(sim: Sim, make_driver: MakeDriver) -> None:
    drv = make_driver()
    inst = instance()
    drv.spawn(inst, reader(), [])
    chunks: list[bytes] = []
    result = drv.snapshot(inst, chunks.append)
    data = b"".join(chunks)
    assert result.disk_format == "vdi"
    assert data.startswith(b"<<< Oracle VM VirtualBox Disk Image >>>\n") and data[512:] == IMAGE
    info = vminfo(sim, inst.uuid)
    assert "SnapshotName" not in info and info["VMState"] == "running"
    assert info["SATA-0-0"] == str(sim.machines / inst.name / "disk.vdi")  # merged back
    assert sorted(os.listdir(sim.machines / inst.name)) == ["Snapshots", "console.log", "disk.vdi",
                                                            f"{inst.name}.vbox"]
    assert os.listdir(sim.machines / inst.name / "Snapshots") == []


def test_a_failed_export_deletes_the_snapshot(sim: Sim, make_driver: MakeDriver) -> None:
    drv = make_driver()
    inst = instance()
    drv.spawn(inst, reader(), [])
    sim.fail("clonemedium", times=1, message="Could not create the clone medium (VERR_DISK_FULL)")
    with pytest.raises(VBoxManageError, match="VERR_DISK_FULL"):
        drv.snapshot(inst, lambda chunk: None)
    assert "SnapshotName" not in vminfo(sim, inst.uuid)


def test_console_output_is_the_serial_port_file(sim: Sim, make_driver: MakeDriver) -> None:
    drv = make_driver()
    inst = instance()
    drv.spawn(inst, reader(), [])
    assert f"{inst.name} powered on" in drv.get_console_output(inst)


def test_vnc_consoles_set_a_fresh_password(sim: Sim, make_driver: MakeDriver) -> None:
    drv = make_driver()
    inst = instance()
    drv.spawn(inst, reader(), [])
    first = drv.get_remote_console(inst, "novnc")
    assert (first.console_type, first.host, first.port) == ("novnc", "127.0.0.1", 5000)
    assert vminfo(sim, inst.uuid)["vrdeproperty[VNCPassword]"] == first.token
    second = drv.get_remote_console(inst, "novnc")
    assert second.token != first.token and vminfo(sim, inst.uuid)["vrdeproperty[VNCPassword]"] == second.token
    other = instance()
    drv.spawn(other, reader(), [])
    assert drv.get_remote_console(other, "novnc").port == 5001
    with pytest.raises(exception.Invalid):
        drv.get_remote_console(inst, "spice-html5")


def test_rdp_consoles(make_driver: MakeDriver) -> None:
    drv = make_driver(vrde_protocol="rdp")
    inst = instance()
    drv.spawn(inst, reader(), [])
    console = drv.get_remote_console(inst, "rdp-html5")
    assert console.url == f"rdp://127.0.0.1:{console.port}"
    with pytest.raises(exception.Invalid):
        drv.get_remote_console(inst, "novnc")
    drv.power_off(inst)
    with pytest.raises(HypervisorError, match="no VRDE server"):
        drv.get_remote_console(inst, "rdp-html5")


# -- resize ------------------------------------------------------------------------------------------
def test_resize_grows_the_disk_and_confirm_drops_the_copy(sim: Sim, make_driver: MakeDriver) -> None:
    drv = make_driver()
    inst = instance()
    drv.spawn(inst, reader(), [])
    bigger = Flavor(id="2", name="m1.small", vcpus=1, memory_mb=192, root_gb=3)
    disk_info = drv.migrate_disk_and_power_off(inst, drv.host, bigger)
    assert os.path.exists(disk_info["kept_disk"]) and str(disk_info["kept_disk"]) not in sim.hdd_locations()
    resized = Instance(**{**inst.__dict__, "flavor": bigger})
    drv.finish_migration(resized, disk_info, [], ImageMeta(id="img-1"), True)
    info = vminfo(sim, inst.uuid)
    assert (info["memory"], info["cpus"], info["VMState"]) == ("192", "1", "running")
    assert "Capacity:       3072 MBytes" in sim("showmediuminfo", "disk", info["SATA-0-0"]).stdout
    drv.confirm_migration(resized, [])
    assert not os.path.exists(sim.machines / "_resize" / inst.uuid)


def test_resize_refuses_to_shrink(make_driver: MakeDriver) -> None:
    drv = make_driver()
    inst = instance(flavor=Flavor(id="2", name="m1.small", vcpus=1, memory_mb=96, root_gb=2))
    drv.spawn(inst, reader(), [])
    with pytest.raises(HypervisorError, match="cannot shrink"):
        drv.migrate_disk_and_power_off(inst, drv.host, Flavor(id="1", name="m1.tiny", vcpus=1, memory_mb=64,
                                                              root_gb=1))
    assert drv.get_power_state(inst) == PowerState.RUNNING


# -- configuration -------------------------------------------------------------------------------------
def test_validate_config_names_the_problems(make_driver: MakeDriver) -> None:
    drv = make_driver(vboxmanage_path="/nonexistent/VBoxManage", vrde_ports="6000-5000")
    problems = VirtualBoxDriver.validate_config(drv.conf)
    assert any("vboxmanage_path" in p and "/nonexistent/VBoxManage" in p for p in problems)
    assert any("vrde_ports" in p for p in problems)
    assert VirtualBoxDriver.validate_config(make_driver().conf) == []


def test_host_resources(make_driver: MakeDriver) -> None:
    res = make_driver().get_host_resources()
    assert res.hypervisor_type == "vbox" and res.hypervisor_version == 7_000_014
    assert res.vcpus == os.cpu_count() and res.memory_mb > 0
