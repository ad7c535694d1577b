"""Disk images through VBoxManage: the per-host cache of base VDIs, instance disks cloned from it, exports.

An image reaches the driver as raw or qcow2 (or vdi/vmdk/vhd) bytes through the interface's
:class:`~cumulo.interfaces.hypervisor.ImageReader`. It is converted once per host to a base VDI in
``images_path`` — ``convertfromraw`` for raw, ``clonemedium --format VDI`` for the formats VirtualBox reads —
and each instance's root disk is a ``clonemedium`` of that base, grown to the flavor's root size with
``modifymedium --resize``. VBoxManage does the conversions, so no qemu-img is needed on a VirtualBox host.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections.abc import Callable

from cumulo.interfaces.hypervisor import HypervisorError, ImageReader
from cumulo_hypervisor_virtualbox import output
from cumulo_hypervisor_virtualbox.vboxmanage import FILE_ERROR, OBJECT_NOT_FOUND, VBoxManage, VBoxManageError

#: Image disk formats VirtualBox opens itself (clonemedium); raw goes through convertfromraw.
CLONABLE_FORMATS = frozenset({"qcow2", "vdi", "vmdk", "vhd", "vhdx"})
CHUNK = 1024 * 1024


def clone(vbox: VBoxManage, source: str, target: str, timeout: float, close_source: bool = False) -> None:
    """``clonemedium disk source target --format VDI``; with ``close_source`` the source is unregistered after
    (VirtualBox registers a medium it opens by file name). A failed clone leaves no target file."""
    try:
        vbox("clonemedium", "disk", source, target, "--format", "VDI", timeout=timeout)
    except BaseException:
        close(vbox, target, delete=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)
        raise
    finally:
        if close_source:
            close(vbox, source)


def close(vbox: VBoxManage, medium: str, delete: bool = False) -> None:
    """Forget ``medium`` (``closemedium``; ``delete``: its file too); no error when it is not registered."""
    args = ["closemedium", "disk", medium] + (["--delete"] if delete else [])
    with contextlib.suppress(VBoxManageError):
        vbox(*args, ok_codes=(FILE_ERROR, OBJECT_NOT_FOUND))


def capacity_mb(vbox: VBoxManage, medium: str) -> int:
    info = output.fields(vbox("showmediuminfo", "disk", medium))
    return output.megabytes(info[0].get("Capacity", "0")) if info else 0


def grow(vbox: VBoxManage, medium: str, size_gb: int, timeout: float) -> None:
    """Grow ``medium`` to ``size_gb`` GiB (``modifymedium --resize``); never shrinks (0: keep the image's size)."""
    wanted = size_gb * 1024
    if wanted and capacity_mb(vbox, medium) < wanted:
        vbox("modifymedium", "disk", medium, "--resize", str(wanted), timeout=timeout)


def export(vbox: VBoxManage, medium: str, target: str, write_chunk: Callable[[bytes], object], timeout: float) -> None:
    """Copy ``medium`` to a standalone VDI at ``target``, stream it to ``write_chunk``, remove the copy."""
    try:
        clone(vbox, medium, target, timeout)
        close(vbox, target)  # a plain file from here: nothing registered outlives the export
        with open(target, "rb") as f:
            while chunk := f.read(CHUNK):
                write_chunk(chunk)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)


class ImageCache:
    """Base VDIs, one per image, in ``path`` (``<image id>.vdi``); concurrent spawns of an image convert it once."""

    def __init__(self, vbox: VBoxManage, path: str, timeout: float) -> None:
        self.vbox = vbox
        self.path = path
        self.timeout = timeout
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def base_vdi(self, image: ImageReader) -> str:
        """The image's base VDI, converted on first use.

        :raises ImageVerificationError: the image's bytes do not match its checksum (nothing is cached).
        :raises HypervisorError: the format is not one VirtualBox reads, or the conversion failed.
        """
        meta = image.meta
        fmt = meta.disk_format or "raw"
        if fmt != "raw" and fmt not in CLONABLE_FORMATS:
            raise HypervisorError(f"image {meta.id}: VirtualBox cannot boot disk format {fmt!r} "
                                  f"(raw, {', '.join(sorted(CLONABLE_FORMATS))})")
        os.makedirs(self.path, mode=0o700, exist_ok=True)
        target = os.path.join(self.path, f"{meta.id}.vdi")
        with self._guard:
            lock = self._locks.setdefault(meta.id, threading.Lock())
        with lock:
            if os.path.exists(target):
                return target
            # converted under a temporary name, renamed when whole: a crash never leaves a half base
            part = os.path.join(self.path, f"{meta.id}.{secrets.token_hex(4)}.part.vdi")
            download = None
            try:
                if image.cache_dir:
                    source = image.local_path()
                else:
                    download = source = os.path.join(self.path, f"{meta.id}.{secrets.token_hex(4)}.download")
                    image.save_to(source)
                if fmt == "raw":
                    self.vbox("convertfromraw", source, part, "--format", "VDI", timeout=self.timeout)
                else:
                    clone(self.vbox, source, part, self.timeout, close_source=True)
                    close(self.vbox, part)  # registered again under its final name by the first clone of it
                os.replace(part, target)
            finally:
                for leftover in (part, download):
                    if leftover:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(leftover)
        return target
