"""The image reader handed to ``spawn``, ``rebuild`` and ``rescue``: an image's bytes, verified.

A driver gets an :class:`ImageReader` and chooses how to use it: stream the
bytes (:meth:`ImageReader.chunks`, e.g. into a volume or a VDI upload), write
them to a file of its own (:meth:`ImageReader.save_to`) or ask for the host's
cached copy (:meth:`ImageReader.local_path`, e.g. a qcow2 backing file shared
by every instance of the image). The last two verify the size and checksum the
image service recorded and never leave a partial file where a driver could
take it for a whole one.

The compute area provides the reader; :class:`StreamImageReader` is the
implementation over any iterable of byte chunks (tests build one from bytes).
"""

from __future__ import annotations

import abc
import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator

from cumulo.interfaces.hypervisor.errors import ImageVerificationError
from cumulo.interfaces.hypervisor.records import ImageMeta

__all__ = ["ImageReader", "ImageVerificationError", "StreamImageReader"]

_CACHE_LOCKS: dict[str, threading.Lock] = {}
_CACHE_LOCKS_GUARD = threading.Lock()


class ImageReader(abc.ABC):
    """One image: its metadata and a way to read its bytes.

    Subclasses implement :meth:`chunks`; :meth:`save_to` and
    :meth:`local_path` are built on it. ``cache_dir`` is the host's image
    cache (the compute area gives ``<state_path>/compute/images``); None disables :meth:`local_path`.
    """

    def __init__(self, meta: ImageMeta, cache_dir: str | None = None) -> None:
        self.meta = meta
        self.cache_dir = cache_dir

    @abc.abstractmethod
    def chunks(self) -> Iterator[bytes]:
        """The image's bytes, streamed from the image service, as they come (not verified).

        Each call starts from the first byte.

        :raises ImageVerificationError: the image has no data (never uploaded, or deleted).
        """

    def save_to(self, path: str) -> int:
        """Write the image to ``path`` (replaced atomically) and return its size in bytes.

        The bytes go to ``path + ".part"`` first and are checked against the
        recorded size, MD5 ``checksum`` and multihash before the rename, so
        ``path`` only ever holds a whole, verified image.

        :raises ImageVerificationError: size or checksum differ (nothing is left at ``path``).
        :raises OSError: the file cannot be written.
        """
        part = path + ".part"
        md5 = hashlib.md5(usedforsecurity=False)
        multi = hashlib.new(self.meta.os_hash_algo) if self.meta.os_hash_algo else None
        size = 0
        try:
            with open(part, "wb") as f:
                for chunk in self.chunks():
                    f.write(chunk)
                    md5.update(chunk)
                    if multi is not None:
                        multi.update(chunk)
                    size += len(chunk)
                f.flush()
                os.fsync(f.fileno())
            self._verify(size, md5.hexdigest(), multi.hexdigest() if multi is not None else None)
            os.replace(part, path)
        except BaseException:
            if os.path.exists(part):
                os.unlink(part)
            raise
        return size

    def related(self, image_id: str) -> ImageReader:
        """A reader of another image this one names, with the same cache directory.

        For the images an image's properties refer to: ``kernel_id`` and
        ``ramdisk_id`` (AKI/ARI direct kernel boot). The default knows none.

        :raises ImageVerificationError: the image is unknown or not readable by this instance's owner.
        """
        raise ImageVerificationError(f"image {image_id}: this reader cannot open other images")

    def local_path(self) -> str:
        """The path of this host's cached, verified copy of the image (downloaded on first use).

        Every instance of an image on a host shares the one file; treat it as
        read-only (a backing file, or the source of a copy). Concurrent callers
        for the same image wait for one download.

        :raises ImageVerificationError: the downloaded bytes do not match the image's checksum.
        :raises RuntimeError: the reader has no cache directory.
        """
        if not self.cache_dir:
            raise RuntimeError("this image reader has no cache directory; use save_to()")
        os.makedirs(self.cache_dir, mode=0o700, exist_ok=True)
        path = os.path.join(self.cache_dir, self.meta.id)
        with _CACHE_LOCKS_GUARD:
            lock = _CACHE_LOCKS.setdefault(path, threading.Lock())
        with lock:
            if not os.path.exists(path):
                self.save_to(path)
        return path

    def _verify(self, size: int, md5: str, multihash: str | None) -> None:
        meta = self.meta
        if meta.size is not None and size != meta.size:
            raise ImageVerificationError(f"image {meta.id}: read {size} bytes, the image service recorded {meta.size}")
        if meta.checksum and md5 != meta.checksum:
            raise ImageVerificationError(f"image {meta.id}: MD5 {md5} does not match the recorded {meta.checksum}")
        if multihash is not None and meta.os_hash_value and multihash != meta.os_hash_value:
            raise ImageVerificationError(f"image {meta.id}: {meta.os_hash_algo} does not match the recorded value")


class StreamImageReader(ImageReader):
    """An :class:`ImageReader` over a function that opens the image's byte stream.

    ``open_stream`` is called once per :meth:`chunks` call (a new stream from
    the first byte each time).
    """

    def __init__(self, meta: ImageMeta, open_stream: Callable[[], Iterable[bytes]],
                 cache_dir: str | None = None,
                 open_related: Callable[[str], ImageReader] | None = None) -> None:
        super().__init__(meta, cache_dir)
        self._open = open_stream
        self._open_related = open_related

    def related(self, image_id: str) -> ImageReader:
        if self._open_related is None:
            return super().related(image_id)
        return self._open_related(image_id)

    def chunks(self) -> Iterator[bytes]:
        for chunk in self._open():
            if chunk:
                yield bytes(chunk)

    @classmethod
    def from_bytes(cls, meta: ImageMeta, data: bytes, cache_dir: str | None = None,
                   chunk_size: int = 65536) -> StreamImageReader:
        """A reader of ``data`` (tests, conformance kits)."""
        return cls(meta, lambda: (data[i:i + chunk_size] for i in range(0, len(data), chunk_size)), cache_dir)
