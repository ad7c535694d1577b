"""Object storage backends (``cumulo.object``): accounts, containers and objects.

The Object Storage API frontend calls a backend for every operation; the
backend decides where bytes live (a single directory, or replicated storage
nodes placed by rings). Names are opaque UTF-8 strings: a backend must never
let one escape its storage (``../``, slashes, very long names).

Data streams in both directions: ``put_object`` consumes an iterator of
chunks, ``get_object`` returns one.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

from cumulo.interfaces.base import Plugin
from cumulo.utils.ranges import slice_chunks


@dataclasses.dataclass
class ObjectInfo:
    name: str
    size: int
    etag: str  # md5 hex of the content
    last_modified: float  # unix time (X-Timestamp)
    content_type: str
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)  # user and system headers kept
    body: Iterator[bytes] | None = None


class ObjectBackend(Plugin):
    """Every method raises :class:`ObjectNotFound` for a missing account/container/object,
    :class:`ObjectConflict` (409) and :class:`ObjectUnavailable` (503, quorum not reached)."""

    INTERFACE_VERSION = "2.0"  # 2.0: built as cls(ctx)

    def start_local(self) -> list[Any]:
        """All-in-one hook: start the local servers this backend needs (storage nodes...).

        Returns objects with ``stop()``. Called once by ``cumulo up`` before the API serves.
        """
        return []

    @abc.abstractmethod
    def head_account(self, account: str) -> dict[str, Any]:
        """Counts (containers, objects, bytes) and metadata. Accounts exist implicitly."""

    @abc.abstractmethod
    def list_containers(self, account: str, prefix: str = "", delimiter: str = "", marker: str = "",
                        end_marker: str = "", limit: int = 10000, reverse: bool = False) -> list[dict[str, Any]]:
        """Sorted by name: ``name``, ``count``, ``bytes``, ``last_modified`` (or ``subdir``)."""

    @abc.abstractmethod
    def post_account(self, account: str, metadata: dict[str, str]) -> None:
        """Set metadata; an empty value removes the key."""

    @abc.abstractmethod
    def put_container(self, account: str, container: str, metadata: dict[str, str]) -> bool:
        """Create (True) or update metadata of an existing one (False). Idempotent."""

    @abc.abstractmethod
    def head_container(self, account: str, container: str) -> dict[str, Any]:
        """``object_count``, ``bytes_used``, ``metadata``, ``created_at``."""

    @abc.abstractmethod
    def post_container(self, account: str, container: str, metadata: dict[str, str]) -> None: ...

    @abc.abstractmethod
    def delete_container(self, account: str, container: str) -> None:
        """Raises :class:`ObjectConflict` when it still holds objects."""

    @abc.abstractmethod
    def list_objects(self, account: str, container: str, prefix: str = "", delimiter: str = "",
                     marker: str = "", end_marker: str = "", limit: int = 10000,
                     reverse: bool = False) -> list[dict[str, Any]]:
        """Sorted by name: ``name``, ``bytes``, ``hash``, ``content_type``, ``last_modified`` (or ``subdir``)."""

    @abc.abstractmethod
    def put_object(self, account: str, container: str, obj: str, chunks: Iterable[bytes],
                   content_type: str, metadata: dict[str, str], etag: str | None = None) -> ObjectInfo:
        """Store atomically: a reader sees the old object or the whole new one, never a part.

        Raises :class:`ObjectEtagMismatch` (422) when ``etag`` is given and differs.
        """

    @abc.abstractmethod
    def get_object(self, account: str, container: str, obj: str) -> ObjectInfo:
        """Metadata and a streaming ``body``."""

    def get_object_range(self, account: str, container: str, obj: str, start: int, end: int) -> ObjectInfo:
        """Like :meth:`get_object`, but ``body`` yields only bytes ``[start, end)`` (interface 1.1).

        ``0 <= start <= end <= size`` is the caller's duty. The default reads and
        discards the bytes before ``start``; backends that can seek override it.
        """
        info = self.get_object(account, container, obj)
        info.body = slice_chunks(info.body or iter(()), start, end)
        return info

    @abc.abstractmethod
    def head_object(self, account: str, container: str, obj: str) -> ObjectInfo: ...

    @abc.abstractmethod
    def post_object(self, account: str, container: str, obj: str, metadata: dict[str, str]) -> None:
        """Replace the object's user metadata."""

    @abc.abstractmethod
    def delete_object(self, account: str, container: str, obj: str) -> None: ...


class ObjectError(Exception):
    code = 500


class ObjectNotFound(ObjectError):
    code = 404


class ObjectConflict(ObjectError):
    code = 409


class ObjectEtagMismatch(ObjectError):
    code = 422


class ObjectUnavailable(ObjectError):
    code = 503
