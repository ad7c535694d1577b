"""The ``file`` volume driver: volumes as qcow2 files with backing chains.

Layout of ``[volume_file] volumes_path`` (0700)::

    volume-<id>.qcow2              a volume's active layer (0600): what the guest reads and writes
    volume-<id>.snap-<sid>.qcow2   snapshot <sid> of volume <id> (0400, never written again)
    volume-<id>.snap-clone-<cid>.qcow2   the hidden snapshot clone <cid> was made from
    exports/<id>.json              the hosts the volume is exported to, its NBD daemon and key

Snapshots are external: the volume's active layer is frozen under the
snapshot's name and a new, empty active layer backed by it takes the volume's
name. Internal snapshots (``qemu-img snapshot -c``) were not chosen because
an internal snapshot cannot be the backing file of another image, so "volume
from snapshot" would be a full copy instead of a copy-on-write child, and the
snapshot could not be read (exported, backed up) without copying it out.
Backing files are named relative to the directory, with their format
recorded (``-F qcow2``), so qemu never probes a format.

Dependencies follow from the backing names in the headers: a file of another
volume backed by one of a volume's files is a child, and while one exists the
volume (or that snapshot) cannot be deleted. Deleting a snapshot that only
its own volume's chain uses rebases the next layer onto the snapshot's own
backing (``qemu-img rebase`` in safe mode, which copies the clusters that
would change), so the volume's data is unchanged.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from oslo_config import cfg

from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.volume import (
    GIB,
    PROTOCOL_FILE,
    PROTOCOL_NBD,
    BackendFull,
    BackendStats,
    ConnectionInfo,
    Connector,
    DiskFormat,
    FileConnection,
    InvalidImage,
    InvalidSize,
    ManageableVolume,
    ManagedVolume,
    NbdConnection,
    Provisioned,
    Snapshot,
    SnapshotNotFound,
    Volume,
    VolumeBusy,
    VolumeDriver,
    VolumeDriverError,
    VolumeNotFound,
)
from cumulo_volume_file import opts
from cumulo_volume_file.exports import Exports
from cumulo_volume_file.qemu import QemuImg, read_header

LOG = logging.getLogger(__name__)

# Ids become file names: no dots (".snap-" separates a volume from its snapshot), no slashes.
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_CLONE = "clone-"
_ROOM_CHECK = 64 * 1024 * 1024  # bytes of image received between checks of the filesystem's free space
_FORMATS: tuple[DiskFormat, ...] = ("raw", "qcow2")
_VOLUME_FILE = re.compile(r"^volume-(?P<volume>[A-Za-z0-9][A-Za-z0-9_-]*)(?:\.snap-(?P<snap>[A-Za-z0-9_-]+))?"
                          r"\.qcow2$")


def _check_id(value: str, what: str) -> str:
    if not _SAFE_ID.match(value or ""):
        raise VolumeDriverError(f"{what} id {value!r} is not usable as a file name")
    return value


class FileDriver(VolumeDriver):
    """Volumes as qcow2 files under ``[volume_file] volumes_path`` (see the module docstring)."""

    interface_version = "2.1"
    storage_protocols = (PROTOCOL_FILE, PROTOCOL_NBD)
    VERSION = "1.0.0"

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        group = ctx.conf[opts.GROUP]
        self.path = os.path.abspath(group.volumes_path)
        os.makedirs(self.path, mode=0o700, exist_ok=True)
        os.chmod(self.path, 0o700)
        self.backend_name: str = group.backend_name
        self.ratio: float = group.max_over_subscription_ratio
        self.reserved_percentage: int = group.reserved_percentage
        self.chunk_size: int = group.chunk_size
        self.advertise_host: str = group.nbd_advertise_host or group.nbd_listen_host
        self.qemu = QemuImg(group.qemu_img, self.path, group.command_timeout)
        self.exports = Exports(os.path.join(self.path, "exports"), group.qemu_storage_daemon,
                               group.nbd_listen_host)
        self._locks_guard = threading.Lock()
        self._locks: dict[str, threading.RLock] = {}
        self._remove_stale_temporaries(group.command_timeout)

    def _remove_stale_temporaries(self, older_than: float) -> None:
        """Remove what copies interrupted by a crash left (only files older than any command may run)."""
        now = time.time()
        for name in os.listdir(self.path):
            if name.startswith(".tmp-"):
                with contextlib.suppress(FileNotFoundError):
                    if now - os.stat(self._file(name)).st_mtime > older_than:
                        os.unlink(self._file(name))

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return opts.list_opts()

    @classmethod
    def validate_config(cls, conf: cfg.ConfigOpts) -> list[str]:
        group = conf[opts.GROUP]
        problems = []
        for option in ("qemu_img", "qemu_storage_daemon"):
            if not shutil.which(group[option]):
                problems.append(f"[{opts.GROUP}] {option} = {group[option]} is not installed "
                                "(tools/system-packages.sh installs qemu-utils)")
        path = os.path.abspath(group.volumes_path)
        parent = path
        while not os.path.exists(parent):
            parent = os.path.dirname(parent)
        if not os.access(parent, os.W_OK | os.X_OK):
            problems.append(f"[{opts.GROUP}] volumes_path = {path}: {parent} is not writable")
        return problems

    # -- names -----------------------------------------------------------------------------------
    @staticmethod
    def _volume_name(volume_id: str) -> str:
        return f"volume-{_check_id(volume_id, 'volume')}.qcow2"

    @staticmethod
    def _snapshot_name(volume_id: str, snapshot_id: str) -> str:
        return f"volume-{_check_id(volume_id, 'volume')}.snap-{_check_id(snapshot_id, 'snapshot')}.qcow2"

    def _file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def _active(self, volume_id: str) -> str:
        """The active layer's path, finishing a snapshot a crash interrupted; VolumeNotFound if there is none."""
        path = self._file(self._volume_name(volume_id))
        pending = path + ".pending"
        if os.path.exists(pending):
            if os.path.exists(path):  # crashed before the rename of the old layer: the snapshot never happened
                os.unlink(pending)
            else:  # crashed between the two renames: the snapshot is in place, finish it
                os.rename(pending, path)
        if not os.path.exists(path):
            raise VolumeNotFound(f"volume {volume_id} has no file on backend {self.backend_name}")
        return path

    def _find_snapshot(self, snapshot_id: str) -> tuple[str, str] | None:
        """(owner volume id, file name) of a snapshot, None when it is gone."""
        _check_id(snapshot_id, "snapshot")
        for path in glob.glob(os.path.join(glob.escape(self.path), f"volume-*.snap-{snapshot_id}.qcow2")):
            match = _VOLUME_FILE.match(os.path.basename(path))
            if match and match["snap"] == snapshot_id:
                return match["volume"], os.path.basename(path)
        return None

    def _lock(self, volume_id: str) -> threading.RLock:
        with self._locks_guard:
            return self._locks.setdefault(volume_id, threading.RLock())

    def _tmp(self, suffix: str = ".qcow2") -> str:
        return self._file(f".tmp-{uuid.uuid4().hex}{suffix}")

    # -- manage and unmanage (interface 2.1) -------------------------------------------------------
    def _referenced(self, reference: Mapping[str, str]) -> str:
        """The volume id of ``{"source-name": "volume-<id>"}`` (or ``{"source-id": "<id>"}``)."""
        name = reference.get("source-name")
        if name is not None:
            if not isinstance(name, str) or not name.startswith("volume-"):
                raise VolumeNotFound(f"no file volume-*.qcow2 is named {name!r} on backend {self.backend_name}")
            return _check_id(name[len("volume-"):].removesuffix(".qcow2"), "volume")
        found = reference.get("source-id")
        if not isinstance(found, str):
            raise VolumeNotFound("a reference names a file by 'source-name' (volume-<name>) or 'source-id'")
        return _check_id(found, "volume")

    def _unsafe(self, volume_id: str, backings: dict[str, str | None]) -> str | None:
        """Why the file of ``volume_id`` cannot change hands now (None: it can)."""
        if self.exports.exported(volume_id):
            return "it is exported"
        if any(self._owner(n) == volume_id and self._snapshot_id(n) for n in backings):
            return "it has snapshots (or volumes were cloned from it)"
        return None

    def manage_existing(self, volume: Volume, reference: Mapping[str, str]) -> ManagedVolume:
        old = self._referenced(reference)
        target = self._volume_name(volume.id)
        with self._lock(old), self._lock(volume.id):
            source = self._file(self._volume_name(old))
            if not os.path.exists(source):
                raise VolumeNotFound(f"backend {self.backend_name} has no file {os.path.basename(source)}")
            why = self._unsafe(old, self._backings())
            if why is not None:
                raise VolumeBusy(f"{os.path.basename(source)} cannot be managed: {why}")
            if old != volume.id:
                if os.path.exists(self._file(target)):
                    raise VolumeBusy(f"volume {volume.id} already has a file on backend {self.backend_name}")
                os.rename(source, self._file(target))
            size = read_header(self._file(target)).virtual_size
        return ManagedVolume(size_gib=max(1, -(-size // GIB)), provider_location=self._file(target))

    def get_manageable_volumes(self) -> list[ManageableVolume]:
        backings = self._backings()
        out = []
        for name in sorted(backings):
            vid = self._owner(name)
            if self._snapshot_id(name) or not vid:
                continue
            why = self._unsafe(vid, backings)
            out.append(ManageableVolume(reference={"source-name": f"volume-{vid}"},
                                        size_gib=max(1, -(-read_header(self._file(name)).virtual_size // GIB)),
                                        safe_to_manage=why is None, reason_not_safe=why))
        return out

    def unmanage(self, volume: Volume) -> None:
        """The file stays as ``volume-<id>.qcow2``: ``{"source-name": "volume-<id>"}`` manages it again."""
        with self._lock(volume.id):
            self._active(volume.id)
            why = self._unsafe(volume.id, self._backings())
            if why is not None:
                raise VolumeBusy(f"volume {volume.id} cannot be unmanaged: {why}")

    # -- the dependency graph, read from the headers ------------------------------------------------
    def _backings(self) -> dict[str, str | None]:
        """Every volume or snapshot file name -> the file name it is backed by (None: standalone)."""
        found: dict[str, str | None] = {}
        for name in os.listdir(self.path):
            if not _VOLUME_FILE.match(name):
                continue
            try:
                found[name] = read_header(self._file(name)).backing_file
            except (FileNotFoundError, VolumeDriverError):
                continue
        return found

    @staticmethod
    def _owner(name: str) -> str:
        match = _VOLUME_FILE.match(name)
        return match["volume"] if match else ""

    def _external_children(self, names: set[str], owner: str) -> list[str]:
        """Files of volumes other than ``owner`` backed by one of ``names``."""
        return sorted(n for n, b in self._backings().items() if b in names and self._owner(n) != owner)

    def _busy_if_exported(self, volume_id: str, doing: str) -> None:
        hosts = self.exports.exported(volume_id)
        if hosts:
            raise VolumeBusy(f"volume {volume_id} is attached to {', '.join(hosts)}: detach it to {doing}")

    def _check_room(self, size_gib: int) -> None:
        stats = self.get_stats()
        limit = (stats.total_gib or 0.0) * self.ratio
        if stats.provisioned_gib + size_gib > limit:
            raise BackendFull(f"backend {self.backend_name} has {stats.provisioned_gib:.0f} GiB provisioned of "
                              f"{limit:.0f} GiB ({self.ratio:g} x the filesystem): no room for {size_gib} GiB")
        if (stats.free_gib or 0.0) < 0.01:
            raise BackendFull(f"the filesystem of backend {self.backend_name} is full")

    @staticmethod
    def _check_size(size_gib: int) -> None:
        if not isinstance(size_gib, int) or isinstance(size_gib, bool) or size_gib < 1:
            raise InvalidSize(f"a volume's size is a positive whole number of GiB, not {size_gib!r}")

    def _place(self, tmp: str, name: str) -> None:
        os.chmod(tmp, 0o600)
        os.replace(tmp, self._file(name))

    # -- required ----------------------------------------------------------------------------------
    def create_volume(self, volume: Volume) -> Provisioned:
        name = self._volume_name(volume.id)
        self._check_size(volume.size_gib)
        with self._lock(volume.id):
            with contextlib.suppress(VolumeNotFound):
                return Provisioned(provider_location=self._active(volume.id))  # a retried create
            self._check_room(volume.size_gib)
            tmp = self._tmp()
            try:
                self.qemu.create(os.path.basename(tmp), volume.size_gib * GIB)
                self._place(tmp, name)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        return Provisioned(provider_location=self._file(name))

    def delete_volume(self, volume: Volume) -> None:
        with self._lock(volume.id):
            try:
                active = self._active(volume.id)
            except VolumeNotFound:  # already gone; forget an export a crash may have left
                state = self.exports.load(volume.id)
                state.connections.clear()
                self.exports.stop(state)
                self.exports.save(state)
                return
            self._busy_if_exported(volume.id, "delete it")
            mine = {n for n in self._backings() if self._owner(n) == volume.id}
            snapshots = sorted(self._snapshot_id(n) for n in mine if not self._snapshot_id(n).startswith(_CLONE)
                               and n != os.path.basename(active))
            if snapshots:
                raise VolumeBusy(f"volume {volume.id} has snapshots ({', '.join(snapshots)}): delete them first")
            children = self._external_children(mine, volume.id)
            if children:
                raise VolumeBusy(f"volume {volume.id} cannot be deleted: volumes cloned from it still use its data "
                                 f"({', '.join(sorted({self._owner(c) for c in children}))})")
            backing = read_header(active).backing_file
            os.unlink(active)
            for name in mine - {os.path.basename(active)}:  # hidden clone snapshots nothing uses any more
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._file(name))
        self._forget_clone_source(volume.id, backing)

    @staticmethod
    def _snapshot_id(name: str) -> str:
        match = _VOLUME_FILE.match(name)
        return (match["snap"] or "") if match else ""

    def _forget_clone_source(self, volume_id: str, backing: str | None) -> None:
        """Drop the hidden snapshot ``volume_id`` was cloned from once nothing uses it (best effort)."""
        if not backing or self._snapshot_id(backing) != _CLONE + volume_id:
            return
        owner = self._owner(backing)
        with self._lock(owner):
            if not os.path.exists(self._file(backing)) or self._external_children({backing}, owner):
                return
            try:
                self._drop_snapshot_file(owner, backing)
            except VolumeDriverError as err:  # the source is attached: its next delete removes it
                LOG.info("kept hidden snapshot %s for now: %s", backing, err)

    def initialize_connection(self, volume: Volume, connector: Connector) -> ConnectionInfo:
        with self._lock(volume.id):
            active = self._active(volume.id)
            protocol = self._pick_protocol(connector)
            state = self.exports.load(volume.id)
            others = sorted(set(state.connections) - {connector.host})
            if others and not volume.multiattach:
                raise VolumeBusy(f"volume {volume.id} is attached to {', '.join(others)} and is not multiattach")
            if state.connections.get(connector.host) not in (None, protocol):
                protocol = state.connections[connector.host]  # already exported there: the same export again
            state.connections[connector.host] = protocol
            if protocol == PROTOCOL_FILE:
                self.exports.save(state)
                return ConnectionInfo(driver_volume_type=PROTOCOL_FILE, volume_id=volume.id,
                                      data=FileConnection(path=active, disk_format="qcow2"))
            if not self.exports.running(state):
                self.exports.start(state, active)
            self.exports.save(state)
            assert state.port is not None and state.psk is not None  # set by start()
            return ConnectionInfo(driver_volume_type=PROTOCOL_NBD, volume_id=volume.id,
                                  data=NbdConnection(host=self.advertise_host, port=state.port,
                                                     export_name=volume.id, tls=state.psk))

    def _pick_protocol(self, connector: Connector) -> str:
        local = connector.host == self.host
        wanted = connector.protocols or ((PROTOCOL_FILE, PROTOCOL_NBD) if local else (PROTOCOL_NBD,))
        for protocol in wanted:
            if protocol == PROTOCOL_NBD or (protocol == PROTOCOL_FILE and local):
                return protocol
        raise VolumeDriverError(f"backend {self.backend_name} cannot export to host {connector.host} over "
                                f"{', '.join(wanted)}: it serves {PROTOCOL_FILE} (on host {self.host}) "
                                f"and {PROTOCOL_NBD}")

    def terminate_connection(self, volume: Volume, connector: Connector) -> None:
        _check_id(volume.id, "volume")
        with self._lock(volume.id):
            state = self.exports.load(volume.id)
            state.connections.pop(connector.host, None)
            if not state.nbd_hosts():
                self.exports.stop(state)
            self.exports.save(state)

    def get_stats(self) -> BackendStats:
        usage = shutil.disk_usage(self.path)
        provisioned = allocated = 0
        count = 0
        for name in os.listdir(self.path):
            match = _VOLUME_FILE.match(name)
            if not match:
                continue
            path = self._file(name)
            try:
                allocated += os.stat(path).st_blocks * 512
                if not match["snap"]:
                    provisioned += read_header(path).virtual_size
                    count += 1
            except (FileNotFoundError, VolumeDriverError):
                continue
        capabilities: dict[str, str | int | float | bool] = {
            "thin_provisioning_support": True, "thick_provisioning_support": False, "multiattach": True,
            **{f"{c}_support": True for c in sorted(self.capabilities)},
        }
        return BackendStats(
            volume_backend_name=self.backend_name, vendor_name="Cumulo", driver_version=self.VERSION,
            storage_protocols=self.storage_protocols, total_gib=usage.total / GIB, free_gib=usage.free / GIB,
            provisioned_gib=provisioned / GIB, allocated_gib=allocated / GIB, thin_provisioning=True,
            thick_provisioning=False, max_over_subscription_ratio=self.ratio,
            reserved_percentage=self.reserved_percentage, volume_count=count, capabilities=capabilities)

    # -- extend ------------------------------------------------------------------------------------
    def extend_volume(self, volume: Volume, new_size_gib: int) -> None:
        self._check_size(new_size_gib)
        with self._lock(volume.id):
            active = self._active(volume.id)
            current = read_header(active).virtual_size
            if new_size_gib * GIB == current:
                return
            if new_size_gib * GIB < current:
                raise InvalidSize(f"volume {volume.id} is {current / GIB:g} GiB: extend cannot shrink it to "
                                  f"{new_size_gib} GiB")
            self._busy_if_exported(volume.id, "extend it")
            self._check_room(new_size_gib - (current + GIB - 1) // GIB)
            self.qemu.run("resize", "-q", "-f", "qcow2", os.path.basename(active), str(new_size_gib * GIB))

    # -- snapshots ---------------------------------------------------------------------------------
    def create_snapshot(self, snapshot: Snapshot, volume: Volume) -> Provisioned:
        name = self._snapshot_name(volume.id, snapshot.id)
        with self._lock(volume.id):
            self._take_snapshot(volume.id, name)
        return Provisioned(provider_location=self._file(name))

    def _take_snapshot(self, volume_id: str, name: str) -> None:
        """Freeze the active layer as ``name``; a new empty active layer backed by it takes the volume's name."""
        if os.path.exists(self._file(name)):
            return  # a retried create
        active = self._active(volume_id)
        self._busy_if_exported(volume_id, "snapshot it")
        size = read_header(active).virtual_size
        pending = active + ".pending"
        self.qemu.create(os.path.basename(pending), size, backing=name)
        # crash-safe order (see _active): the new layer exists before the old one moves
        os.rename(active, self._file(name))
        os.chmod(self._file(name), 0o400)
        os.rename(pending, active)

    def delete_snapshot(self, snapshot: Snapshot) -> None:
        found = self._find_snapshot(snapshot.id)
        if found is None:
            return
        owner, name = found
        with self._lock(owner):
            if not os.path.exists(self._file(name)):
                return
            children = self._external_children({name}, owner)
            if children:
                raise VolumeBusy(f"snapshot {snapshot.id} cannot be deleted: volumes made from it still use its "
                                 f"data ({', '.join(sorted({self._owner(c) for c in children}))})")
            backing = read_header(self._file(name)).backing_file
            self._drop_snapshot_file(owner, name)
        self._forget_clone_source(owner, backing)

    def _drop_snapshot_file(self, owner: str, name: str) -> None:
        """Remove snapshot file ``name`` from ``owner``'s chain, its data kept in the layer above it."""
        backings = self._backings()
        above = [n for n, b in backings.items() if b == name and self._owner(n) == owner]
        for child in above:
            path = self._file(child)
            if child == self._volume_name(owner):
                self._busy_if_exported(owner, "delete a snapshot it sits on")
            mode = os.stat(path).st_mode & 0o777
            os.chmod(path, 0o600)
            try:
                new_backing = backings.get(name)
                args = ["-F", "qcow2"] if new_backing else []
                self.qemu.run("rebase", "-q", "-f", "qcow2", "-b", new_backing or "", *args, child)
            finally:
                os.chmod(path, mode)
        os.chmod(self._file(name), 0o600)
        os.unlink(self._file(name))

    def create_volume_from_snapshot(self, volume: Volume, snapshot: Snapshot, flatten: bool = False) -> Provisioned:
        self._check_size(volume.size_gib)
        found = self._find_snapshot(snapshot.id)
        if found is None:
            raise SnapshotNotFound(f"snapshot {snapshot.id} has no file on backend {self.backend_name}")
        owner, name = found
        with self._lock(owner), self._lock(volume.id):
            return self._child(volume, name, flatten)

    def _child(self, volume: Volume, source: str, flatten: bool) -> Provisioned:
        """Make ``volume`` from the snapshot file ``source``: a copy-on-write child, or a full copy."""
        target = self._volume_name(volume.id)
        if os.path.exists(self._file(target)):
            return Provisioned(provider_location=self._file(target))  # a retried create
        source_size = read_header(self._file(source)).virtual_size
        if volume.size_gib * GIB < source_size:
            raise InvalidSize(f"volume {volume.id} of {volume.size_gib} GiB is smaller than its source "
                              f"({source_size / GIB:g} GiB)")
        self._check_room(volume.size_gib)
        tmp = self._tmp()
        try:
            if flatten:
                self.qemu.run("convert", "-q", "-f", "qcow2", "-O", "qcow2", source, os.path.basename(tmp))
                if volume.size_gib * GIB > source_size:
                    self.qemu.run("resize", "-q", "-f", "qcow2", os.path.basename(tmp), str(volume.size_gib * GIB))
            else:
                self.qemu.create(os.path.basename(tmp), volume.size_gib * GIB, backing=source)
            self._place(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return Provisioned(provider_location=self._file(target))

    # -- clones ------------------------------------------------------------------------------------
    def clone_volume(self, volume: Volume, source: Volume, flatten: bool = False) -> Provisioned:
        self._check_size(volume.size_gib)
        _check_id(volume.id, "volume")
        with self._lock(source.id), self._lock(volume.id):
            if os.path.exists(self._file(self._volume_name(volume.id))):
                return Provisioned(provider_location=self._file(self._volume_name(volume.id)))
            active = self._active(source.id)
            if volume.size_gib * GIB < read_header(active).virtual_size:
                raise InvalidSize(f"volume {volume.id} of {volume.size_gib} GiB is smaller than its source "
                                  f"volume {source.id}")
            self._busy_if_exported(source.id, "clone it")
            if flatten:
                return self._child(volume, os.path.basename(active), flatten=True)
            hidden = self._snapshot_name(source.id, _CLONE + volume.id)
            self._take_snapshot(source.id, hidden)
            try:
                return self._child(volume, hidden, flatten=False)
            except Exception:
                with contextlib.suppress(VolumeDriverError):
                    self._drop_snapshot_file(source.id, hidden)
                raise

    # -- images ------------------------------------------------------------------------------------
    def copy_image_to_volume(self, volume: Volume, chunks: Iterable[bytes], disk_format: DiskFormat) -> None:
        if disk_format not in _FORMATS:
            raise InvalidImage(f"backend {self.backend_name} writes raw and qcow2 images, not {disk_format!r}")
        with self._lock(volume.id):
            active = self._active(volume.id)
            self._busy_if_exported(volume.id, "write an image into it")
            backing = read_header(active).backing_file
            data, out = self._tmp(".image"), self._tmp()
            try:
                self._receive(chunks, data)
                info = self._image_info(data, disk_format)
                size = int(info["virtual-size"])
                if size > volume.size_gib * GIB:
                    raise InvalidSize(f"the image's virtual size ({size} bytes) is larger than volume {volume.id} "
                                      f"({volume.size_gib} GiB)")
                self.qemu.run("convert", "-q", "-f", disk_format, "-O", "qcow2", os.path.basename(data),
                              os.path.basename(out))
                os.unlink(data)
                if volume.size_gib * GIB > read_header(out).virtual_size:
                    self.qemu.run("resize", "-q", "-f", "qcow2", os.path.basename(out), str(volume.size_gib * GIB))
                self._place(out, os.path.basename(active))
            finally:
                for path in (data, out):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
        self._forget_clone_source(volume.id, backing)  # the new data is standalone

    def _receive(self, chunks: Iterable[bytes], path: str) -> None:
        """Write the image's bytes to ``path``, leaving holes for zeros (raw images are mostly zeros)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            unchecked = total = 0
            for chunk in chunks:
                unchecked += len(chunk)
                total += len(chunk)
                if unchecked >= _ROOM_CHECK:  # stop before the filesystem is full, not after
                    unchecked = 0
                    if shutil.disk_usage(self.path).free < 2 * _ROOM_CHECK:
                        raise BackendFull(f"the filesystem of backend {self.backend_name} filled up receiving "
                                          "the image")
                if chunk.strip(b"\0"):
                    f.write(chunk)
                else:
                    f.seek(len(chunk), os.SEEK_CUR)
            f.truncate(total)

    def _image_info(self, path: str, disk_format: DiskFormat) -> dict[str, Any]:
        try:
            info = self.qemu.info(os.path.basename(path), disk_format, untrusted=True)
        except VolumeDriverError as err:
            raise InvalidImage(f"the image data is not valid {disk_format}: {err}") from err
        if disk_format == "qcow2":
            if info.get("backing-filename") or info.get("full-backing-filename"):
                raise InvalidImage("a qcow2 image with a backing file is refused (it would read a file of the host)")
            specific = info.get("format-specific")
            data = specific.get("data", {}) if isinstance(specific, dict) else {}
            if isinstance(data, dict) and data.get("data-file"):
                raise InvalidImage("a qcow2 image with an external data file is refused")
        return info

    def copy_volume_to_image(self, volume: Volume, disk_format: DiskFormat) -> Iterator[bytes]:
        if disk_format not in _FORMATS:
            raise InvalidImage(f"backend {self.backend_name} writes raw and qcow2 images, not {disk_format!r}")
        with self._lock(volume.id):
            active = self._active(volume.id)
            self._busy_if_exported(volume.id, "copy it to an image")
            tmp = self._tmp("." + disk_format)
            try:
                self.qemu.run("convert", "-q", "-f", "qcow2", "-O", disk_format, os.path.basename(active),
                              os.path.basename(tmp))
                f = open(tmp, "rb")  # closed by _FileChunks
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)  # the open file keeps the data; nothing is left if the reader goes away
        return _FileChunks(f, self.chunk_size)


class _FileChunks(Iterator[bytes]):
    """An open file's bytes in chunks; ``close()`` (or reaching the end) closes the file."""

    def __init__(self, f: IO[bytes], chunk_size: int) -> None:
        self._f = f
        self._chunk_size = chunk_size

    def __next__(self) -> bytes:
        if self._f.closed:
            raise StopIteration
        chunk = self._f.read(self._chunk_size)
        if not chunk:
            self._f.close()
            raise StopIteration
        return chunk

    def close(self) -> None:
        self._f.close()


__all__ = ["FileDriver"]
