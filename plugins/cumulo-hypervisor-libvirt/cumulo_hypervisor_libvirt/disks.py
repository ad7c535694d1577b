"""Instance disks on a libvirt host: the per-host image cache and the qcow2 files built on it.

This module owns every call to ``qemu-img`` the driver makes. An image is
downloaded once per host (:class:`ImageCache`), verified by the image reader,
checked against the disk format the image service declares and, when that
format is neither qcow2 nor raw, converted to qcow2 once; every instance then
gets a qcow2 overlay backed by that shared file (:func:`create_overlay`).

Two rules hold for every function here: ``qemu-img`` runs from an argument
list (never a shell) with the input format pinned where it is known, and a
final path only ever holds a whole file (each file is written to
``<path>.part`` and renamed). Every failure is a
:class:`~cumulo.interfaces.hypervisor.HypervisorError` carrying qemu-img's
own message.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from cumulo.interfaces.hypervisor import HypervisorError, ImageReader

__all__ = ["BaseImage", "ImageCache", "create_blank", "create_overlay", "disk_info", "flatten", "resize"]

GiB = 1024 ** 3

#: Image-service disk formats and the qemu-img driver that reads each.
#: qcow2 and raw are used as they are; the others are converted to qcow2 when cached.
#: AKI/ARI/AMI and ISO images are plain bytes to qemu (a kernel, a ramdisk, a raw disk, a CD-ROM).
_QEMU_FORMATS = {
    "qcow2": "qcow2", "raw": "raw", "ami": "raw", "aki": "raw", "ari": "raw", "iso": "raw",
    "vmdk": "vmdk", "vdi": "vdi", "vhd": "vpc", "vhdx": "vhdx", "qed": "qed",
}
_KEPT_FORMATS = ("qcow2", "raw")
_VMDK_SELF_CONTAINED = ("monolithicSparse", "streamOptimized")

#: qemu-img info probes untrusted headers: bound it, as Nova bounds it with prlimit.
_INFO_TIMEOUT = 120

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclasses.dataclass(frozen=True)
class BaseImage:
    """A verified, cached image file on this host, shared by every instance of the image.

    ``format`` is ``qcow2`` or ``raw`` (what an overlay names as its backing
    format); ``virtual_size`` is the guest-visible size in bytes.
    """

    path: str
    format: str
    virtual_size: int


class ImageCache:
    """The host's cache of base images and direct-boot kernels, under ``base_dir`` (mode 0700).

    A base image is ``<base_dir>/<image id>.<format>``; concurrent callers for
    one image (threads of this process or other processes on the host) wait
    for a single download, serialised by a lock file in ``<base_dir>/.locks``.
    Cached files are never modified: instances only ever read them.
    """

    def __init__(self, base_dir: str) -> None:
        self.base_dir = base_dir
        self._lock_dir = os.path.join(base_dir, ".locks")
        self._guard = threading.Lock()
        self._thread_locks: dict[str, threading.Lock] = {}
        self._known: dict[str, BaseImage] = {}  # cached files never change: qemu-img info once per file

    def base_image(self, reader: ImageReader) -> BaseImage:
        """The cached base image of ``reader``'s image, downloaded and verified on first use.

        The bytes go through :meth:`ImageReader.save_to` (size and checksums
        checked), then their real format is compared with the declared
        ``disk_format``: an image whose content is not what it claims to be, or
        a qcow2 that names a backing or data file of its own, is refused, since
        qemu would follow those paths on this host. Formats other than qcow2
        and raw are converted to qcow2 once, here.

        :raises HypervisorError: the download, the verification, the format check or the conversion failed;
            nothing is left in the cache then.
        """
        meta = reader.meta
        declared = meta.disk_format.lower()
        qemu_format = _QEMU_FORMATS.get(declared)
        if qemu_format is None:
            raise HypervisorError(f"image {meta.id}: disk format {meta.disk_format!r} is not supported by libvirt "
                                  f"(supported: {', '.join(sorted(_QEMU_FORMATS))})")
        stored = qemu_format if qemu_format in _KEPT_FORMATS else "qcow2"
        path = os.path.join(self.base_dir, f"{_file_name(meta.id)}.{stored}")
        with self._image_lock(meta.id):
            if not os.path.exists(path):
                self._known.pop(path, None)
                self._fetch(reader, qemu_format, path)
            if path not in self._known:
                self._known[path] = BaseImage(path, stored, _virtual_size(disk_info(path, stored)))
            return self._known[path]

    def kernel_files(self, reader: ImageReader) -> tuple[str, str | None]:
        """The cached kernel and ramdisk named by the image's ``kernel_id`` and ``ramdisk_id`` properties.

        Both are read through ``reader.related(id)`` (as the instance's owner
        sees them), verified, and cached as plain files (``<id>.raw``) the way
        base images are. The ramdisk is None when the image names none.

        :raises HypervisorError: the image names no kernel, or a related image cannot be read or verified.
        """
        props = reader.meta.properties
        kernel_id = props.get("kernel_id")
        if not kernel_id:
            raise HypervisorError(f"image {reader.meta.id} names no kernel (no kernel_id property)")
        kernel = self._plain_file(reader.related(kernel_id))
        ramdisk_id = props.get("ramdisk_id")
        return kernel, (self._plain_file(reader.related(ramdisk_id)) if ramdisk_id else None)

    def _plain_file(self, reader: ImageReader) -> str:
        # A kernel or ramdisk is handed to qemu as bytes, never parsed as a disk: no format probe.
        path = os.path.join(self.base_dir, f"{_file_name(reader.meta.id)}.raw")
        with self._image_lock(reader.meta.id):
            if not os.path.exists(path):
                _save(reader, path)
        return path

    def _fetch(self, reader: ImageReader, qemu_format: str, path: str) -> None:
        # Checked (and converted) under a temporary name, so the cached name only ever holds a usable image.
        download = os.path.join(self.base_dir, f"{_file_name(reader.meta.id)}.download")
        _save(reader, download)
        try:
            _check_content(reader.meta.id, download, qemu_format)
            if qemu_format in _KEPT_FORMATS:
                os.replace(download, path)
            else:
                _convert(download, qemu_format, path, "qcow2")
        finally:
            _unlink(download)

    def _makedirs(self) -> None:
        os.makedirs(self.base_dir, mode=0o700, exist_ok=True)
        os.makedirs(self._lock_dir, mode=0o700, exist_ok=True)

    @contextmanager
    def _image_lock(self, image_id: str) -> Iterator[None]:
        # A thread lock for this process, then flock for the other processes sharing the cache.
        name = _file_name(image_id)
        with self._guard:
            lock = self._thread_locks.setdefault(name, threading.Lock())
        with lock:
            self._makedirs()  # also (re)creates the cache directory, which the caller then writes into
            fd = os.open(os.path.join(self._lock_dir, name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the flock


def create_overlay(base: BaseImage, path: str, size_gb: int) -> None:
    """Create the qcow2 ``path`` backed by ``base`` (its backing format named), of ``size_gb`` GiB.

    ``size_gb`` 0 keeps the base's virtual size; a larger size grows the
    overlay (the guest sees a bigger disk; its partitions are the guest's business).

    :raises HypervisorError: qemu-img failed, or ``size_gb`` is smaller than the image's virtual size
        (the guest's file systems would be cut short).
    """
    size = _size_bytes(size_gb)
    if size and size < base.virtual_size:
        raise HypervisorError(f"the flavor's {size_gb} GB root disk is smaller than the image "
                              f"({base.virtual_size} bytes)")
    args = ["create", "-q", "-f", "qcow2", "-b", os.path.abspath(base.path), "-F", base.format]
    with _written(path) as part:
        _qemu_img([*args, part, *([str(size)] if size > base.virtual_size else [])])


def create_blank(path: str, size_gb: int, fmt: str = "qcow2") -> None:
    """Create an empty ``fmt`` disk of ``size_gb`` GiB at ``path`` (ephemeral and swap disks).

    :raises HypervisorError: qemu-img failed (an unknown format, no space).
    """
    with _written(path) as part:
        _qemu_img(["create", "-q", "-f", fmt, part, str(_size_bytes(size_gb))])


def resize(path: str, size_gb: int) -> None:
    """Grow the disk at ``path`` to ``size_gb`` GiB; the same size is a no-op.

    :raises HypervisorError: ``size_gb`` is smaller than the disk (shrinking loses data), or qemu-img failed.
    """
    info = disk_info(path)
    current, size = _virtual_size(info), _size_bytes(size_gb)
    if size < current:
        raise HypervisorError(f"cannot shrink {path} from {current} bytes to {size_gb} GB")
    if size > current:
        _qemu_img(["resize", "-q", "-f", str(info["format"]), path, str(size)])


def flatten(path: str, out_path: str, out_format: str = "qcow2") -> None:
    """Write ``path`` and its backing chain as one standalone ``out_format`` image at ``out_path``.

    For snapshots: the guest must be paused or stopped, so the disk does not
    change while it is read (the read does not take qemu's image lock for that reason).

    :raises HypervisorError: qemu-img failed.
    """
    _convert(path, str(disk_info(path)["format"]), out_path, out_format, force_share=True)


def disk_info(path: str, fmt: str | None = None) -> dict[str, Any]:
    """``qemu-img info --output=json`` of ``path``: ``format``, ``virtual-size``, ``backing-filename``...

    ``fmt`` pins the format instead of letting qemu-img probe it. A running
    guest's disk can be read (``--force-share``).

    :raises HypervisorError: the file is missing or unreadable by qemu-img.
    """
    args = ["info", "--output=json", "--force-share", *(["-f", fmt] if fmt else []), path]
    out = _qemu_img(args, timeout=_INFO_TIMEOUT)
    try:
        info = json.loads(out)
    except ValueError as err:
        raise HypervisorError(f"qemu-img info {path}: unreadable output ({err})") from err
    if not isinstance(info, dict):
        raise HypervisorError(f"qemu-img info {path}: unexpected output {out[:200]!r}")
    return info


def _check_content(image_id: str, path: str, qemu_format: str) -> None:
    """Refuse an image whose bytes are not the declared format, or that names files of this host."""
    info = disk_info(path)
    found = info.get("format")
    if found != qemu_format:
        raise HypervisorError(f"image {image_id}: declared {qemu_format} but its content is {found}")
    if info.get("backing-filename") or info.get("full-backing-filename"):
        raise HypervisorError(f"image {image_id}: it names a backing file ({info.get('backing-filename')}); "
                              "images must be standalone")
    data = (info.get("format-specific") or {}).get("data") or {}
    if data.get("data-file"):
        raise HypervisorError(f"image {image_id}: it names an external data file; images must be standalone")
    # A VMDK descriptor can name any file of this host as an extent: only the self-contained kinds are read.
    if found == "vmdk" and data.get("create-type") not in _VMDK_SELF_CONTAINED:
        raise HypervisorError(f"image {image_id}: VMDK create type {data.get('create-type')!r} is not accepted "
                              f"(accepted: {', '.join(_VMDK_SELF_CONTAINED)})")


def _convert(src: str, src_format: str, dest: str, dest_format: str, force_share: bool = False) -> None:
    """``qemu-img convert`` into ``dest`` (written as ``dest``.part, then renamed)."""
    with _written(dest) as part:
        _qemu_img(["convert", "-q", *(["-U"] if force_share else []), "-f", src_format, "-O", dest_format,
                   src, part])


def _save(reader: ImageReader, path: str) -> None:
    try:
        reader.save_to(path)  # verified, and renamed into place only when whole
    except HypervisorError:
        raise
    except OSError as err:
        raise HypervisorError(f"image {reader.meta.id}: cannot write {path}: {err}") from err


@contextmanager
def _written(path: str) -> Iterator[str]:
    """Yield ``path``.part to write; rename it to ``path`` on success, remove it on failure."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, mode=0o700, exist_ok=True)
    part = path + ".part"
    _unlink(part)  # a leftover from a crashed attempt
    try:
        yield part
        os.replace(part, path)
    except BaseException:
        _unlink(part)
        raise


def _qemu_img(args: Sequence[str], timeout: float | None = None) -> str:
    exe = shutil.which("qemu-img")
    if exe is None:
        raise HypervisorError("qemu-img is not installed on this host (Debian: apt-get install qemu-utils)")
    try:
        done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "LC_ALL": "C"}, check=False)
    except subprocess.TimeoutExpired as err:
        raise HypervisorError(f"qemu-img {args[0]} timed out after {timeout} s") from err
    except OSError as err:
        raise HypervisorError(f"cannot run qemu-img: {err}") from err
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
        raise HypervisorError(f"qemu-img {args[0]} failed: {message}")
    return done.stdout


def _virtual_size(info: dict[str, Any]) -> int:
    try:
        return int(info["virtual-size"])
    except (KeyError, TypeError, ValueError) as err:
        raise HypervisorError(f"qemu-img info reports no virtual size: {info}") from err


def _size_bytes(size_gb: int) -> int:
    if size_gb < 0:
        raise HypervisorError(f"a disk size cannot be negative ({size_gb} GB)")
    return size_gb * GiB


def _file_name(image_id: str) -> str:
    """A file name for an image id: the id itself when it is a plain name, else its SHA-256."""
    if _SAFE_NAME.fullmatch(image_id):
        return image_id
    return hashlib.sha256(image_id.encode()).hexdigest()


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
