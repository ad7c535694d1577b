"""Conformance suite for volume drivers (``cumulo.volume``, :class:`~cumulo.interfaces.volume.VolumeDriver` 2.0).

A driver's tests subclass :class:`VolumeDriverConformance`, set
``plugin_name`` and provide a ``driver`` fixture returning a fresh instance
on an empty backend::

    from cumulo.testing.conformance.volume import VolumeDriverConformance

    class TestMyDriver(VolumeDriverConformance):
        plugin_name = "mine"

        @pytest.fixture
        def driver(self, tmp_path):
            return MyDriver(PluginContext(conf, host="volume-1"))

The suite uses only the interface: data goes in with
``copy_image_to_volume`` (raw) and is compared as it comes out of
``copy_volume_to_image`` (raw), so snapshots, clones and extends are checked
on real bytes. Tests of an optional capability the driver lacks are skipped.
Volumes are 1 GiB; the data checks stream that GiB (mostly zeros).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from typing import ClassVar

import pytest

from cumulo import exception
from cumulo.interfaces import volume as iface
from cumulo.testing.conformance import RegistryConformance

MIB = 1024 * 1024


def new_volume(size_gib: int = 1, **fields: object) -> iface.Volume:
    """A volume record with a fresh id."""
    return iface.Volume(id=str(uuid.uuid4()), size_gib=size_gib, name="conformance", project_id="p1",
                        **fields)  # type: ignore[arg-type]


def new_snapshot(volume: iface.Volume) -> iface.Snapshot:
    """A snapshot record of ``volume`` with a fresh id."""
    return iface.Snapshot(id=str(uuid.uuid4()), volume_id=volume.id, volume_size_gib=volume.size_gib)


def pattern(byte: int, size: int = MIB) -> bytes:
    """``size`` bytes of ``byte`` (what ``qemu-io -c "write -P byte 0 size"`` writes)."""
    return bytes([byte]) * size


def chunks_of(data: bytes, size: int = 65521) -> Iterator[bytes]:
    """``data`` in chunks of an odd size (so chunk edges line up with nothing)."""
    for i in range(0, len(data), size):
        yield data[i:i + size]


def zeros(total: int, size: int = 8 * MIB) -> Iterator[bytes]:
    """``total`` zero bytes in chunks, made as they are sent."""
    chunk = bytes(size)
    while total > 0:
        yield chunk[:min(size, total)]
        total -= size


class Boom(Exception):
    """Raised by an image stream that fails midway (the image service went away)."""


class VolumeDriverConformance(RegistryConformance):
    """What every volume driver must do. Subclasses set ``plugin_name`` and provide the ``driver`` fixture."""

    kind: ClassVar[str] = "volume"

    @pytest.fixture
    def driver(self) -> iface.VolumeDriver:
        raise NotImplementedError("subclass VolumeDriverConformance and provide a 'driver' fixture")

    # -- helpers
    @staticmethod
    def need(driver: iface.VolumeDriver, *capabilities: str) -> None:
        missing = [c for c in capabilities if c not in driver.capabilities]
        if missing:
            pytest.skip(f"the driver lacks {', '.join(missing)}")

    @staticmethod
    def local_connector(driver: iface.VolumeDriver) -> iface.Connector:
        return iface.Connector(host=driver.host or "volume-host", ip="127.0.0.1")

    def made(self, driver: iface.VolumeDriver, volume: iface.Volume) -> iface.Volume:
        """Create ``volume`` and return it with the provider location the area would store."""
        provisioned = driver.create_volume(volume)
        assert isinstance(provisioned, iface.Provisioned)
        return dataclasses.replace(volume, provider_location=provisioned.provider_location)

    def write(self, driver: iface.VolumeDriver, volume: iface.Volume, data: bytes) -> None:
        driver.copy_image_to_volume(volume, chunks_of(data), "raw")

    def assert_holds(self, driver: iface.VolumeDriver, volume: iface.Volume, head: bytes) -> None:
        """The volume's raw data is ``head`` then zeros, ``volume.size_gib`` GiB in all."""
        stream = driver.copy_volume_to_image(volume, "raw")
        offset = 0
        try:
            for chunk in stream:
                expected = head[offset:offset + len(chunk)]
                if chunk[:len(expected)] != expected or chunk[len(expected):] != bytes(len(chunk) - len(expected)):
                    pytest.fail(f"volume {volume.id} differs from the expected data in bytes "
                                f"{offset}..{offset + len(chunk)}")
                offset += len(chunk)
        finally:
            getattr(stream, "close", lambda: None)()
        assert offset == volume.size_gib * iface.GIB

    # -- the interface
    def test_is_a_volume_driver(self, driver: iface.VolumeDriver) -> None:
        assert isinstance(driver, iface.VolumeDriver)
        assert driver.capabilities <= set(iface.CAPABILITIES)
        assert driver.storage_protocols, "a driver names the protocols it exports over"

    def test_stats(self, driver: iface.VolumeDriver) -> None:
        before = driver.get_stats()
        assert isinstance(before, iface.BackendStats)
        assert before.volume_backend_name and before.driver_version
        assert set(before.storage_protocols) <= set(driver.storage_protocols)
        if before.total_gib is not None and before.free_gib is not None:
            assert before.total_gib >= before.free_gib >= 0
        volume = self.made(driver, new_volume(size_gib=2))
        after = driver.get_stats()
        assert after.provisioned_gib == pytest.approx(before.provisioned_gib + 2)
        assert after.volume_count == before.volume_count + 1
        driver.delete_volume(volume)
        assert driver.get_stats().provisioned_gib == pytest.approx(before.provisioned_gib)

    # -- create and delete
    def test_create_is_idempotent_and_delete_too(self, driver: iface.VolumeDriver) -> None:
        volume = self.made(driver, new_volume())
        again = driver.create_volume(volume)  # a retried create
        assert again.provider_location == volume.provider_location
        driver.delete_volume(volume)
        driver.delete_volume(volume)  # already gone: no error

    @pytest.mark.parametrize("size", [0, -1])
    def test_create_refuses_bad_sizes(self, driver: iface.VolumeDriver, size: int) -> None:
        with pytest.raises(iface.InvalidSize):
            driver.create_volume(new_volume(size_gib=size))

    def test_unknown_volume_is_not_found(self, driver: iface.VolumeDriver) -> None:
        with pytest.raises(iface.VolumeNotFound):
            driver.initialize_connection(new_volume(), self.local_connector(driver))

    def test_missing_capabilities_say_so(self, driver: iface.VolumeDriver) -> None:
        missing = set(iface.CAPABILITIES) - driver.capabilities
        if not missing:
            pytest.skip("the driver has every optional capability")
        vol, snap = new_volume(), iface.Snapshot(id=str(uuid.uuid4()), volume_id="v", volume_size_gib=1)
        calls: dict[str, Callable[[], object]] = {
            "extend": lambda: driver.extend_volume(vol, 2),
            "snapshot": lambda: driver.create_snapshot(snap, vol),
            "clone": lambda: driver.clone_volume(new_volume(), vol),
            "image": lambda: driver.copy_volume_to_image(vol, "raw"),
            "manage": lambda: driver.get_manageable_volumes(),
        }
        for capability in sorted(missing):
            with pytest.raises(exception.NotImplementedByDriver):
                calls[capability]()

    # -- connections
    def test_connection_is_stable_and_terminates(self, driver: iface.VolumeDriver) -> None:
        volume = self.made(driver, new_volume())
        connector = self.local_connector(driver)
        info = driver.initialize_connection(volume, connector)
        assert isinstance(info, iface.ConnectionInfo)
        assert info.volume_id == volume.id
        assert info.driver_volume_type in driver.storage_protocols
        wanted = {iface.PROTOCOL_FILE: iface.FileConnection, iface.PROTOCOL_NBD: iface.NbdConnection}
        if info.driver_volume_type in wanted:
            assert isinstance(info.data, wanted[info.driver_volume_type])
        assert driver.initialize_connection(volume, connector) == info  # again: the same export
        driver.terminate_connection(volume, connector)
        driver.terminate_connection(volume, connector)  # not exported any more: no error
        driver.delete_volume(volume)

    def test_exported_volume_is_not_deleted(self, driver: iface.VolumeDriver) -> None:
        volume = self.made(driver, new_volume())
        connector = self.local_connector(driver)
        driver.initialize_connection(volume, connector)
        with pytest.raises(iface.VolumeBusy):
            driver.delete_volume(volume)
        driver.terminate_connection(volume, connector)
        driver.delete_volume(volume)

    def test_second_host_needs_multiattach(self, driver: iface.VolumeDriver) -> None:
        first, second = self.local_connector(driver), iface.Connector(host=f"conformance-{uuid.uuid4().hex[:8]}")
        single = self.made(driver, new_volume())
        driver.initialize_connection(single, first)
        with pytest.raises(iface.VolumeBusy):
            driver.initialize_connection(single, second)
        driver.terminate_connection(single, first)
        shared = self.made(driver, new_volume(multiattach=True))
        for connector in (first, second):
            assert driver.initialize_connection(shared, connector).volume_id == shared.id
        for connector in (first, second):
            driver.terminate_connection(shared, connector)
        for v in (single, shared):
            driver.delete_volume(v)

    # -- image data
    def test_image_round_trip(self, driver: iface.VolumeDriver) -> None:
        self.need(driver, "image")
        volume = self.made(driver, new_volume())
        self.assert_holds(driver, volume, b"")  # a new volume reads as zeros
        data = pattern(0xAB) + pattern(0x5C, 3 * MIB + 4096)
        self.write(driver, volume, data)
        self.assert_holds(driver, volume, data)
        driver.delete_volume(volume)

    def test_image_stream_failure_leaves_the_volume(self, driver: iface.VolumeDriver) -> None:
        self.need(driver, "image")
        volume = self.made(driver, new_volume())
        self.write(driver, volume, pattern(0x11))

        def failing() -> Iterator[bytes]:
            yield pattern(0x22, 65536)
            raise Boom("the image service went away")

        with pytest.raises(Boom):
            driver.copy_image_to_volume(volume, failing(), "raw")
        self.assert_holds(driver, volume, pattern(0x11))
        driver.delete_volume(volume)

    def test_image_refusals(self, driver: iface.VolumeDriver) -> None:
        self.need(driver, "image")
        volume = self.made(driver, new_volume())
        with pytest.raises(iface.InvalidImage):
            driver.copy_image_to_volume(volume, chunks_of(pattern(0x33)), "qcow2")  # raw bytes, said qcow2
        with pytest.raises(iface.InvalidImage):
            driver.copy_image_to_volume(volume, chunks_of(pattern(0x33)), "no-such-format")  # type: ignore[arg-type]
        with pytest.raises(iface.InvalidImage):
            driver.copy_volume_to_image(volume, "no-such-format")  # type: ignore[arg-type]
        with pytest.raises(iface.InvalidSize):
            driver.copy_image_to_volume(volume, zeros(iface.GIB + 512), "raw")
        self.assert_holds(driver, volume, b"")
        with pytest.raises(iface.VolumeNotFound):
            driver.copy_volume_to_image(new_volume(), "raw")
        driver.delete_volume(volume)

    # -- extend
    def test_extend_keeps_data(self, driver: iface.VolumeDriver) -> None:
        self.need(driver, "extend", "image")
        volume = self.made(driver, new_volume())
        self.write(driver, volume, pattern(0xAB))
        driver.extend_volume(volume, 1)  # the same size: nothing
        driver.extend_volume(volume, 2)
        bigger = dataclasses.replace(volume, size_gib=2)
        self.assert_holds(driver, bigger, pattern(0xAB))
        with pytest.raises(iface.InvalidSize):
            driver.extend_volume(bigger, 1)
        with pytest.raises(iface.VolumeNotFound):
            driver.extend_volume(new_volume(), 2)
        driver.delete_volume(bigger)

    # -- snapshots
    def test_snapshot_is_a_point_in_time(self, driver: iface.VolumeDriver) -> None:
        self.need(driver, "snapshot", "image")
        volume = self.made(driver, new_volume())
        self.write(driver, volume, pattern(0xAB))
        snapshot = new_snapshot(volume)
        driver.create_snapshot(snapshot, volume)
        driver.create_snapshot(snapshot, volume)  # a retried create
        self.write(driver, volume, pattern(0xCD, 2 * MIB))
        child = self.made_from(driver, new_volume(), snapshot, flatten=False)
        self.assert_holds(driver, child, pattern(0xAB))
        self.assert_holds(driver, volume, pattern(0xCD, 2 * MIB))
        with pytest.raises(iface.VolumeBusy):
            driver.delete_volume(volume)  # it has a snapshot
        self.write(driver, child, pattern(0xEF))  # the child is writable, the snapshot does not change
        again = self.made_from(driver, new_volume(size_gib=2), snapshot, flatten=True)
        self.assert_holds(driver, again, pattern(0xAB))
        for v in (child, again):
            driver.delete_volume(v)
        driver.delete_snapshot(snapshot)
        driver.delete_snapshot(snapshot)  # already gone: no error
        self.assert_holds(driver, volume, pattern(0xCD, 2 * MIB))
        driver.delete_volume(volume)

    def made_from(self, driver: iface.VolumeDriver, volume: iface.Volume, snapshot: iface.Snapshot,
                  flatten: bool) -> iface.Volume:
        provisioned = driver.create_volume_from_snapshot(volume, snapshot, flatten=flatten)
        return dataclasses.replace(volume, provider_location=provisioned.provider_location)

    def test_snapshot_refusals(self, driver: iface.VolumeDriver) -> None:
        self.need(driver, "snapshot")
        volume = self.made(driver, new_volume(size_gib=2))
        snapshot = new_snapshot(volume)
        driver.create_snapshot(snapshot, volume)
        with pytest.raises(iface.InvalidSize):
            driver.create_volume_from_snapshot(new_volume(size_gib=1), snapshot)
        with pytest.raises(iface.SnapshotNotFound):
            driver.create_volume_from_snapshot(new_volume(), new_snapshot(volume))
        with pytest.raises(iface.VolumeNotFound):
            driver.create_snapshot(new_snapshot(new_volume()), new_volume())
        driver.delete_snapshot(snapshot)
        driver.delete_volume(volume)

    def test_snapshot_with_dependents_or_flattened(self, driver: iface.VolumeDriver) -> None:
        self.need(driver, "snapshot", "image")
        volume = self.made(driver, new_volume())
        self.write(driver, volume, pattern(0x42))
        snapshot = new_snapshot(volume)
        driver.create_snapshot(snapshot, volume)
        flat = self.made_from(driver, new_volume(), snapshot, flatten=True)
        driver.delete_snapshot(snapshot)  # a flattened volume does not depend on it
        self.assert_holds(driver, flat, pattern(0x42))
        self.assert_holds(driver, volume, pattern(0x42))
        for v in (flat, volume):
            driver.delete_volume(v)

    # -- clones
    def test_clone_is_a_copy_at_that_moment(self, driver: iface.VolumeDriver) -> None:
        self.need(driver, "clone", "image")
        source = self.made(driver, new_volume())
        self.write(driver, source, pattern(0xAB))
        clone = new_volume(size_gib=2)
        driver.clone_volume(clone, source)
        driver.clone_volume(clone, source)  # a retried create
        flat = new_volume()
        driver.clone_volume(flat, source, flatten=True)
        self.write(driver, source, pattern(0x77))
        self.assert_holds(driver, clone, pattern(0xAB))
        self.assert_holds(driver, flat, pattern(0xAB))
        with pytest.raises(iface.InvalidSize):
            driver.clone_volume(new_volume(size_gib=1), clone)
        with pytest.raises(iface.VolumeNotFound):
            driver.clone_volume(new_volume(), new_volume())
        for v in (clone, flat):
            driver.delete_volume(v)
        driver.delete_volume(source)  # nothing depends on it any more
        driver.delete_volume(source)
