"""The ``lvm`` volume driver: volumes as thin logical volumes of one LVM thin pool.

Names in ``[volume_lvm] volume_group`` (LV names allow ``[A-Za-z0-9+_.-]``)::

    volume-<id>        a volume: a thin LV in ``thin_pool``, or a thin snapshot made active and writable
    snap-<sid>         snapshot <sid>: a thin snapshot of its volume, tagged ``cumulo-of-<volume id>``
    tmp-<id>           a volume being written (a flattened copy, an image): renamed to volume-<id> when whole
    old-<id>           the data an image write replaced, removed once the new volume-<id> is in place

Thin snapshots share blocks in the pool, so a volume made from a snapshot or
cloned from a volume is a thin snapshot of its source and does not depend on
it afterwards: deleting the source leaves the child whole. The only
dependency kept is the one the interface asks for: a volume with snapshots
(found by their tag, not by LVM's ``origin``, which LVM forgets when the
origin is renamed away) cannot be deleted.

Thin snapshots are made with ``--setactivationskip n`` (LVM skips activating
them by default) so each volume's device ``/dev/<vg>/volume-<id>`` exists;
a device that is missing (after a reboot without autoactivation) is
activated on use.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import threading
import uuid
from collections.abc import Iterable, Iterator
from typing import IO, Any

from oslo_config import cfg

from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.volume import (
    GIB,
    PROTOCOL_FILE,
    BackendFull,
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
    VolumeDriverError,
    VolumeNotFound,
)
from cumulo_volume_lvm import opts
from cumulo_volume_lvm.exports import Exports
from cumulo_volume_lvm.lvm import LvInfo, Lvm, run_command

LOG = logging.getLogger(__name__)

# Ids become LV names and tags: no dots or slashes.
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,100}$")
_FORMATS: tuple[DiskFormat, ...] = ("raw", "qcow2")
_OF = "cumulo-of-"
# qemu-img info of an image a user uploaded runs under these limits (bytes of address space, CPU seconds)
_UNTRUSTED_MEMORY = 1024 ** 3
_UNTRUSTED_CPU = 30


def _check_id(value: str, what: str) -> str:
    if not _SAFE_ID.match(value or ""):
        raise VolumeDriverError(f"{what} id {value!r} is not usable as a logical volume name")
    return value


def _volume_lv(volume_id: str) -> str:
    return f"volume-{_check_id(volume_id, 'volume')}"


def _snapshot_lv(snapshot_id: str) -> str:
    # not "snapshot-...": LVM reserves LV names that start with "snapshot"
    return f"snap-{_check_id(snapshot_id, 'snapshot')}"


class LvmDriver(VolumeDriver):
    """Volumes as thin LVs of ``[volume_lvm] thin_pool`` in ``volume_group`` (see the module docstring)."""

    interface_version = "2.0"
    storage_protocols = (PROTOCOL_FILE,)
    VERSION = "1.0.0"

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        group = ctx.conf[opts.GROUP]
        self.vg: str = group.volume_group
        self.pool: str = group.thin_pool
        self.backend_name: str = group.backend_name
        self.ratio: float = group.max_over_subscription_ratio
        self.reserved_percentage: int = group.reserved_percentage
        self.chunk_size: int = group.chunk_size
        self.qemu_img: str = group.qemu_img
        self.command_timeout: float = group.command_timeout
        self.lvm = Lvm(group.lvm_command, group.lvm_config, group.lvm_timeout)
        self.state_path = os.path.abspath(group.state_dir)
        os.makedirs(self.state_path, mode=0o700, exist_ok=True)
        os.chmod(self.state_path, 0o700)
        self.exports = Exports(os.path.join(self.state_path, "exports"))
        self._locks_guard = threading.Lock()
        self._locks: dict[str, threading.RLock] = {}

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return opts.list_opts()

    @classmethod
    def validate_config(cls, conf: cfg.ConfigOpts) -> list[str]:
        group = conf[opts.GROUP]
        problems = []
        for option in ("lvm_command", "qemu_img"):
            if not shutil.which(group[option]):
                package = "lvm2" if option == "lvm_command" else "qemu-utils"
                problems.append(f"[{opts.GROUP}] {option} = {group[option]} is not installed "
                                f"(tools/system-packages.sh installs {package})")
        if problems:
            return problems
        lvm = Lvm(group.lvm_command, group.lvm_config, group.lvm_timeout)
        try:
            if lvm.vg(group.volume_group) is None:
                return [f"[{opts.GROUP}] volume_group = {group.volume_group}: there is no such LVM volume group "
                        "on this host (vgs does not list it; make it with pvcreate and vgcreate)"]
            pool = lvm.lvs(group.volume_group).get(group.thin_pool)
        except VolumeDriverError as err:
            return [f"[{opts.GROUP}] volume_group = {group.volume_group}: {err}"]
        if pool is None or pool.segtype != "thin-pool":
            what = "no such logical volume" if pool is None else f"a {pool.segtype} logical volume, not a thin pool"
            problems.append(f"[{opts.GROUP}] thin_pool = {group.thin_pool}: {what} in volume group "
                            f"{group.volume_group} (make it with lvcreate --type thin-pool)")
        return problems

    # -- helpers -----------------------------------------------------------------------------------
    def _lock(self, key: str) -> threading.RLock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.RLock())

    def _device(self, lv: str) -> str:
        return f"/dev/{self.vg}/{lv}"

    def _lvs(self) -> dict[str, LvInfo]:
        return self.lvm.lvs(self.vg)

    def _active_device(self, lv: str) -> str:
        """The LV's device path, activating it first when its node is missing."""
        path = self._device(lv)
        if not os.path.exists(path):
            self.lvm.run("lvchange", "--activate", "y", "--ignoreactivationskip", f"{self.vg}/{lv}")
        return path

    def _volume(self, volume_id: str, lvs: dict[str, LvInfo] | None = None) -> LvInfo:
        """The volume's LV, finishing an image write a crash interrupted; VolumeNotFound when there is none."""
        lvs = self._lvs() if lvs is None else lvs
        name, old = _volume_lv(volume_id), f"old-{volume_id}"
        if name not in lvs and old in lvs:  # crashed between the two renames of an image write: undo the first
            self.lvm.run("lvrename", self.vg, old, name)
            lvs = self._lvs()
        elif name in lvs and old in lvs:  # crashed after both: the old data is no longer needed
            self._remove(old)
        if name not in lvs:
            raise VolumeNotFound(f"volume {volume_id} has no logical volume on backend {self.backend_name} "
                                 f"(volume group {self.vg})")
        return lvs[name]

    def _remove(self, lv: str) -> None:
        with contextlib.suppress(VolumeDriverError):
            self.lvm.run("lvchange", "--activate", "n", f"{self.vg}/{lv}")  # lvremove of an active LV asks
        self.lvm.run("lvremove", "--yes", f"{self.vg}/{lv}")

    def _busy_if_exported(self, volume_id: str, doing: str) -> None:
        hosts = self.exports.exported(volume_id)
        if hosts:
            raise VolumeBusy(f"volume {volume_id} is attached to {', '.join(hosts)}: detach it to {doing}")

    @staticmethod
    def _check_size(size_gib: int) -> None:
        if not isinstance(size_gib, int) or isinstance(size_gib, bool) or size_gib < 1:
            raise InvalidSize(f"a volume's size is a positive whole number of GiB, not {size_gib!r}")

    def _check_room(self, size_gib: int) -> None:
        stats = self.get_stats()
        limit = (stats.total_gib or 0.0) * self.ratio
        if stats.provisioned_gib + size_gib > limit:
            raise BackendFull(f"backend {self.backend_name} has {stats.provisioned_gib:.0f} GiB provisioned of "
                              f"{limit:.0f} GiB ({self.ratio:g} x thin pool {self.vg}/{self.pool}): no room for "
                              f"{size_gib} GiB")

    def _thin_snapshot(self, source: str, name: str, *tags: str) -> None:
        """A writable, active thin snapshot ``name`` of LV ``source``."""
        args = [arg for tag in tags for arg in ("--addtag", tag)]
        self.lvm.run("lvcreate", "--snapshot", "--name", name, "--setactivationskip", "n", "--activate", "y",
                     *args, f"{self.vg}/{source}")

    def _new_thin(self, name: str, size_gib: int) -> None:
        self.lvm.run("lvcreate", "--type", "thin", "--virtualsize", f"{size_gib}g", "--thinpool", self.pool,
                     "--name", name, "--activate", "y", self.vg)

    def _grow(self, lv: str, size_gib: int) -> None:
        self.lvm.run("lvextend", "--size", f"{size_gib}g", f"{self.vg}/{lv}")

    def _qemu_img(self, *args: str) -> str:
        return run_command([self.qemu_img, *args], self.command_timeout, label=f"qemu-img {args[0]}")

    def _copy_into_new(self, volume: Volume, source_lv: str) -> Provisioned:
        """Make ``volume`` a full, independent copy of LV ``source_lv`` (``flatten``), whole or not at all."""
        tmp, name = f"tmp-{volume.id}", _volume_lv(volume.id)
        with contextlib.suppress(VolumeDriverError):
            self._remove(tmp)  # left by a crash
        self._new_thin(tmp, volume.size_gib)
        try:
            # -n: the thin LV exists; --target-is-zero: a new thin LV reads as zeros, so zeros are not written
            self._qemu_img("convert", "-q", "-n", "--target-is-zero", "-f", "raw", "-O", "raw",
                           self._active_device(source_lv), self._device(tmp))
            self.lvm.run("lvrename", self.vg, tmp, name)
        except BaseException:
            with contextlib.suppress(VolumeDriverError):
                self._remove(tmp)
            raise
        return Provisioned(provider_location=self._device(name))

    # -- required ----------------------------------------------------------------------------------
    def create_volume(self, volume: Volume) -> Provisioned:
        name = _volume_lv(volume.id)
        self._check_size(volume.size_gib)
        with self._lock(volume.id):
            with contextlib.suppress(VolumeNotFound):
                self._volume(volume.id)
                return Provisioned(provider_location=self._device(name))  # a retried create
            self._check_room(volume.size_gib)
            self._new_thin(name, volume.size_gib)
        return Provisioned(provider_location=self._device(name))

    def delete_volume(self, volume: Volume) -> None:
        with self._lock(volume.id):
            lvs = self._lvs()
            try:
                self._volume(volume.id, lvs)
            except VolumeNotFound:  # already gone; forget an export record a crash may have left
                self.exports.save(volume.id, {})
                return
            self._busy_if_exported(volume.id, "delete it")
            snapshots = sorted(lv.name.removeprefix("snap-") for lv in lvs.values()
                               if lv.name.startswith("snap-") and _OF + volume.id in lv.tags)
            if snapshots:
                raise VolumeBusy(f"volume {volume.id} has snapshots ({', '.join(snapshots)}): delete them first")
            self._remove(_volume_lv(volume.id))

    def initialize_connection(self, volume: Volume, connector: Connector) -> ConnectionInfo:
        with self._lock(volume.id):
            self._volume(volume.id)
            connections = self.exports.load(volume.id)
            others = sorted(set(connections) - {connector.host})
            if others and not volume.multiattach:
                raise VolumeBusy(f"volume {volume.id} is attached to {', '.join(others)} and is not multiattach")
            if connector.host != self.host or (connector.protocols and PROTOCOL_FILE not in connector.protocols):
                raise VolumeDriverError(
                    f"backend {self.backend_name} exports volumes as the local block device only ({PROTOCOL_FILE} "
                    f"on host {self.host}), not to host {connector.host} over "
                    f"{', '.join(connector.protocols) or 'any protocol'}")
            connections[connector.host] = PROTOCOL_FILE
            self.exports.save(volume.id, connections)
            return ConnectionInfo(driver_volume_type=PROTOCOL_FILE, volume_id=volume.id,
                                  data=FileConnection(path=self._active_device(_volume_lv(volume.id)),
                                                      disk_format="raw"))

    def terminate_connection(self, volume: Volume, connector: Connector) -> None:
        _check_id(volume.id, "volume")
        with self._lock(volume.id):
            connections = self.exports.load(volume.id)
            connections.pop(connector.host, None)
            self.exports.save(volume.id, connections)

    def get_stats(self) -> BackendStats:
        lvs = self._lvs()
        pool = lvs.get(self.pool)
        if pool is None or pool.segtype != "thin-pool":
            raise VolumeDriverError(f"thin pool {self.vg}/{self.pool} of backend {self.backend_name} is missing")
        volumes = [lv for lv in lvs.values() if lv.name.startswith("volume-")]
        total = pool.size / GIB
        allocated = total * pool.data_percent / 100
        capabilities: dict[str, str | int | float | bool] = {
            "thin_provisioning_support": True, "thick_provisioning_support": False, "multiattach": True,
            "volume_group": self.vg, "thin_pool": self.pool,
            **{f"{c}_support": True for c in sorted(self.capabilities)},
        }
        return BackendStats(
            volume_backend_name=self.backend_name, vendor_name="Cumulo", driver_version=self.VERSION,
            storage_protocols=self.storage_protocols, total_gib=total, free_gib=max(total - allocated, 0.0),
            provisioned_gib=sum(lv.size for lv in volumes) / GIB, allocated_gib=allocated, thin_provisioning=True,
            thick_provisioning=False, max_over_subscription_ratio=self.ratio,
            reserved_percentage=self.reserved_percentage, volume_count=len(volumes), capabilities=capabilities)

    # -- extend ------------------------------------------------------------------------------------
    def extend_volume(self, volume: Volume, new_size_gib: int) -> None:
        self._check_size(new_size_gib)
        with self._lock(volume.id):
            current = self._volume(volume.id).size
            if new_size_gib * GIB == current:
                return
            if new_size_gib * GIB < current:
                raise InvalidSize(f"volume {volume.id} is {current / GIB:g} GiB: extend cannot shrink it to "
                                  f"{new_size_gib} GiB")
            self._busy_if_exported(volume.id, "extend it")
            self._check_room(new_size_gib - (current + GIB - 1) // GIB)
            self._grow(_volume_lv(volume.id), new_size_gib)

    # -- snapshots ---------------------------------------------------------------------------------
    def create_snapshot(self, snapshot: Snapshot, volume: Volume) -> Provisioned:
        name = _snapshot_lv(snapshot.id)
        with self._lock(volume.id):
            lvs = self._lvs()
            if name not in lvs:  # else a retried create
                self._volume(volume.id, lvs)
                # a thin snapshot is atomic (LVM suspends the origin): an attached volume is snapshotted too
                self._thin_snapshot(_volume_lv(volume.id), name, _OF + volume.id)
        return Provisioned(provider_location=self._device(name))

    def delete_snapshot(self, snapshot: Snapshot) -> None:
        name = _snapshot_lv(snapshot.id)
        with self._lock(snapshot.volume_id or snapshot.id):  # the lock create_snapshot held
            if name in self._lvs():
                self._remove(name)  # children are thin snapshots of it: they keep their blocks

    def create_volume_from_snapshot(self, volume: Volume, snapshot: Snapshot, flatten: bool = False) -> Provisioned:
        self._check_size(volume.size_gib)
        source = _snapshot_lv(snapshot.id)
        with self._lock(volume.id):
            lvs = self._lvs()
            if _volume_lv(volume.id) in lvs:
                return Provisioned(provider_location=self._device(_volume_lv(volume.id)))  # a retried create
            if source not in lvs:
                raise SnapshotNotFound(f"snapshot {snapshot.id} has no logical volume on backend "
                                       f"{self.backend_name}")
            return self._child(volume, lvs[source], flatten)

    def _child(self, volume: Volume, source: LvInfo, flatten: bool) -> Provisioned:
        if volume.size_gib * GIB < source.size:
            raise InvalidSize(f"volume {volume.id} of {volume.size_gib} GiB is smaller than its source "
                              f"({source.size / GIB:g} GiB)")
        self._check_room(volume.size_gib)
        if flatten:
            return self._copy_into_new(volume, source.name)
        name = _volume_lv(volume.id)
        self._thin_snapshot(source.name, name)
        try:
            if volume.size_gib * GIB > source.size:
                self._grow(name, volume.size_gib)
        except BaseException:
            with contextlib.suppress(VolumeDriverError):
                self._remove(name)
            raise
        return Provisioned(provider_location=self._device(name))

    # -- clones ------------------------------------------------------------------------------------
    def clone_volume(self, volume: Volume, source: Volume, flatten: bool = False) -> Provisioned:
        self._check_size(volume.size_gib)
        _check_id(volume.id, "volume")
        with self._lock(source.id), self._lock(volume.id):
            lvs = self._lvs()
            if _volume_lv(volume.id) in lvs:
                return Provisioned(provider_location=self._device(_volume_lv(volume.id)))  # a retried create
            origin = self._volume(source.id, lvs)
            if flatten:
                self._busy_if_exported(source.id, "copy it")  # a full copy of a device in use is inconsistent
            return self._child(volume, origin, flatten)

    # -- images ------------------------------------------------------------------------------------
    def copy_image_to_volume(self, volume: Volume, chunks: Iterable[bytes], disk_format: DiskFormat) -> None:
        if disk_format not in _FORMATS:
            raise InvalidImage(f"backend {self.backend_name} writes raw and qcow2 images, not {disk_format!r}")
        with self._lock(volume.id):
            current = self._volume(volume.id)
            self._busy_if_exported(volume.id, "write an image into it")
            size_gib = (current.size + GIB - 1) // GIB
            tmp, name, old = f"tmp-{volume.id}", _volume_lv(volume.id), f"old-{volume.id}"
            with contextlib.suppress(VolumeDriverError):
                self._remove(tmp)  # left by a crash
            # the image goes into a new thin LV (reads as zeros past the image), swapped in when whole, so a
            # failing stream leaves the volume as it was
            image = os.path.join(self.state_path, f".tmp-{uuid.uuid4().hex}.image")
            self._new_thin(tmp, size_gib)
            try:
                if disk_format == "raw":
                    self._receive_raw(chunks, self._device(tmp), size_gib * GIB, volume.id)
                else:
                    self._receive_file(chunks, image)
                    virtual = int(self._image_info(image)["virtual-size"])
                    if virtual > size_gib * GIB:
                        raise InvalidSize(f"the image's virtual size ({virtual} bytes) is larger than volume "
                                          f"{volume.id} ({size_gib} GiB)")
                    self._qemu_img("convert", "-q", "-n", "--target-is-zero", "-f", "qcow2", "-O", "raw", image,
                                   self._device(tmp))
                self.lvm.run("lvrename", self.vg, name, old)
                self.lvm.run("lvrename", self.vg, tmp, name)
            except BaseException:
                with contextlib.suppress(VolumeDriverError):
                    self._remove(tmp)
                raise
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(image)
            self._remove(old)

    @staticmethod
    def _receive_raw(chunks: Iterable[bytes], device: str, capacity: int, volume_id: str) -> None:
        """Write a raw image's bytes to ``device``, skipping zeros (a new thin LV reads as zeros)."""
        with open(device, "r+b", buffering=0) as f:
            offset = 0
            for chunk in chunks:
                if offset + len(chunk) > capacity:
                    raise InvalidSize(f"the image is larger than volume {volume_id} ({capacity // GIB} GiB)")
                if chunk.strip(b"\0"):
                    f.seek(offset)
                    f.write(chunk)
                offset += len(chunk)
            os.fsync(f.fileno())

    @staticmethod
    def _receive_file(chunks: Iterable[bytes], path: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            total = 0
            for chunk in chunks:
                total += len(chunk)
                if chunk.strip(b"\0"):
                    f.write(chunk)
                else:
                    f.seek(len(chunk), os.SEEK_CUR)
            f.truncate(total)

    def _image_info(self, path: str) -> dict[str, Any]:
        """``qemu-img info`` of an uploaded qcow2 image under limits; refuses backing and external data files."""
        argv = [self.qemu_img, "info", "--output=json", "-f", "qcow2", path]
        prlimit = shutil.which("prlimit")
        if prlimit:  # a crafted header must not exhaust the host
            argv = [prlimit, f"--as={_UNTRUSTED_MEMORY}", f"--cpu={_UNTRUSTED_CPU}", "--", *argv]
        try:
            info: dict[str, Any] = json.loads(run_command(argv, self.command_timeout, label="qemu-img info"))
        except (VolumeDriverError, ValueError) as err:
            raise InvalidImage(f"the image data is not valid qcow2: {err}") from err
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
            lv = self._volume(volume.id)
            self._busy_if_exported(volume.id, "copy it to an image")
            device = self._active_device(lv.name)
            if disk_format == "raw":
                return _FileChunks(open(device, "rb"), self.chunk_size, lv.size)
            tmp = os.path.join(self.state_path, f".tmp-{uuid.uuid4().hex}.qcow2")
            try:
                self._qemu_img("convert", "-q", "-f", "raw", "-O", "qcow2", device, tmp)
                f = open(tmp, "rb")
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)  # the open file keeps the data; nothing is left if the reader goes away
            return _FileChunks(f, self.chunk_size, None)


class _FileChunks(Iterator[bytes]):
    """An open file's bytes in chunks (at most ``limit``); ``close()`` (or reaching the end) closes it."""

    def __init__(self, f: IO[bytes], chunk_size: int, limit: int | None) -> None:
        self._f = f
        self._chunk_size = chunk_size
        self._left = limit

    def __next__(self) -> bytes:
        if self._f.closed:
            raise StopIteration
        size = self._chunk_size if self._left is None else min(self._chunk_size, self._left)
        chunk = self._f.read(size) if size else b""
        if not chunk:
            self._f.close()
            raise StopIteration
        if self._left is not None:
            self._left -= len(chunk)
        return chunk

    def close(self) -> None:
        self._f.close()


__all__ = ["LvmDriver"]
