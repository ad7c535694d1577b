"""Conformance suite for hypervisor drivers (``cumulo.hypervisor`` plugins).

A driver's tests subclass :class:`HypervisorConformance`, name the plugin and
provide a ``driver`` fixture returning a fresh driver for one host::

    from cumulo.interfaces.base import PluginContext
    from cumulo.testing.conformance.hypervisor import HypervisorConformance

    class TestMyDriver(HypervisorConformance):
        plugin_name = "mine"

        @pytest.fixture
        def driver(self):
            return MyDriver(PluginContext(conf, host="node-1"))

The suite checks the contract of :mod:`cumulo.interfaces.hypervisor`: the host
resource report, spawn/destroy (idempotent), power operations, InstanceNotFound
for unknown instances, and that the declared ``capabilities`` are exactly the
optional operations that work (an undeclared one raises NotImplementedByDriver),
and that every method the driver overrides matches the interface's signature.
Override :meth:`make_instance`/:meth:`image` when the driver needs more (a
real image: :attr:`image_bytes`), and :attr:`concurrent_spawns` to size the
concurrency check. :class:`cumulo.testing.conformance.disk_driver.DiskImageDriver`
is the smallest driver that uses the image reader for real; the kernel's tests
run this suite on it. A driver that reads the image sets :attr:`reads_image`,
and the suite then checks that a corrupt image fails the spawn cleanly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import uuid as uuidlib
from typing import Any, ClassVar

import pytest

from cumulo import exception
from cumulo.interfaces import hypervisor as iface
from cumulo.interfaces.base import signature_problems
from cumulo.interfaces.hypervisor import (
    CAPABILITIES,
    PROTOCOL_FILE,
    PROTOCOL_NBD,
    VIF,
    BlockDevice,
    ConnectionInfo,
    FileConnection,
    FixedIP,
    Flavor,
    HostResources,
    HypervisorDriver,
    ImageMeta,
    ImageReader,
    Instance,
    InstanceNotFound,
    PowerState,
    RemoteConsole,
    SnapshotResult,
    StreamImageReader,
)
from cumulo.testing.conformance import RegistryConformance


class HypervisorConformance(RegistryConformance):
    """What every hypervisor driver must do. Subclasses provide ``driver`` and ``plugin_name``."""

    kind: ClassVar[str] = "hypervisor"
    #: Instances spawned at once by the concurrency check.
    concurrent_spawns: ClassVar[int] = 8
    #: The bytes of the image handed to spawn/rebuild/rescue (a driver that boots
    #: real disks sets a real image, e.g. a small qcow2).
    image_bytes: ClassVar[bytes] = b"\0" * 4096
    image_format: ClassVar[str] = "raw"
    #: True for a driver that reads the image's bytes in spawn (every real one).
    reads_image: ClassVar[bool] = False

    @pytest.fixture
    def driver(self) -> HypervisorDriver:
        raise NotImplementedError("subclass HypervisorConformance and provide a 'driver' fixture")

    # -- hooks ---------------------------------------------------------------
    def flavor(self, **overrides: Any) -> Flavor:
        return dataclasses.replace(Flavor(id="1", name="m1.tiny", vcpus=1, memory_mb=64, root_gb=1), **overrides)

    def make_instance(self, **overrides: Any) -> Instance:
        u = str(uuidlib.uuid4())
        fields: dict[str, Any] = {"uuid": u, "name": f"instance-{u}", "flavor": self.flavor(),
                                  "image_ref": self.image_meta().id, "hostname": f"vm-{u[:8]}"}
        fields.update(overrides)
        return Instance(**fields)

    def image_meta(self) -> ImageMeta:
        data = self.image_bytes
        return ImageMeta(id="11111111-2222-3333-4444-555555555555", name="conformance", disk_format=self.image_format,
                         size=len(data), checksum=hashlib.md5(data, usedforsecurity=False).hexdigest(),
                         os_hash_algo="sha512", os_hash_value=hashlib.sha512(data).hexdigest())

    def image(self, tmp_cache: str | None = None) -> ImageReader:
        return StreamImageReader.from_bytes(self.image_meta(), self.image_bytes, cache_dir=tmp_cache)

    def network_info(self) -> list[VIF]:
        return [VIF(id=str(uuidlib.uuid4()), mac_address="fa:16:3e:00:00:01", network_id="net",
                    fixed_ips=(FixedIP("10.0.0.5", subnet_id="sub", prefixlen=24, gateway="10.0.0.1"),))]

    def volume(self, path: str = "/nonexistent/volume", device_name: str = "/dev/vdb") -> BlockDevice:
        """A 1 MiB raw volume file at ``path`` (created unless it is the default, for calls that fail first)."""
        vid = str(uuidlib.uuid4())
        if path != "/nonexistent/volume":
            with open(path, "wb") as f:
                f.truncate(1 << 20)
        return BlockDevice(source_type="volume", destination_type="volume", device_name=device_name, volume_id=vid,
                           connection_info=ConnectionInfo(driver_volume_type=PROTOCOL_FILE, volume_id=vid,
                                                          data=FileConnection(path, "raw")))

    def spawned(self, driver: HypervisorDriver, **overrides: Any) -> Instance:
        inst = self.make_instance(**overrides)
        driver.spawn(inst, self.image(), self.network_info(), admin_password="s3cret")
        return inst

    def requires(self, driver: HypervisorDriver, capability: str) -> None:
        if capability not in driver.capabilities:
            pytest.skip(f"driver does not declare {capability}")

    # -- the host --------------------------------------------------------------
    def test_is_a_hypervisor_driver(self, driver: HypervisorDriver) -> None:
        assert isinstance(driver, HypervisorDriver)
        assert isinstance(driver.host, str) and driver.host

    def test_capabilities_are_known(self, driver: HypervisorDriver, record_property: Any) -> None:
        # The junit report carries what the driver declares: the feature matrix's hypervisor
        # columns tell "refuses cleanly" from "works" by it (tools/feature_matrix.py).
        record_property("capabilities", " ".join(sorted(driver.capabilities)))
        assert isinstance(driver.capabilities, frozenset | set)
        unknown = set(driver.capabilities) - set(CAPABILITIES)
        assert not unknown, f"capabilities not in cumulo.interfaces.hypervisor.CAPABILITIES: {unknown}"
        assert driver.capabilities == iface.supported_capabilities(type(driver))

    def test_signatures_match_the_interface(self, driver: HypervisorDriver) -> None:
        assert signature_problems(HypervisorDriver, type(driver)) == []

    def test_host_resources_report(self, driver: HypervisorDriver) -> None:
        res = driver.get_host_resources()
        assert isinstance(res, HostResources)
        for key in ("vcpus", "memory_mb", "local_gb", "hypervisor_version"):
            value = getattr(res, key)
            assert isinstance(value, int) and not isinstance(value, bool) and value >= 0, key
        assert isinstance(res.hypervisor_type, str) and res.hypervisor_type
        assert isinstance(res.hypervisor_hostname, str) and res.hypervisor_hostname
        for key in ("vcpus_used", "memory_mb_used", "local_gb_used"):
            value = getattr(res, key)
            assert value is None or (isinstance(value, int) and value >= 0), key
        for triple in res.supported_instances:
            assert len(triple) == 3

    def test_host_names(self, driver: HypervisorDriver) -> None:
        names = type(driver).host_names(driver.conf)
        assert isinstance(names, list) and names and all(isinstance(n, str) and n for n in names)

    def test_validate_reports_lines(self, driver: HypervisorDriver) -> None:
        problems = type(driver).validate_config(driver.conf)
        assert isinstance(problems, list) and all(isinstance(p, str) for p in problems)

    # -- lifecycle -------------------------------------------------------------
    def test_spawn_runs(self, driver: HypervisorDriver) -> None:
        inst = self.spawned(driver)
        assert driver.get_power_state(inst) == PowerState.RUNNING
        states = driver.list_power_states()
        assert states.get(inst.uuid) == PowerState.RUNNING

    def test_spawn_with_a_corrupt_image_fails_and_leaves_nothing(self, driver: HypervisorDriver) -> None:
        if not self.reads_image:
            pytest.skip("the driver does not read image bytes (reads_image = False)")
        inst = self.make_instance()
        corrupt = StreamImageReader.from_bytes(self.image_meta(), b"\1" + self.image_bytes[1:])
        with pytest.raises(iface.HypervisorError):
            driver.spawn(inst, corrupt, self.network_info())
        assert inst.uuid not in driver.list_power_states()

    def test_spawn_is_idempotent(self, driver: HypervisorDriver) -> None:
        inst = self.spawned(driver)
        driver.spawn(inst, self.image(), self.network_info())
        assert driver.get_power_state(inst) == PowerState.RUNNING
        assert list(driver.list_power_states()).count(inst.uuid) == 1

    def test_destroy_removes_and_is_idempotent(self, driver: HypervisorDriver) -> None:
        inst = self.spawned(driver)
        other = self.spawned(driver)
        driver.destroy(inst, [])
        assert inst.uuid not in driver.list_power_states()
        with pytest.raises(InstanceNotFound):
            driver.get_power_state(inst)
        driver.destroy(inst, [])  # again: no error
        driver.destroy(self.make_instance(), [])  # never existed: no error
        assert driver.get_power_state(other) == PowerState.RUNNING

    @pytest.mark.parametrize("call", [
        lambda d, i: d.get_power_state(i),
        lambda d, i: d.reboot(i, hard=True),
        lambda d, i: d.power_off(i),
        lambda d, i: d.power_on(i),
    ], ids=["get_power_state", "reboot", "power_off", "power_on"])
    def test_unknown_instance_raises_not_found(self, driver: HypervisorDriver, call: Any) -> None:
        with pytest.raises(InstanceNotFound):
            call(driver, self.make_instance())

    def test_unknown_instance_optional_operations(self, driver: HypervisorDriver) -> None:
        ghost = self.make_instance()
        calls = {
            "pause": lambda: driver.pause(ghost),
            "suspend": lambda: driver.suspend(ghost),
            "rescue": lambda: driver.rescue(ghost, self.image(), "pw"),
            "snapshot": lambda: driver.snapshot(ghost, lambda b: None),
            "rebuild": lambda: driver.rebuild(ghost, self.image(), []),
            "console_output": lambda: driver.get_console_output(ghost),
            "set_admin_password": lambda: driver.set_admin_password(ghost, "pw"),
            "attach_volume": lambda: driver.attach_volume(ghost, self.volume()),
            "attach_interface": lambda: driver.attach_interface(ghost, self.network_info()[0]),
        }
        for capability, call in calls.items():
            if capability in driver.capabilities:
                with pytest.raises(InstanceNotFound):
                    call()

    def test_power_off_and_on(self, driver: HypervisorDriver) -> None:
        inst = self.spawned(driver)
        driver.power_off(inst)
        assert driver.get_power_state(inst) == PowerState.SHUTDOWN
        driver.power_off(inst)  # idempotent
        assert driver.list_power_states()[inst.uuid] == PowerState.SHUTDOWN
        driver.power_on(inst)
        assert driver.get_power_state(inst) == PowerState.RUNNING
        driver.power_on(inst)  # idempotent
        assert driver.get_power_state(inst) == PowerState.RUNNING

    def test_hard_reboot_ends_running(self, driver: HypervisorDriver) -> None:
        inst = self.spawned(driver)
        driver.power_off(inst)
        driver.reboot(inst, hard=True)
        assert driver.get_power_state(inst) == PowerState.RUNNING

    def test_concurrent_spawns(self, driver: HypervisorDriver) -> None:
        instances = [self.make_instance() for _ in range(self.concurrent_spawns)]
        errors: list[BaseException] = []

        def boot(inst: Instance) -> None:
            try:
                driver.spawn(inst, self.image(), self.network_info())
            except BaseException as err:  # reported below
                errors.append(err)

        threads = [threading.Thread(target=boot, args=(i,)) for i in instances]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors
        states = driver.list_power_states()
        assert all(states.get(i.uuid) == PowerState.RUNNING for i in instances)

    # -- optional operations: declared ones work, undeclared ones refuse -------
    def _undeclared(self, driver: HypervisorDriver, capability: str, call: Any) -> None:
        inst = self.spawned(driver)
        with pytest.raises(exception.NotImplementedByDriver):
            call(inst)

    def test_soft_reboot(self, driver: HypervisorDriver) -> None:
        inst = self.spawned(driver)
        driver.reboot(inst, hard=False)  # every driver reboots; soft_reboot says it can do it gracefully
        assert driver.get_power_state(inst) == PowerState.RUNNING

    def test_pause(self, driver: HypervisorDriver) -> None:
        if "pause" not in driver.capabilities:
            return self._undeclared(driver, "pause", driver.pause)
        inst = self.spawned(driver)
        driver.pause(inst)
        assert driver.get_power_state(inst) == PowerState.PAUSED
        driver.unpause(inst)
        assert driver.get_power_state(inst) == PowerState.RUNNING

    def test_suspend(self, driver: HypervisorDriver) -> None:
        if "suspend" not in driver.capabilities:
            return self._undeclared(driver, "suspend", driver.suspend)
        inst = self.spawned(driver)
        driver.suspend(inst)
        assert driver.get_power_state(inst) == PowerState.SUSPENDED
        driver.resume(inst)
        assert driver.get_power_state(inst) == PowerState.RUNNING

    def test_rescue(self, driver: HypervisorDriver) -> None:
        if "rescue" not in driver.capabilities:
            return self._undeclared(driver, "rescue", lambda i: driver.rescue(i, self.image(), "pw"))
        inst = self.spawned(driver)
        driver.rescue(inst, self.image(), "rescue-pw")
        assert driver.get_power_state(inst) == PowerState.RUNNING
        driver.unrescue(inst)
        assert driver.get_power_state(inst) == PowerState.RUNNING

    def test_snapshot_streams_a_disk(self, driver: HypervisorDriver) -> None:
        if "snapshot" not in driver.capabilities:
            return self._undeclared(driver, "snapshot", lambda i: driver.snapshot(i, lambda b: None))
        inst = self.spawned(driver)
        chunks: list[bytes] = []
        meta = driver.snapshot(inst, chunks.append)
        assert chunks and all(isinstance(c, bytes) for c in chunks)
        assert sum(len(c) for c in chunks) > 0
        assert isinstance(meta, SnapshotResult) and meta.disk_format and meta.container_format
        assert driver.get_power_state(inst) == PowerState.RUNNING

    def test_rebuild(self, driver: HypervisorDriver) -> None:
        if "rebuild" not in driver.capabilities:
            return self._undeclared(driver, "rebuild", lambda i: driver.rebuild(i, self.image(), []))
        inst = self.spawned(driver)
        driver.rebuild(inst, self.image(), self.network_info(), admin_password="new")
        assert driver.get_power_state(inst) == PowerState.RUNNING

    def test_console_output(self, driver: HypervisorDriver) -> None:
        if "console_output" not in driver.capabilities:
            return self._undeclared(driver, "console_output", driver.get_console_output)
        inst = self.spawned(driver)
        out = driver.get_console_output(inst)
        assert isinstance(out, str)

    def test_remote_console(self, driver: HypervisorDriver) -> None:
        if "remote_console" not in driver.capabilities:
            return self._undeclared(driver, "remote_console", lambda i: driver.get_remote_console(i, "novnc"))
        inst = self.spawned(driver)
        console = driver.get_remote_console(inst, "novnc")
        assert isinstance(console, RemoteConsole)
        assert console.host and isinstance(console.port, int) and console.token

    def test_set_admin_password(self, driver: HypervisorDriver) -> None:
        if "set_admin_password" not in driver.capabilities:
            return self._undeclared(driver, "set_admin_password", lambda i: driver.set_admin_password(i, "pw"))
        inst = self.spawned(driver)
        driver.set_admin_password(inst, "n3w-pass")
        assert driver.get_power_state(inst) == PowerState.RUNNING

    def test_attach_detach_volume(self, driver: HypervisorDriver, tmp_path: Any) -> None:
        volume = self.volume(str(tmp_path / "volume.raw"))
        if "attach_volume" not in driver.capabilities:
            return self._undeclared(driver, "attach_volume", lambda i: driver.attach_volume(i, volume))
        # the compute area asks the volume area for a transport the driver names
        assert PROTOCOL_FILE in driver.volume_protocols or PROTOCOL_NBD in driver.volume_protocols
        inst = self.spawned(driver)
        used = driver.attach_volume(inst, volume)
        assert used is None or (isinstance(used, str) and used.startswith("/dev/") and used != volume.device_name)
        driver.detach_volume(inst, volume)
        driver.detach_volume(inst, volume)  # idempotent
        assert driver.get_power_state(inst) == PowerState.RUNNING

    def test_attach_detach_interface(self, driver: HypervisorDriver) -> None:
        port = self.network_info()[0]
        if "attach_interface" not in driver.capabilities:
            return self._undeclared(driver, "attach_interface", lambda i: driver.attach_interface(i, port))
        inst = self.spawned(driver)
        driver.attach_interface(inst, port)
        driver.detach_interface(inst, port)
        assert driver.get_power_state(inst) == PowerState.RUNNING

    def test_resize_confirm(self, driver: HypervisorDriver) -> None:
        if "resize" not in driver.capabilities:
            return self._undeclared(driver, "resize",
                                    lambda i: driver.migrate_disk_and_power_off(i, driver.host, self.flavor()))
        inst = self.spawned(driver)
        bigger = self.flavor(id="2", name="m1.small", vcpus=2, memory_mb=128, root_gb=2)
        disk_info = driver.migrate_disk_and_power_off(inst, driver.host, bigger)
        json.dumps(disk_info)  # crosses hosts by RPC
        resized = dataclasses.replace(inst, flavor=bigger)
        driver.finish_migration(resized, disk_info, self.network_info(), self.image_meta(), True, power_on=True)
        assert driver.get_power_state(resized) == PowerState.RUNNING
        driver.confirm_migration(resized, [])
        assert driver.get_power_state(resized) == PowerState.RUNNING
        assert list(driver.list_power_states()).count(inst.uuid) == 1

    def test_resize_revert(self, driver: HypervisorDriver) -> None:
        self.requires(driver, "resize")
        inst = self.spawned(driver)
        bigger = self.flavor(id="2", name="m1.small", vcpus=2, memory_mb=128, root_gb=2)
        disk_info = driver.migrate_disk_and_power_off(inst, driver.host, bigger)
        resized = dataclasses.replace(inst, flavor=bigger)
        driver.finish_migration(resized, disk_info, self.network_info(), self.image_meta(), True, power_on=True)
        driver.destroy(resized, [])  # the destination drops its copy, then the source takes over
        driver.finish_revert_migration(inst, self.network_info(), power_on=True)
        assert driver.get_power_state(inst) == PowerState.RUNNING

    def test_interface_version_is_declared(self, driver: HypervisorDriver) -> None:
        assert type(driver).interface_version is not None
        assert iface.HypervisorDriver.INTERFACE_VERSION.split(".")[0] == str(type(driver).interface_version).split(".")[0]
