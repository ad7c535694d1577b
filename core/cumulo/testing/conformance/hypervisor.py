"""Conformance suite for hypervisor drivers (``cumulo.hypervisor`` plugins).

A driver's tests subclass :class:`HypervisorConformance`, name the plugin and
provide a ``driver`` fixture returning a fresh driver for one host::

    from cumulo.testing.conformance.hypervisor import HypervisorConformance

    class TestMyDriver(HypervisorConformance):
        plugin_name = "mine"

        @pytest.fixture
        def driver(self):
            return MyDriver(host="node-1")

The suite checks the contract of :mod:`cumulo.interfaces.hypervisor`: the host
resource report, spawn/destroy (idempotent), power operations, InstanceNotFound
for unknown instances, and that the declared ``capabilities`` are exactly the
optional operations that work (an undeclared one raises NotImplementedByDriver).
Override :meth:`make_instance`/:meth:`image` when the driver needs more, and
:attr:`concurrent_spawns` to size the concurrency check.
"""

from __future__ import annotations

import threading
import uuid as uuidlib
from typing import Any, ClassVar

import pytest

from cumulo import exception
from cumulo.interfaces import hypervisor as iface
from cumulo.interfaces.hypervisor import CAPABILITIES, HypervisorDriver, InstanceNotFound, PowerState
from cumulo.testing.conformance import RegistryConformance

RESOURCE_KEYS = {
    "vcpus": int, "memory_mb": int, "local_gb": int, "hypervisor_type": str,
    "hypervisor_version": int, "hypervisor_hostname": str,
}


class HypervisorConformance(RegistryConformance):
    """What every hypervisor driver must do. Subclasses provide ``driver`` and ``plugin_name``."""

    kind: ClassVar[str] = "hypervisor"
    #: Instances spawned at once by the concurrency check.
    concurrent_spawns: ClassVar[int] = 8

    @pytest.fixture
    def driver(self) -> HypervisorDriver:
        raise NotImplementedError("subclass HypervisorConformance and provide a 'driver' fixture")

    # -- hooks ---------------------------------------------------------------
    def make_instance(self, **overrides: Any) -> dict[str, Any]:
        u = str(uuidlib.uuid4())
        inst = {"uuid": u, "name": f"instance-{u[:8]}", "vcpus": 1, "memory_mb": 64, "root_gb": 1,
                "ephemeral_gb": 0, "image_ref": "11111111-2222-3333-4444-555555555555",
                "user_data": None, "metadata": {}}
        inst.update(overrides)
        return inst

    def image(self) -> dict[str, Any]:
        return {"id": "11111111-2222-3333-4444-555555555555", "disk_format": "raw",
                "container_format": "bare", "properties": {}}

    def network_info(self) -> list[dict[str, Any]]:
        return [{"id": str(uuidlib.uuid4()), "mac_address": "fa:16:3e:00:00:01", "network_id": "net",
                 "fixed_ips": [{"ip_address": "10.0.0.5", "subnet_id": "sub"}]}]

    def spawned(self, driver: HypervisorDriver, **overrides: Any) -> dict[str, Any]:
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

    def test_capabilities_are_known(self, driver: HypervisorDriver) -> None:
        assert isinstance(driver.capabilities, frozenset | set)
        unknown = set(driver.capabilities) - set(CAPABILITIES)
        assert not unknown, f"capabilities not in cumulo.interfaces.hypervisor.CAPABILITIES: {unknown}"

    def test_host_resources_report(self, driver: HypervisorDriver) -> None:
        res = driver.get_host_resources()
        for key, typ in RESOURCE_KEYS.items():
            assert key in res, f"get_host_resources() lacks {key}"
            assert isinstance(res[key], typ) and not isinstance(res[key], bool), f"{key} is not {typ.__name__}"
        for key in ("vcpus", "memory_mb", "local_gb"):
            assert res[key] >= 0
        assert "cpu_info" in res
        for key in ("vcpus_used", "memory_mb_used", "local_gb_used"):
            if key in res:
                assert isinstance(res[key], int) and res[key] >= 0
        for triple in res.get("supported_instances") or []:
            assert len(triple) == 3

    def test_host_names(self, driver: HypervisorDriver) -> None:
        names = type(driver).host_names()
        assert isinstance(names, list) and names and all(isinstance(n, str) and n for n in names)

    # -- lifecycle -------------------------------------------------------------
    def test_spawn_runs(self, driver: HypervisorDriver) -> None:
        inst = self.spawned(driver)
        assert driver.get_power_state(inst) == PowerState.RUNNING
        states = driver.list_power_states()
        assert states.get(inst["uuid"]) == PowerState.RUNNING

    def test_spawn_is_idempotent(self, driver: HypervisorDriver) -> None:
        inst = self.spawned(driver)
        driver.spawn(inst, self.image(), self.network_info())
        assert driver.get_power_state(inst) == PowerState.RUNNING
        assert list(driver.list_power_states()).count(inst["uuid"]) == 1

    def test_destroy_removes_and_is_idempotent(self, driver: HypervisorDriver) -> None:
        inst = self.spawned(driver)
        other = self.spawned(driver)
        driver.destroy(inst, [])
        assert inst["uuid"] not in driver.list_power_states()
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
            "attach_volume": lambda: driver.attach_volume(ghost, {"driver_volume_type": "fake"}, "/dev/vdb"),
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
        assert driver.list_power_states()[inst["uuid"]] == PowerState.SHUTDOWN
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

        def boot(inst: dict[str, Any]) -> None:
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
        assert all(states.get(i["uuid"]) == PowerState.RUNNING for i in instances)

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
        assert meta.get("disk_format") and meta.get("container_format")
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
        for key in ("host", "port", "internal_access_path", "token"):
            assert key in console, f"remote console lacks {key}"
        assert console["token"]

    def test_set_admin_password(self, driver: HypervisorDriver) -> None:
        if "set_admin_password" not in driver.capabilities:
            return self._undeclared(driver, "set_admin_password", lambda i: driver.set_admin_password(i, "pw"))
        inst = self.spawned(driver)
        driver.set_admin_password(inst, "n3w-pass")
        assert driver.get_power_state(inst) == PowerState.RUNNING

    def test_attach_detach_volume(self, driver: HypervisorDriver) -> None:
        info = {"driver_volume_type": "fake", "data": {"volume_id": "v1"}}
        if "attach_volume" not in driver.capabilities:
            return self._undeclared(driver, "attach_volume", lambda i: driver.attach_volume(i, info, "/dev/vdb"))
        inst = self.spawned(driver)
        driver.attach_volume(inst, info, "/dev/vdb")
        driver.detach_volume(inst, info, "/dev/vdb")
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
                                    lambda i: driver.migrate_disk_and_power_off(i, driver.host, {}))
        inst = self.spawned(driver)
        bigger = {"vcpus": 2, "memory_mb": 128, "root_gb": 2, "ephemeral_gb": 0}
        disk_info = driver.migrate_disk_and_power_off(inst, driver.host, {**bigger, "disk": 2, "ram": 128})
        assert isinstance(disk_info, dict)
        resized = {**inst, **bigger}
        driver.finish_migration(resized, disk_info, self.network_info(), self.image(), True, power_on=True)
        assert driver.get_power_state(resized) == PowerState.RUNNING
        driver.confirm_migration(resized, [])
        assert driver.get_power_state(resized) == PowerState.RUNNING
        assert list(driver.list_power_states()).count(inst["uuid"]) == 1

    def test_resize_revert(self, driver: HypervisorDriver) -> None:
        self.requires(driver, "resize")
        inst = self.spawned(driver)
        bigger = {"vcpus": 2, "memory_mb": 128, "root_gb": 2, "ephemeral_gb": 0}
        disk_info = driver.migrate_disk_and_power_off(inst, driver.host, {**bigger, "disk": 2, "ram": 128})
        resized = {**inst, **bigger}
        driver.finish_migration(resized, disk_info, self.network_info(), self.image(), True, power_on=True)
        driver.destroy(resized, [])  # the destination drops its copy, then the source takes over
        driver.finish_revert_migration(inst, self.network_info(), power_on=True)
        assert driver.get_power_state(inst) == PowerState.RUNNING

    def test_interface_version_is_declared(self, driver: HypervisorDriver) -> None:
        assert type(driver).interface_version is not None
        assert iface.HypervisorDriver.INTERFACE_VERSION.split(".")[0] == str(type(driver).interface_version).split(".")[0]
