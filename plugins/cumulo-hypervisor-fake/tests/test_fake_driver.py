"""The fake hypervisor: the conformance suite plus its own testing aids."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import pytest
from cumulo_hypervisor_fake.driver import FakeDriver, register_opts
from oslo_config import cfg

from cumulo import exception, registry
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.hypervisor import (
    CAPABILITIES,
    PROTOCOL_FILE,
    VIF,
    BlockDevice,
    ConnectionInfo,
    FileConnection,
    Flavor,
    HypervisorDriver,
    HypervisorError,
    ImageMeta,
    ImageReader,
    Instance,
    InstanceNotFound,
    PowerState,
    StreamImageReader,
)
from cumulo.testing.conformance import RegistryConformance
from cumulo.testing.conformance.hypervisor import HypervisorConformance


def make_conf(**overrides: Any) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    register_opts(conf)
    overrides.setdefault("persist", False)  # in memory unless a test asks for persistence
    for name, value in overrides.items():
        conf.set_override(name, value, group="hypervisor_fake")
    return conf


def fake(host: str, conf: cfg.ConfigOpts | None = None) -> FakeDriver:
    return FakeDriver(PluginContext(conf if conf is not None else make_conf(), kind="hypervisor", name="fake",
                                    host=host))


def image(image_id: str = "img-1") -> ImageReader:
    return StreamImageReader.from_bytes(ImageMeta(id=image_id), b"disk")


def volume(volume_id: str, device: str = "/dev/vdb") -> BlockDevice:
    return BlockDevice(source_type="volume", destination_type="volume", device_name=device, volume_id=volume_id,
                       connection_info=ConnectionInfo(driver_volume_type=PROTOCOL_FILE, volume_id=volume_id,
                                                      data=FileConnection(f"/srv/volumes/{volume_id}")))


def flavor(vcpus: int, memory_mb: int, root_gb: int) -> Flavor:
    return Flavor(id=f"f{vcpus}", name=f"f{vcpus}", vcpus=vcpus, memory_mb=memory_mb, root_gb=root_gb)


class TestFakeConformance(HypervisorConformance):
    plugin_name = "fake"

    @pytest.fixture
    def driver(self) -> FakeDriver:
        return fake("fake-1")


class TestFakeSpecifics(RegistryConformance):
    kind = "hypervisor"
    plugin_name = "fake"

    @staticmethod
    def instance(**kw: Any) -> Instance:
        import uuid

        u = str(uuid.uuid4())
        size = Flavor(id="2", name="m1.small", vcpus=2, memory_mb=512, root_gb=10, ephemeral_gb=1)
        return Instance(**{"uuid": u, "name": f"vm-{u[:4]}", "flavor": size, "image_ref": "img-1", **kw})

    def test_declares_every_capability(self) -> None:
        assert FakeDriver.capabilities == frozenset(CAPABILITIES)

    def test_loaded_through_registry_with_host(self) -> None:
        drv = registry.load_plugin("hypervisor", "fake", PluginContext(make_conf(), host="fake-17"))
        assert isinstance(drv, FakeDriver) and drv.host == "fake-17"
        assert (drv.ctx.kind, drv.ctx.name) == ("hypervisor", "fake")

    def test_host_names_follow_options(self) -> None:
        conf = make_conf(host_count=3, host_prefix="node")
        assert FakeDriver.host_names(conf) == ["node-1", "node-2", "node-3"]
        assert FakeDriver.host_names(make_conf()) == ["fake-1", "fake-2", "fake-3", "fake-4"]

    def test_resources_follow_options_and_usage(self) -> None:
        drv = fake("h", make_conf(vcpus=8, memory_mb=4096, local_gb=100))
        drv.spawn(self.instance(), image("img-1"), [])
        res = drv.get_host_resources()
        assert (res.vcpus, res.memory_mb, res.local_gb) == (8, 4096, 100)
        assert (res.vcpus_used, res.memory_mb_used, res.local_gb_used) == (2, 512, 11)
        assert res.hypervisor_hostname == "h" and res.hypervisor_type == "fake"
        assert ("x86_64", "fake", "hvm") in res.supported_instances

    def test_hosts_are_independent(self) -> None:
        conf = make_conf()
        a, b = fake("fake-1", conf), fake("fake-2", conf)
        inst = self.instance()
        a.spawn(inst, image(), [])
        assert inst.uuid in a.list_power_states()
        assert b.list_power_states() == {}
        with pytest.raises(InstanceNotFound):
            b.get_power_state(inst)

    def test_spawn_latency_and_default_latency(self) -> None:
        drv = fake("h", make_conf(spawn_latency=0.2, default_latency=0.0))
        inst = self.instance()
        t0 = time.monotonic()
        drv.spawn(inst, image(), [])
        assert time.monotonic() - t0 >= 0.2
        t0 = time.monotonic()
        drv.power_off(inst)
        assert time.monotonic() - t0 < 0.15

    def test_operation_latency(self) -> None:
        drv = fake("h", make_conf(operation_latency={"reboot": "0.15"}))
        inst = self.instance()
        drv.spawn(inst, image(), [])
        t0 = time.monotonic()
        drv.reboot(inst, hard=False)
        assert time.monotonic() - t0 >= 0.15

    def test_latency_does_not_serialise_instances(self) -> None:
        drv = fake("h", make_conf(spawn_latency=0.2))
        threads = [threading.Thread(target=drv.spawn, args=(self.instance(), image(), [])) for _ in range(5)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert time.monotonic() - t0 < 0.8
        assert len(drv.list_power_states()) == 5

    def test_fail_spawn_hosts(self) -> None:
        conf = make_conf(fail_spawn_hosts=["fake-2"])
        bad, good = fake("fake-2", conf), fake("fake-1", conf)
        inst = self.instance()
        with pytest.raises(HypervisorError, match="fake-2"):
            bad.spawn(inst, image(), [])
        assert bad.list_power_states() == {}  # nothing left behind
        good.spawn(inst, image(), [])
        assert good.get_power_state(inst) == PowerState.RUNNING

    def test_fail_operations(self) -> None:
        conf = make_conf(fail_operations=["reboot@fake-1", "snapshot"])
        drv = fake("fake-1", conf)
        other = fake("fake-3", conf)
        inst = self.instance()
        drv.spawn(inst, image(), [])
        other.spawn(inst, image(), [])
        with pytest.raises(HypervisorError):
            drv.reboot(inst, hard=True)
        other.reboot(inst, hard=True)
        with pytest.raises(HypervisorError):
            other.snapshot(inst, lambda b: None)

    def test_state_transitions(self) -> None:
        drv = fake("h", make_conf())
        inst = self.instance()
        drv.spawn(inst, image(), [])
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
        drv = fake("h", make_conf())
        inst = self.instance()
        drv.spawn(inst, image("img-1"), [])
        drv.rescue(inst, image("rescue-img"), "pw")
        rec = drv.get_instance(inst.uuid)
        assert rec["rescued"] and rec["rescue_image_ref"] == "rescue-img"
        drv.unrescue(inst)
        drv.unrescue(inst)  # idempotent
        assert not drv.get_instance(inst.uuid)["rescued"]

    def test_snapshot_is_deterministic(self) -> None:
        drv = fake("h", make_conf(snapshot_size=200_000))
        inst = self.instance()
        drv.spawn(inst, image("img-1"), [])
        first: list[bytes] = []
        second: list[bytes] = []
        meta = drv.snapshot(inst, first.append)
        drv.snapshot(inst, second.append)
        data = b"".join(first)
        assert len(data) == 200_000
        assert data == b"".join(second)
        assert len(first) > 1  # streamed in chunks
        assert (meta.disk_format, meta.container_format) == ("raw", "bare")

    def test_console_output_is_a_boot_log(self) -> None:
        drv = fake("fake-9", make_conf())
        inst = self.instance(name="web-1")
        drv.spawn(inst, image(), [])
        log = drv.get_console_output(inst)
        assert "web-1 login:" in log and inst.uuid in log and "fake-9" in log
        drv.reboot(inst, hard=False)
        assert drv.get_console_output(inst).count("login:") == 2

    def test_remote_console(self) -> None:
        drv = fake("h", make_conf())
        inst = self.instance()
        drv.spawn(inst, image(), [])
        one = drv.get_remote_console(inst, "novnc")
        two = drv.get_remote_console(inst, "novnc")
        assert one.token != two.token and one.port == two.port >= 5900
        assert one.url and one.token in one.url and one.console_type == "novnc"
        assert drv.get_remote_console(inst, "spice").console_type == "spice-html5"
        with pytest.raises(exception.Invalid):
            drv.get_remote_console(inst, "telnet")

    def test_password_volumes_interfaces_recorded(self) -> None:
        drv = fake("h", make_conf())
        inst = self.instance()
        p1 = VIF(id="p1", mac_address="fa:16:3e:00:00:01", network_id="n")
        drv.spawn(inst, image(), [p1], admin_password="a")
        drv.set_admin_password(inst, "b")
        drv.attach_volume(inst, volume("v1"))
        drv.attach_volume(inst, volume("v1"))  # same again: fine
        with pytest.raises(HypervisorError):
            drv.attach_volume(inst, volume("v2"))
        drv.attach_interface(inst, VIF(id="p2", mac_address="fa:16:3e:00:00:02", network_id="n"))
        rec = drv.get_instance(inst.uuid)
        assert rec["admin_password"] == "b"
        assert rec["volumes"]["/dev/vdb"]["volume_id"] == "v1"
        assert set(rec["interfaces"]) == {"p1", "p2"}
        drv.detach_volume(inst, volume("v1"))
        drv.detach_interface(inst, p1)
        rec = drv.get_instance(inst.uuid)
        assert rec["volumes"] == {} and set(rec["interfaces"]) == {"p2"}

    def test_spawn_records_its_block_devices(self) -> None:
        # what compute hands a volume-backed build: the root volume and a data volume, exported
        drv = fake("h", make_conf())
        inst = self.instance()
        root = dataclasses.replace(volume("root", "/dev/vda"), boot_index=0)
        drv.spawn(inst, image(), [], [root, volume("data")])
        rec = drv.get_instance(inst.uuid)
        assert {d: v["volume_id"] for d, v in rec["volumes"].items()} == {"/dev/vda": "root", "/dev/vdb": "data"}
        assert all("path" not in str(v) for v in rec["volumes"].values())  # no export detail is kept
        drv.detach_volume(inst, volume("data"))
        assert set(drv.get_instance(inst.uuid)["volumes"]) == {"/dev/vda"}
        drv.destroy(inst, [], [root])
        assert drv.get_instance(inst.uuid) is None

    def test_attached_interfaces_are_recorded_and_persist(self, tmp_path: Any) -> None:
        conf = make_conf(persist=True, state_dir=str(tmp_path))
        drv = fake("fake-1", conf)
        inst = self.instance()
        drv.spawn(inst, image(), [VIF(id="p1", mac_address="fa:16:3e:00:00:01", network_id="n")])
        p2 = VIF(id="p2", mac_address="fa:16:3e:00:00:02", network_id="n2", mtu=1400)
        drv.attach_interface(inst, p2)
        drv.attach_interface(inst, p2)  # the same port again: a no-op
        assert "virtio_net: interface fa:16:3e:00:00:02 attached" in drv.get_console_output(inst)
        again = fake("fake-1", conf).get_instance(inst.uuid)  # a restarted host reads its state file
        assert again is not None and set(again["interfaces"]) == {"p1", "p2"}
        assert (again["interfaces"]["p2"]["network_id"], again["interfaces"]["p2"]["mtu"]) == ("n2", 1400)
        drv.detach_interface(inst, p2)
        drv.detach_interface(inst, p2)  # idempotent
        after = fake("fake-1", conf).get_instance(inst.uuid)
        assert after is not None and set(after["interfaces"]) == {"p1"}

    def test_resize_across_two_hosts(self) -> None:
        conf = make_conf()
        src, dst = fake("fake-1", conf), fake("fake-2", conf)
        inst = self.instance()
        src.spawn(inst, image(), [])
        src.attach_volume(inst, volume("v1"))
        disk_info = src.migrate_disk_and_power_off(inst, "fake-2", flavor(4, 1024, 20))
        assert inst.uuid not in src.list_power_states()
        new = dataclasses.replace(inst, flavor=flavor(4, 1024, 20))
        dst.finish_migration(new, disk_info, [], ImageMeta(id="img-1"), True)
        rec = dst.get_instance(inst.uuid)
        assert rec["vcpus"] == 4 and list(rec["volumes"]) == ["/dev/vdb"]
        # revert: the destination drops it, the source brings back the old flavor
        dst.destroy(new, [])
        src.finish_revert_migration(inst, [])
        assert src.get_instance(inst.uuid)["vcpus"] == 2
        assert src.get_power_state(inst) == PowerState.RUNNING

    def test_resize_cannot_shrink_root_disk(self) -> None:
        drv = fake("h", make_conf())
        inst = self.instance()
        drv.spawn(inst, image(), [])
        with pytest.raises(HypervisorError, match="shrink"):
            drv.migrate_disk_and_power_off(inst, "h", flavor(1, 256, 5))
        assert drv.get_power_state(inst) == PowerState.RUNNING

    def test_rebuild_changes_image(self) -> None:
        drv = fake("h", make_conf())
        inst = self.instance()
        drv.spawn(inst, image("img-1"), [])
        drv.power_off(inst)
        drv.rebuild(inst, image("img-2"), [], admin_password="pw")
        rec = drv.get_instance(inst.uuid)
        assert rec["image_ref"] == "img-2" and rec["admin_password"] == "pw"
        assert drv.get_power_state(inst) == PowerState.RUNNING

    def test_persist_survives_restart(self, tmp_path: Any) -> None:
        conf = make_conf(persist=True, state_dir=str(tmp_path))
        drv = fake("fake-1", conf)
        inst = self.instance()
        drv.spawn(inst, image(), [])
        drv.power_off(inst)
        again = fake("fake-1", conf)
        assert again.list_power_states() == {inst.uuid: PowerState.SHUTDOWN}
        assert fake("fake-2", conf).list_power_states() == {}

    def test_persist_ignores_corrupt_file(self, tmp_path: Any) -> None:
        (tmp_path / "fake-1.json").write_text("{not json")
        drv = fake("fake-1", make_conf(persist=True, state_dir=str(tmp_path)))
        assert drv.list_power_states() == {}


#: The fake with no optional capability (the interface's defaults put back): exercises the
#: suite's 'undeclared' branch, and shows capabilities follow from what a class overrides.
MinimalDriver = type("MinimalDriver", (FakeDriver,), {
    name: HypervisorDriver.__dict__[name] for name in ("pause", "unpause", "suspend", "resume", "rescue", "unrescue",
                                                        "migrate_disk_and_power_off", "finish_migration",
                                                        "confirm_migration", "finish_revert_migration", "snapshot",
                                                        "rebuild", "get_console_output", "get_remote_console",
                                                        "set_admin_password", "attach_volume", "detach_volume",
                                                        "attach_interface", "detach_interface", "live_migration",
                                                        "post_live_migration_at_destination")})


def test_minimal_driver_capabilities_follow_overrides() -> None:
    assert MinimalDriver.capabilities == frozenset({"soft_reboot"})


class TestMinimalConformance(HypervisorConformance):
    plugin_name = "fake"

    @pytest.fixture
    def driver(self) -> FakeDriver:
        return MinimalDriver(PluginContext(make_conf(), host="min-1"))


def test_live_migration_moves_the_running_record_between_hosts() -> None:
    conf = make_conf()
    src, dst = fake("fake-1", conf), fake("fake-2", conf)
    assert "live_migration" in FakeDriver.capabilities
    inst = Instance(uuid="lm-1", name="lm", flavor=Flavor(id="1", name="tiny", vcpus=1, memory_mb=64, root_gb=1, ephemeral_gb=0), image_ref="img")
    src.spawn(inst, image(), [])
    boots = (src.get_instance("lm-1") or {})["boots"]
    data = src.live_migration(inst, "fake-2", [], block_migration=False)
    assert src.get_instance("lm-1") is None
    dst.post_live_migration_at_destination(inst, data, [])
    rec = dst.get_instance("lm-1")
    assert rec is not None and rec["power_state"] == int(PowerState.RUNNING)
    assert rec["boots"] == boots  # the guest did not restart
    with pytest.raises(InstanceNotFound):
        src.live_migration(inst, "fake-3", [], block_migration=False)


def test_live_migration_of_a_stopped_instance_fails_and_keeps_it() -> None:
    src = fake("fake-1", make_conf())
    inst = Instance(uuid="lm-2", name="lm", flavor=Flavor(id="1", name="tiny", vcpus=1, memory_mb=64, root_gb=1, ephemeral_gb=0), image_ref="img")
    src.spawn(inst, image(), [])
    src.power_off(inst)
    with pytest.raises(HypervisorError):
        src.live_migration(inst, "fake-2", [], block_migration=False)
    assert src.get_instance("lm-2") is not None
