"""The fake hypervisor: the conformance suite plus its own testing aids."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from cumulo_hypervisor_fake.driver import FakeDriver, register_opts
from oslo_config import cfg

from cumulo import exception, registry
from cumulo.interfaces.hypervisor import CAPABILITIES, HypervisorDriver, HypervisorError, InstanceNotFound, PowerState
from cumulo.testing.conformance import RegistryConformance
from cumulo.testing.conformance.hypervisor import HypervisorConformance


def make_conf(**overrides: Any) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    register_opts(conf)
    overrides.setdefault("persist", False)  # in memory unless a test asks for persistence
    for name, value in overrides.items():
        conf.set_override(name, value, group="hypervisor_fake")
    return conf


class TestFakeConformance(HypervisorConformance):
    plugin_name = "fake"

    @pytest.fixture
    def driver(self) -> FakeDriver:
        return FakeDriver(host="fake-1", conf=make_conf())


class TestFakeSpecifics(RegistryConformance):
    kind = "hypervisor"
    plugin_name = "fake"

    @staticmethod
    def instance(**kw: Any) -> dict[str, Any]:
        import uuid

        u = str(uuid.uuid4())
        return {"uuid": u, "name": f"vm-{u[:4]}", "vcpus": 2, "memory_mb": 512, "root_gb": 10,
                "ephemeral_gb": 1, "image_ref": "img-1", **kw}

    def test_declares_every_capability(self) -> None:
        assert FakeDriver.capabilities == frozenset(CAPABILITIES)

    def test_loaded_through_registry_with_host(self) -> None:
        drv = registry.load_driver("hypervisor", "fake", host="fake-17")
        assert isinstance(drv, FakeDriver) and drv.host == "fake-17"

    def test_host_names_follow_options(self) -> None:
        conf = make_conf(host_count=3, host_prefix="node")
        assert FakeDriver.host_names(conf) == ["node-1", "node-2", "node-3"]
        assert FakeDriver.host_names(make_conf()) == ["fake-1", "fake-2", "fake-3", "fake-4"]

    def test_resources_follow_options_and_usage(self) -> None:
        drv = FakeDriver("h", conf=make_conf(vcpus=8, memory_mb=4096, local_gb=100))
        drv.spawn(self.instance(), {"id": "img-1"}, [])
        res = drv.get_host_resources()
        assert (res["vcpus"], res["memory_mb"], res["local_gb"]) == (8, 4096, 100)
        assert (res["vcpus_used"], res["memory_mb_used"], res["local_gb_used"]) == (2, 512, 11)
        assert res["hypervisor_hostname"] == "h" and res["hypervisor_type"] == "fake"
        assert ["x86_64", "fake", "hvm"] in res["supported_instances"]

    def test_hosts_are_independent(self) -> None:
        conf = make_conf()
        a, b = FakeDriver("fake-1", conf=conf), FakeDriver("fake-2", conf=conf)
        inst = self.instance()
        a.spawn(inst, {}, [])
        assert inst["uuid"] in a.list_power_states()
        assert b.list_power_states() == {}
        with pytest.raises(InstanceNotFound):
            b.get_power_state(inst)

    def test_spawn_latency_and_default_latency(self) -> None:
        drv = FakeDriver("h", conf=make_conf(spawn_latency=0.2, default_latency=0.0))
        inst = self.instance()
        t0 = time.monotonic()
        drv.spawn(inst, {}, [])
        assert time.monotonic() - t0 >= 0.2
        t0 = time.monotonic()
        drv.power_off(inst)
        assert time.monotonic() - t0 < 0.15

    def test_operation_latency(self) -> None:
        drv = FakeDriver("h", conf=make_conf(operation_latency={"reboot": "0.15"}))
        inst = self.instance()
        drv.spawn(inst, {}, [])
        t0 = time.monotonic()
        drv.reboot(inst, hard=False)
        assert time.monotonic() - t0 >= 0.15

    def test_latency_does_not_serialise_instances(self) -> None:
        drv = FakeDriver("h", conf=make_conf(spawn_latency=0.2))
        threads = [threading.Thread(target=drv.spawn, args=(self.instance(), {}, [])) for _ in range(5)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert time.monotonic() - t0 < 0.8
        assert len(drv.list_power_states()) == 5

    def test_fail_spawn_hosts(self) -> None:
        conf = make_conf(fail_spawn_hosts=["fake-2"])
        bad, good = FakeDriver("fake-2", conf=conf), FakeDriver("fake-1", conf=conf)
        inst = self.instance()
        with pytest.raises(HypervisorError, match="fake-2"):
            bad.spawn(inst, {}, [])
        assert bad.list_power_states() == {}  # nothing left behind
        good.spawn(inst, {}, [])
        assert good.get_power_state(inst) == PowerState.RUNNING

    def test_fail_operations(self) -> None:
        conf = make_conf(fail_operations=["reboot@fake-1", "snapshot"])
        drv = FakeDriver("fake-1", conf=conf)
        other = FakeDriver("fake-3", conf=conf)
        inst = self.instance()
        drv.spawn(inst, {}, [])
        other.spawn(inst, {}, [])
        with pytest.raises(HypervisorError):
            drv.reboot(inst, hard=True)
        other.reboot(inst, hard=True)
        with pytest.raises(HypervisorError):
            other.snapshot(inst, lambda b: None)

    def test_state_transitions(self) -> None:
        drv = FakeDriver("h", conf=make_conf())
        inst = self.instance()
        drv.spawn(inst, {}, [])
        drv.power_off(inst)
        with pytest.raises(HypervisorError):
            drv.pause(inst)
        with pytest.raises(HypervisorError):
            drv.resume(inst)
        with pytest.raises(HypervisorError):
            drv.set_admin_password(inst, "x")
        drv.power_on(inst)
        drv.pause(inst)
        drv.pause(inst)  # idempotent
        assert drv.get_power_state(inst) == PowerState.PAUSED
        drv.suspend(inst)  # a paused guest can be suspended
        assert drv.get_power_state(inst) == PowerState.SUSPENDED
        drv.resume(inst)
        assert drv.get_power_state(inst) == PowerState.RUNNING

    def test_rescue_records_image_and_unrescue(self) -> None:
        drv = FakeDriver("h", conf=make_conf())
        inst = self.instance()
        drv.spawn(inst, {"id": "img-1"}, [])
        drv.rescue(inst, {"id": "rescue-img"}, "pw")
        rec = drv.get_instance(inst["uuid"])
        assert rec["rescued"] and rec["rescue_image_ref"] == "rescue-img"
        drv.unrescue(inst)
        drv.unrescue(inst)  # idempotent
        assert not drv.get_instance(inst["uuid"])["rescued"]

    def test_snapshot_is_deterministic(self) -> None:
        drv = FakeDriver("h", conf=make_conf(snapshot_size=200_000))
        inst = self.instance()
        drv.spawn(inst, {"id": "img-1"}, [])
        first: list[bytes] = []
        second: list[bytes] = []
        meta = drv.snapshot(inst, first.append)
        drv.snapshot(inst, second.append)
        data = b"".join(first)
        assert len(data) == 200_000 == meta["size"]
        assert data == b"".join(second)
        assert len(first) > 1  # streamed in chunks
        assert (meta["disk_format"], meta["container_format"]) == ("raw", "bare")

    def test_console_output_is_a_boot_log(self) -> None:
        drv = FakeDriver("fake-9", conf=make_conf())
        inst = self.instance(name="web-1")
        drv.spawn(inst, {}, [])
        log = drv.get_console_output(inst)
        assert "web-1 login:" in log and inst["uuid"] in log and "fake-9" in log
        drv.reboot(inst, hard=False)
        assert drv.get_console_output(inst).count("login:") == 2

    def test_remote_console(self) -> None:
        drv = FakeDriver("h", conf=make_conf())
        inst = self.instance()
        drv.spawn(inst, {}, [])
        one = drv.get_remote_console(inst, "novnc")
        two = drv.get_remote_console(inst, "novnc")
        assert one["token"] != two["token"] and one["port"] == two["port"] >= 5900
        assert one["token"] in one["url"] and one["protocol"] == "vnc"
        assert drv.get_remote_console(inst, "spice-html5")["protocol"] == "spice"
        with pytest.raises(exception.Invalid):
            drv.get_remote_console(inst, "telnet")

    def test_password_volumes_interfaces_recorded(self) -> None:
        drv = FakeDriver("h", conf=make_conf())
        inst = self.instance()
        drv.spawn(inst, {}, [{"id": "p1", "mac_address": "fa:16:3e:00:00:01"}], admin_password="a")
        drv.set_admin_password(inst, "b")
        drv.attach_volume(inst, {"data": {"volume_id": "v1"}}, "/dev/vdb")
        drv.attach_volume(inst, {"data": {"volume_id": "v1"}}, "/dev/vdb")  # same again: fine
        with pytest.raises(HypervisorError):
            drv.attach_volume(inst, {"data": {"volume_id": "v2"}}, "/dev/vdb")
        drv.attach_interface(inst, {"id": "p2"})
        rec = drv.get_instance(inst["uuid"])
        assert rec["admin_password"] == "b"
        assert rec["volumes"] == {"/dev/vdb": {"data": {"volume_id": "v1"}}}
        assert set(rec["interfaces"]) == {"p1", "p2"}
        drv.detach_volume(inst, {}, "/dev/vdb")
        drv.detach_interface(inst, {"id": "p1"})
        rec = drv.get_instance(inst["uuid"])
        assert rec["volumes"] == {} and set(rec["interfaces"]) == {"p2"}

    def test_resize_across_two_hosts(self) -> None:
        conf = make_conf()
        src, dst = FakeDriver("fake-1", conf=conf), FakeDriver("fake-2", conf=conf)
        inst = self.instance()
        src.spawn(inst, {}, [])
        src.attach_volume(inst, {"v": 1}, "/dev/vdb")
        disk_info = src.migrate_disk_and_power_off(inst, "fake-2", {"vcpus": 4, "ram": 1024, "disk": 20})
        assert inst["uuid"] not in src.list_power_states()
        new = {**inst, "vcpus": 4, "memory_mb": 1024, "root_gb": 20}
        dst.finish_migration(new, disk_info, [], {}, True)
        rec = dst.get_instance(inst["uuid"])
        assert rec["vcpus"] == 4 and rec["volumes"] == {"/dev/vdb": {"v": 1}}
        # revert: the destination drops it, the source brings back the old flavor
        dst.destroy(new, [])
        src.finish_revert_migration(inst, [])
        assert src.get_instance(inst["uuid"])["vcpus"] == 2
        assert src.get_power_state(inst) == PowerState.RUNNING

    def test_resize_cannot_shrink_root_disk(self) -> None:
        drv = FakeDriver("h", conf=make_conf())
        inst = self.instance()
        drv.spawn(inst, {}, [])
        with pytest.raises(HypervisorError, match="shrink"):
            drv.migrate_disk_and_power_off(inst, "h", {"vcpus": 1, "ram": 256, "disk": 5})
        assert drv.get_power_state(inst) == PowerState.RUNNING

    def test_rebuild_changes_image(self) -> None:
        drv = FakeDriver("h", conf=make_conf())
        inst = self.instance()
        drv.spawn(inst, {"id": "img-1"}, [])
        drv.power_off(inst)
        drv.rebuild(inst, {"id": "img-2"}, [], admin_password="pw")
        rec = drv.get_instance(inst["uuid"])
        assert rec["image_ref"] == "img-2" and rec["admin_password"] == "pw"
        assert drv.get_power_state(inst) == PowerState.RUNNING

    def test_persist_survives_restart(self, tmp_path: Any) -> None:
        conf = make_conf(persist=True, state_dir=str(tmp_path))
        drv = FakeDriver("fake-1", conf=conf)
        inst = self.instance()
        drv.spawn(inst, {}, [])
        drv.power_off(inst)
        again = FakeDriver("fake-1", conf=conf)
        assert again.list_power_states() == {inst["uuid"]: PowerState.SHUTDOWN}
        assert FakeDriver("fake-2", conf=conf).list_power_states() == {}

    def test_persist_ignores_corrupt_file(self, tmp_path: Any) -> None:
        (tmp_path / "fake-1.json").write_text("{not json")
        drv = FakeDriver("fake-1", conf=make_conf(persist=True, state_dir=str(tmp_path)))
        assert drv.list_power_states() == {}


class MinimalDriver(FakeDriver):
    """The fake with no optional capability: exercises the suite's 'undeclared' branch."""

    capabilities = frozenset({"soft_reboot"})


for _name in ("pause", "unpause", "suspend", "resume", "rescue", "unrescue", "migrate_disk_and_power_off",
              "finish_migration", "confirm_migration", "finish_revert_migration", "snapshot", "rebuild",
              "get_console_output", "get_remote_console", "set_admin_password", "attach_volume", "detach_volume",
              "attach_interface", "detach_interface"):
    setattr(MinimalDriver, _name, getattr(HypervisorDriver, _name))


class TestMinimalConformance(HypervisorConformance):
    plugin_name = "fake"

    @pytest.fixture
    def driver(self) -> FakeDriver:
        return MinimalDriver(host="min-1", conf=make_conf())
