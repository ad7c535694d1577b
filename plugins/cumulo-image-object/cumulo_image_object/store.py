"""The object-storage image store (``object``): image data kept in Cumulo Object Storage.

Each image is one object ``<image id>`` in ``[image_object] container`` of
``[image_object] account``, written and read through the kernel object
service (``hub.object``, the same methods as
:class:`cumulo.interfaces.object.ObjectBackend`), so whatever backend serves
Object Storage (a directory, replicated rings) holds the images too.
Locations look like ``cumulo-object://AUTH_cumulo-images/images/<id>``.

Object writes are atomic (the backend's contract), so a failed or
interrupted ``add`` leaves nothing visible; size and digests are computed
while the data streams through.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, unquote, urlparse

from oslo_config import cfg

from cumulo.interfaces import image as iface
from cumulo.interfaces import object as objiface
from cumulo.interfaces.base import PluginContext
from cumulo.utils.ranges import slice_chunks

SCHEME = "cumulo-object"
OPTS: list[cfg.Opt] = [
    cfg.StrOpt("account", default="AUTH_cumulo-images", help="Object Storage account that holds image data."),
    cfg.StrOpt("container", default="images", help="Container of the image objects (created on first use)."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [("image_object", OPTS)]


class _Hashing:
    """Pass chunks through, counting and hashing them, stopping at more than ``expected`` bytes."""

    def __init__(self, chunks: Iterable[bytes], expected: int | None, hash_algo: str) -> None:
        self.chunks, self.expected = chunks, expected
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.secure = hashlib.new(hash_algo)
        self.size = 0
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self.chunks:
                if not chunk:
                    continue
                self.size += len(chunk)
                if self.expected is not None and self.size > self.expected:
                    raise iface.ImageSizeMismatch(f"more than the {self.expected} bytes declared")
                self.md5.update(chunk)
                self.secure.update(chunk)
                yield chunk
        except BaseException as err:
            self.error = err
            raise


class ObjectStore(iface.ImageStore):
    """Image data as objects in Cumulo Object Storage, through ``hub.object``."""

    interface_version = "2.0"
    schemes = frozenset({SCHEME})
    writable = True

    def __init__(self, ctx: PluginContext, backend: Any = None) -> None:
        super().__init__(ctx)
        self.account = ctx.conf.image_object.account
        self.container = ctx.conf.image_object.container
        self._backend = backend
        self._container_ready = False
        self._lock = threading.Lock()

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return list_opts()

    @property
    def objects(self) -> Any:
        """The object service (``hub.object``) or the backend given at construction."""
        if self._backend is not None:
            return self._backend
        if self.hub is None:
            raise iface.ImageStoreError("The object image store needs the object service (hub.object)")
        try:
            return self.hub.object
        except LookupError as err:
            raise iface.ImageStoreError(f"Object Storage is not available: {err}") from None

    def _location(self, image_id: str) -> str:
        return f"{SCHEME}://{quote(self.account, safe='')}/{quote(self.container, safe='')}/{quote(image_id, safe='')}"

    @staticmethod
    def _parse(location: str) -> tuple[str, str, str]:
        parsed = urlparse(location)
        parts = parsed.path.lstrip("/").split("/")
        if parsed.scheme != SCHEME or not parsed.netloc or len(parts) != 2 or not all(parts):
            raise iface.ImageDataNotFound(f"Not an object-storage image location: {location}")
        return unquote(parsed.netloc), unquote(parts[0]), unquote(parts[1])

    def _ensure_container(self) -> None:
        with self._lock:
            if not self._container_ready:
                self.objects.put_container(self.account, self.container, {})
                self._container_ready = True

    def _exists(self, account: str, container: str, obj: str) -> bool:
        try:
            self.objects.head_object(account, container, obj)
        except objiface.ObjectNotFound:
            return False
        return True

    def add(self, image_id: str, chunks: Iterable[bytes], expected_size: int | None = None,
            hash_algo: str = "sha512") -> iface.StoredImage:
        if not image_id or "/" in image_id:
            raise iface.ImageStoreError(f"Invalid image id {image_id!r}")
        self._ensure_container()
        if self._exists(self.account, self.container, image_id):
            raise iface.ImageExists(f"Image data for {image_id} already exists")
        source = _Hashing(chunks, expected_size, hash_algo)
        try:
            info = self.objects.put_object(self.account, self.container, image_id, iter(source),
                                           "application/octet-stream", {})
        except objiface.ObjectError as err:
            if source.error is not None:
                raise source.error from None
            raise iface.ImageStoreFull(str(err)) if err.code == 507 else iface.ImageStoreError(
                f"Object Storage refused the image: {err}") from None
        except BaseException:
            if source.error is not None:
                raise source.error from None  # the source's own error, even if the backend wrapped it
            raise
        checksum = source.md5.hexdigest()
        problem: iface.ImageStoreError | None = None
        if expected_size is not None and source.size != expected_size:
            problem = iface.ImageSizeMismatch(f"{source.size} bytes received, {expected_size} declared")
        elif info is not None and getattr(info, "etag", None) and info.etag.strip('"') != checksum:
            problem = iface.ImageStoreError(f"Object Storage stored etag {info.etag}, expected {checksum}")
        if problem is not None:
            self._delete(self.account, self.container, image_id)
            raise problem
        return iface.StoredImage(location=self._location(image_id), size=source.size, checksum=checksum,
                                 os_hash_algo=hash_algo, os_hash_value=source.secure.hexdigest())

    def get(self, location: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        account, container, obj = self._parse(location)
        try:
            info = self.objects.get_object(account, container, obj)
        except objiface.ObjectNotFound:
            raise iface.ImageDataNotFound(f"No image data at {location}") from None
        return slice_chunks(info.body if info.body is not None else iter(()), offset,
                            None if length is None else offset + length)

    def _delete(self, account: str, container: str, obj: str) -> None:
        try:
            self.objects.delete_object(account, container, obj)
        except objiface.ObjectNotFound:
            pass

    def delete(self, location: str) -> None:
        try:
            account, container, obj = self._parse(location)
        except iface.ImageDataNotFound:
            return
        self._delete(account, container, obj)

    def discard(self, image_id: str) -> None:
        self._delete(self.account, self.container, image_id)

    def get_size(self, location: str) -> int | None:
        account, container, obj = self._parse(location)
        try:
            return int(self.objects.head_object(account, container, obj).size)
        except objiface.ObjectNotFound:
            return None

