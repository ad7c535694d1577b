"""Volume driver interface 2.0: derived capabilities, refusals at load, and the conformance suite on the memory driver."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from oslo_config import cfg

from cumulo import exception, registry
from cumulo.interfaces import volume as iface
from cumulo.interfaces.base import PluginContext
from cumulo.testing.conformance.volume import VolumeDriverConformance, new_volume
from cumulo.testing.conformance.volume_memory import MemoryVolumeDriver


class Minimal(iface.VolumeDriver):
    """Only the required methods."""

    interface_version = "2.0"
    storage_protocols = ("file",)

    def create_volume(self, volume: iface.Volume) -> iface.Provisioned:
        return iface.Provisioned()

    def delete_volume(self, volume: iface.Volume) -> None:
        return None

    def initialize_connection(self, volume: iface.Volume, connector: iface.Connector) -> iface.ConnectionInfo:
        return iface.ConnectionInfo("file", volume.id, iface.FileConnection(path="/dev/null"))

    def terminate_connection(self, volume: iface.Volume, connector: iface.Connector) -> None:
        return None

    def get_stats(self) -> iface.BackendStats:
        return iface.BackendStats("minimal", "test", "1", ("file",), total_gib=None, free_gib=None)


def _conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([], default_config_files=[])
    return conf


class TestMemoryDriverConformance(VolumeDriverConformance):
    plugin_class = MemoryVolumeDriver

    @pytest.fixture
    def driver(self) -> iface.VolumeDriver:
        return MemoryVolumeDriver(PluginContext(_conf(), kind="volume", host="volume-1"))


def test_capabilities_follow_the_overrides() -> None:
    assert Minimal.capabilities == frozenset()
    assert MemoryVolumeDriver.capabilities == frozenset(iface.CAPABILITIES) - {"manage"}  # it has no backend data

    class Extends(Minimal):
        def extend_volume(self, volume: iface.Volume, new_size_gib: int) -> None:
            return None

        def create_snapshot(self, snapshot: iface.Snapshot, volume: iface.Volume) -> iface.Provisioned:
            return iface.Provisioned()

    # snapshots need all three methods: create_snapshot alone is not the capability
    assert Extends.capabilities == frozenset({"extend"})


def test_optional_operations_raise_not_implemented() -> None:
    driver = Minimal(PluginContext(_conf(), host="h"))
    vol = new_volume()
    calls: list[Any] = [
        lambda: driver.extend_volume(vol, 2),
        lambda: driver.create_snapshot(iface.Snapshot("s", vol.id, 1), vol),
        lambda: driver.delete_snapshot(iface.Snapshot("s", vol.id, 1)),
        lambda: driver.create_volume_from_snapshot(vol, iface.Snapshot("s", vol.id, 1)),
        lambda: driver.clone_volume(new_volume(), vol),
        lambda: driver.copy_image_to_volume(vol, iter([b""]), "raw"),
        lambda: driver.copy_volume_to_image(vol, "raw"),
    ]
    for call in calls:
        with pytest.raises(exception.NotImplementedByDriver):
            call()


def test_registry_refuses_a_1_0_driver_and_a_wrong_signature() -> None:
    class Old(Minimal):
        interface_version = "1.0"

    with pytest.raises(registry.PluginError, match="written for VolumeDriver 1.0"):
        registry.check_class("volume", Old, "old")

    class WrongArgs(Minimal):
        def extend_volume(self, volume: iface.Volume, size: int) -> None:
            return None

    with pytest.raises(registry.PluginError, match="extend_volume"):
        registry.check_class("volume", WrongArgs, "wrong")
    registry.check_class("volume", Minimal, "minimal")


def test_records_are_frozen_and_the_nbd_url() -> None:
    nbd = iface.NbdConnection(host="::1", port=10809, export_name="v1", tls=iface.TlsPsk("id", "ab" * 32))
    assert nbd.url == "nbd://[::1]:10809/v1"
    assert nbd.tls is not None and nbd.tls.keys_file_line() == "id:" + "ab" * 32 + "\n"
    with pytest.raises(dataclasses.FrozenInstanceError):
        nbd.port = 1  # type: ignore[misc]
    assert issubclass(iface.VolumeBusy, iface.VolumeDriverError)
    assert iface.VolumeBusy.error_code == "volume.busy"


def test_memory_driver_keeps_dependencies() -> None:
    driver = MemoryVolumeDriver(PluginContext(_conf(), host="h"))
    vol = new_volume()
    driver.create_volume(vol)
    snap = iface.Snapshot("s1", vol.id, 1)
    driver.create_snapshot(snap, vol)
    child = new_volume()
    driver.create_volume_from_snapshot(child, snap)
    with pytest.raises(iface.VolumeBusy, match="still use its data"):
        driver.delete_snapshot(snap)
    driver.delete_volume(child)
    driver.delete_snapshot(snap)
    driver.delete_volume(vol)
    assert driver.volumes == {} and driver.snapshots == {}


def test_conformance_checks_the_refusals_of_missing_capabilities() -> None:
    VolumeDriverConformance().test_missing_capabilities_say_so(Minimal(PluginContext(_conf(), host="h")))

    class Lies(Minimal):
        def extend_volume(self, volume: iface.Volume, new_size_gib: int) -> None:
            return None  # claims the capability through the override...

    Lies.capabilities = frozenset()  # ...but hides it: the suite notices extend did not refuse
    with pytest.raises(pytest.fail.Exception):
        VolumeDriverConformance().test_missing_capabilities_say_so(Lies(PluginContext(_conf(), host="h")))
