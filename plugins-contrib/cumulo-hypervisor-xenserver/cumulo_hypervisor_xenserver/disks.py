"""VDIs: images imported through ``/import_raw_vdi``, the per-image base VDI cache, exports, resizes.

An image becomes a VDI on the configured SR by streaming its bytes to the
pool master's import handler (``format=raw`` for raw images, ``format=vhd``
for VHD ones), checked against the size and hashes the image service recorded
on the way; a mismatch destroys the VDI. With the cache on, that VDI is kept
as the image's base (``other_config:cumulo-image-id``) and every instance gets
a ``VDI.clone`` of it: on XenServer's VHD-based SRs a copy-on-write child.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping

from cumulo.interfaces.hypervisor import HypervisorError, ImageMeta, ImageReader, ImageVerificationError
from cumulo_hypervisor_xenserver.session import XapiClient, XapiError, is_code

GiB = 1024 ** 3
MiB = 1024 ** 2
TAG_IMAGE = "cumulo-image-id"
TAG_INSTANCE = "cumulo-instance-uuid"
TAG_VOLUME = "cumulo-volume-id"
#: Image formats the import handler takes, by the image service's disk_format.
IMPORT_FORMATS = {"raw": "raw", "vhd": "vhd"}
_VHD_COOKIE = b"conectix"


def create_vdi(x: XapiClient, sr: str, name: str, size: int, other_config: Mapping[str, str],
               kind: str = "user", read_only: bool = False) -> str:
    """A new empty VDI of ``size`` bytes on ``sr``."""
    return str(x.call("VDI.create", {
        "name_label": name, "name_description": "", "SR": sr, "virtual_size": str(size), "type": kind,
        "sharable": False, "read_only": read_only, "other_config": dict(other_config), "xenstore_data": {},
        "sm_config": {}, "tags": []}))


def destroy_vdi(x: XapiClient, vdi: str) -> None:
    """Destroy ``vdi``; one already gone is fine."""
    try:
        x.call("VDI.destroy", vdi)
    except XapiError as err:
        if err.xapi_code != "HANDLE_INVALID":
            raise


def upload(x: XapiClient, vdi: str, data: bytes) -> None:
    """Write ``data`` (a config drive) to the start of ``vdi``."""
    x.import_vdi(vdi, [data], len(data), "raw")


class _Verified:
    """The image's chunks, hashed as they pass; :meth:`check` after the last one."""

    def __init__(self, meta: ImageMeta, chunks: Iterable[bytes]) -> None:
        self.meta, self._chunks = meta, chunks
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.multi = hashlib.new(meta.os_hash_algo) if meta.os_hash_algo else None
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.md5.update(chunk)
            if self.multi is not None:
                self.multi.update(chunk)
            self.size += len(chunk)
            yield chunk

    def check(self) -> None:
        meta = self.meta
        if meta.size is not None and self.size != meta.size:
            raise ImageVerificationError(f"image {meta.id}: read {self.size} bytes, the image service recorded "
                                         f"{meta.size}")
        if meta.checksum and self.md5.hexdigest() != meta.checksum:
            raise ImageVerificationError(f"image {meta.id}: MD5 does not match the recorded {meta.checksum}")
        if self.multi is not None and meta.os_hash_value and self.multi.hexdigest() != meta.os_hash_value:
            raise ImageVerificationError(f"image {meta.id}: {meta.os_hash_algo} does not match the recorded value")


def _peek(chunks: Iterator[bytes], want: int) -> tuple[bytes, Iterator[bytes]]:
    """The first ``want`` bytes (or fewer, at the end) and an iterator that still yields everything."""
    head = b""
    taken: list[bytes] = []
    for chunk in chunks:
        taken.append(chunk)
        head += chunk
        if len(head) >= want:
            break

    def rest() -> Iterator[bytes]:
        yield from taken
        yield from chunks

    return head[:want], rest()


def _virtual_size(fmt: str, head: bytes, length: int, image_id: str) -> int:
    """The disk size the image describes: its length (raw), or its VHD footer's current size."""
    if fmt == "raw":
        return length
    if head[:8] == _VHD_COOKIE and len(head) >= 56:  # a dynamic VHD starts with a copy of its footer
        return int(struct.unpack(">Q", head[48:56])[0])
    if length <= 512:
        raise ImageVerificationError(f"image {image_id}: too short for a VHD")
    return length - 512  # a fixed VHD: the raw bytes, then the footer


def import_image(x: XapiClient, sr: str, image: ImageReader, name: str, other_config: Mapping[str, str]) -> str:
    """A new VDI holding ``image``, verified; nothing is left on failure.

    :raises HypervisorError: the image's format cannot be imported, or XAPI refused.
    :raises ImageVerificationError: the bytes do not match the image's recorded size or checksum.
    """
    meta = image.meta
    fmt = IMPORT_FORMATS.get(meta.disk_format)
    if fmt is None:
        raise HypervisorError(f"image {meta.id}: XenServer imports {' and '.join(IMPORT_FORMATS)} disk images, "
                              f"not {meta.disk_format}")
    with contextlib.ExitStack() as stack:
        if meta.size is None:  # no length for the HTTP request: verify into a local file first
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="cumulo-xs-"))
            path = os.path.join(tmp, "image")
            length = image.save_to(path)
            source: Iterable[bytes] = _file_chunks(path)
            verified = None
        else:
            length = meta.size
            verified = _Verified(meta, image.chunks())
            source = verified
        head, chunks = _peek(iter(source), 512)
        size = _virtual_size(fmt, head, length, meta.id)
        vdi = create_vdi(x, sr, name, max(size, MiB), other_config)
        try:
            x.import_vdi(vdi, _exactly(chunks, length, meta.id), length, fmt)
            if verified is not None:
                verified.check()
        except BaseException:
            with contextlib.suppress(HypervisorError):
                destroy_vdi(x, vdi)
            raise
        return vdi


def _exactly(chunks: Iterator[bytes], length: int, image_id: str) -> Iterator[bytes]:
    """No more than ``length`` bytes (the Content-Length sent); fewer or more is a verification error."""
    sent = 0
    for chunk in chunks:
        if sent + len(chunk) > length:
            raise ImageVerificationError(f"image {image_id}: longer than the {length} bytes recorded")
        sent += len(chunk)
        yield chunk
    if sent != length:
        raise ImageVerificationError(f"image {image_id}: read {sent} bytes, the image service recorded {length}")


def _file_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(MiB):
            yield chunk


def find_vdis(x: XapiClient, sr: str, key: str, value: str) -> list[str]:
    """VDIs of ``sr`` (not snapshots) whose ``other_config[key]`` is ``value``."""
    records = x.call("VDI.get_all_records")
    return [ref for ref, rec in records.items()
            if rec["SR"] == sr and not rec["is_a_snapshot"] and rec["other_config"].get(key) == value]


class ImageCache:
    """One base VDI per image on the SR, imported once (concurrent spawns of an image wait for it)."""

    def __init__(self, x: XapiClient, sr: Callable[[], str]) -> None:
        self.x, self._sr = x, sr
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def base(self, image: ImageReader) -> str:
        with self._guard:
            lock = self._locks.setdefault(image.meta.id, threading.Lock())
        with lock:
            sr = self._sr()
            found = find_vdis(self.x, sr, TAG_IMAGE, image.meta.id)
            if found:
                return found[0]
            return import_image(self.x, sr, image, f"Cumulo image {image.meta.id}", {TAG_IMAGE: image.meta.id})

    def clone(self, image: ImageReader) -> str:
        """A copy-on-write clone of the image's base VDI.

        A base deleted behind the cache's back (HANDLE_INVALID) is imported again.
        """
        base = self.base(image)
        try:
            return self.x.call_async("VDI.clone", base, {})
        except XapiError as err:
            if not is_code(err, "HANDLE_INVALID"):
                raise
            return self.x.call_async("VDI.clone", self.base(image), {})


def grow(x: XapiClient, vdi: str, size: int) -> None:
    """Make ``vdi`` ``size`` bytes when it is smaller (XAPI cannot shrink a VDI)."""
    current = int(x.call("VDI.get_virtual_size", vdi))
    if size > current:
        x.call("VDI.resize", vdi, str(size))


def export(x: XapiClient, vdi: str, write_chunk: Callable[[bytes], object], fmt: str = "raw") -> int:
    """Stream ``vdi`` to ``write_chunk``; the number of bytes."""
    total = 0
    for chunk in x.export_vdi(vdi, fmt):
        write_chunk(chunk)
        total += len(chunk)
    return total
