"""The smallest complete volume driver: volumes in memory, for tests of whatever calls a volume driver.

:class:`MemoryVolumeDriver` keeps each volume as sparse 64 KiB blocks in a
dict and has every optional capability with the dependency rules of the
interface: a snapshot copies the block map (the bytes are shared, never
changed), a volume made from a snapshot depends on it unless flattened, a
clone depends on its source unless flattened, and deletes refuse with
:class:`~cumulo.interfaces.volume.VolumeBusy` while anything depends. It
reads and writes raw images only, and "exports" a volume as a
``memory`` connection. It passes :mod:`cumulo.testing.conformance.volume`
(``tests/unit/test_volume_interface.py``). Not installed as a plugin: tests
build it as ``MemoryVolumeDriver(PluginContext(conf, host=...))``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.volume import (
    GIB,
    BackendStats,
    ConnectionInfo,
    Connector,
    DiskFormat,
    FileConnection,
    InvalidImage,
    InvalidSize,
    Provisioned,
    Snapshot,
    SnapshotNotFound,
    Volume,
    VolumeBusy,
    VolumeDriver,
    VolumeNotFound,
)

BLOCK = 64 * 1024
_ZERO = bytes(BLOCK)
PROTOCOL_MEMORY = "memory"


class _Data:
    """A volume's or snapshot's blocks (index -> BLOCK bytes; absent blocks read as zeros) and what it came from."""

    def __init__(self, size: int, blocks: dict[int, bytes] | None = None, parent: str | None = None) -> None:
        self.size = size
        self.blocks = dict(blocks or {})
        self.parent = parent  # "snapshot:<id>" or "volume:<id>" this one depends on, None when independent


class MemoryVolumeDriver(VolumeDriver):
    """Volumes in memory (see the module docstring)."""

    interface_version = "2.0"
    storage_protocols = (PROTOCOL_MEMORY,)

    def __init__(self, ctx: PluginContext, total_gib: float = 1000.0) -> None:
        super().__init__(ctx)
        self.total_gib = total_gib
        self.volumes: dict[str, _Data] = {}
        self.snapshots: dict[str, tuple[str, _Data]] = {}  # id -> (volume id, data)
        self.connections: dict[str, set[str]] = {}  # volume id -> hosts
        self._lock = threading.RLock()

    # -- helpers
    def _volume(self, volume_id: str) -> _Data:
        try:
            return self.volumes[volume_id]
        except KeyError:
            raise VolumeNotFound(f"no volume {volume_id} in memory") from None

    def _dependents(self, ref: str) -> list[str]:
        return sorted(vid for vid, data in self.volumes.items() if data.parent == ref)

    def _busy_if_exported(self, volume_id: str, doing: str) -> None:
        if self.connections.get(volume_id):
            raise VolumeBusy(f"volume {volume_id} is attached: detach it to {doing}")

    @staticmethod
    def _check_size(size_gib: int) -> None:
        if not isinstance(size_gib, int) or isinstance(size_gib, bool) or size_gib < 1:
            raise InvalidSize(f"a volume's size is a positive whole number of GiB, not {size_gib!r}")

    # -- required
    def create_volume(self, volume: Volume) -> Provisioned:
        self._check_size(volume.size_gib)
        with self._lock:
            self.volumes.setdefault(volume.id, _Data(volume.size_gib * GIB))
        return Provisioned(provider_location=f"memory:{volume.id}")

    def delete_volume(self, volume: Volume) -> None:
        with self._lock:
            if volume.id not in self.volumes:
                return
            self._busy_if_exported(volume.id, "delete it")
            snapshots = sorted(sid for sid, (vid, _) in self.snapshots.items() if vid == volume.id)
            if snapshots:
                raise VolumeBusy(f"volume {volume.id} has snapshots ({', '.join(snapshots)})")
            clones = self._dependents(f"volume:{volume.id}")
            if clones:
                raise VolumeBusy(f"volumes cloned from volume {volume.id} still use its data ({', '.join(clones)})")
            del self.volumes[volume.id]

    def initialize_connection(self, volume: Volume, connector: Connector) -> ConnectionInfo:
        with self._lock:
            self._volume(volume.id)
            hosts = self.connections.setdefault(volume.id, set())
            if hosts - {connector.host} and not volume.multiattach:
                raise VolumeBusy(f"volume {volume.id} is attached to {', '.join(sorted(hosts))}")
            hosts.add(connector.host)
        return ConnectionInfo(driver_volume_type=PROTOCOL_MEMORY, volume_id=volume.id,
                              data=FileConnection(path=f"memory:{volume.id}", disk_format="raw"))

    def terminate_connection(self, volume: Volume, connector: Connector) -> None:
        with self._lock:
            self.connections.get(volume.id, set()).discard(connector.host)

    def get_stats(self) -> BackendStats:
        with self._lock:
            provisioned = sum(d.size for d in self.volumes.values()) / GIB
            used = sum(len(d.blocks) for d in self.volumes.values()) * BLOCK / GIB
            count = len(self.volumes)
        return BackendStats(
            volume_backend_name="memory", vendor_name="Cumulo", driver_version="1.0",
            storage_protocols=self.storage_protocols, total_gib=self.total_gib,
            free_gib=max(self.total_gib - used, 0.0), provisioned_gib=provisioned, allocated_gib=used,
            thin_provisioning=True, thick_provisioning=False, volume_count=count,
            capabilities={"thin_provisioning_support": True})

    # -- optional
    def extend_volume(self, volume: Volume, new_size_gib: int) -> None:
        self._check_size(new_size_gib)
        with self._lock:
            data = self._volume(volume.id)
            if new_size_gib * GIB < data.size:
                raise InvalidSize(f"volume {volume.id} is {data.size // GIB} GiB: cannot shrink it")
            data.size = new_size_gib * GIB

    def create_snapshot(self, snapshot: Snapshot, volume: Volume) -> Provisioned:
        with self._lock:
            data = self._volume(volume.id)
            if snapshot.id not in self.snapshots:
                self._busy_if_exported(volume.id, "snapshot it")
                self.snapshots[snapshot.id] = (volume.id, _Data(data.size, data.blocks))
        return Provisioned(provider_location=f"memory-snapshot:{snapshot.id}")

    def delete_snapshot(self, snapshot: Snapshot) -> None:
        with self._lock:
            if snapshot.id not in self.snapshots:
                return
            children = self._dependents(f"snapshot:{snapshot.id}")
            if children:
                raise VolumeBusy(f"volumes made from snapshot {snapshot.id} still use its data ({', '.join(children)})")
            del self.snapshots[snapshot.id]

    def create_volume_from_snapshot(self, volume: Volume, snapshot: Snapshot, flatten: bool = False) -> Provisioned:
        self._check_size(volume.size_gib)
        with self._lock:
            if snapshot.id not in self.snapshots:
                raise SnapshotNotFound(f"no snapshot {snapshot.id} in memory")
            source = self.snapshots[snapshot.id][1]
            if volume.size_gib * GIB < source.size:
                raise InvalidSize(f"volume {volume.id} is smaller than snapshot {snapshot.id}")
            self.volumes.setdefault(volume.id, _Data(volume.size_gib * GIB, source.blocks,
                                                     None if flatten else f"snapshot:{snapshot.id}"))
        return Provisioned(provider_location=f"memory:{volume.id}")

    def clone_volume(self, volume: Volume, source: Volume, flatten: bool = False) -> Provisioned:
        self._check_size(volume.size_gib)
        with self._lock:
            data = self._volume(source.id)
            if volume.size_gib * GIB < data.size:
                raise InvalidSize(f"volume {volume.id} is smaller than volume {source.id}")
            self.volumes.setdefault(volume.id, _Data(volume.size_gib * GIB, data.blocks,
                                                     None if flatten else f"volume:{source.id}"))
        return Provisioned(provider_location=f"memory:{volume.id}")

    def copy_image_to_volume(self, volume: Volume, chunks: Iterable[bytes], disk_format: DiskFormat) -> None:
        if disk_format != "raw":
            raise InvalidImage(f"the memory driver reads raw images only, not {disk_format!r}")
        with self._lock:
            data = self._volume(volume.id)
            self._busy_if_exported(volume.id, "write an image into it")
        blocks: dict[int, bytes] = {}
        pending, index, size = bytearray(), 0, 0
        for chunk in chunks:  # a failing stream leaves the volume as it was: nothing is swapped in yet
            size += len(chunk)
            if size > data.size:
                raise InvalidSize(f"the image is larger than volume {volume.id}")
            pending += chunk
            whole = len(pending) - len(pending) % BLOCK
            for start in range(0, whole, BLOCK):
                block = bytes(pending[start:start + BLOCK])
                if block != _ZERO:
                    blocks[index] = block
                index += 1
            del pending[:whole]
        if pending.strip(b"\0"):
            blocks[index] = bytes(pending.ljust(BLOCK, b"\0"))
        with self._lock:
            data.blocks = blocks

    def copy_volume_to_image(self, volume: Volume, disk_format: DiskFormat) -> Iterator[bytes]:
        if disk_format != "raw":
            raise InvalidImage(f"the memory driver writes raw images only, not {disk_format!r}")
        with self._lock:
            data = self._volume(volume.id)
            size, blocks = data.size, dict(data.blocks)
        return (blocks.get(i, _ZERO) for i in range(size // BLOCK))
