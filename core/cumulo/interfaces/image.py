"""Image stores (``cumulo.image``): where image bytes live.

Data always streams: ``add`` consumes an iterator of chunks, ``get`` returns
one; no method holds a whole image in memory.

Construction
------------
The image area loads a store with ``registry.load_plugin("image", name, ctx)``:
a store class is built as ``Store(ctx)`` with a
:class:`~cumulo.interfaces.base.PluginContext`; ``ctx.conf`` is the process's
``ConfigOpts`` (the store's own options from :meth:`Plugin.list_opts` are
registered on it first) and ``ctx.hub`` the area hub, for a store that keeps
its data in another area (``None`` in tests of stores that need none).
Version history: 1.0 built stores as ``Store(conf, hub=hub)``; 2.0 as ``Store(ctx)``.

Locations
---------
``add`` returns a *location*: a URL whose scheme is one of the store's
``schemes`` and that the same store (in any process of the deployment)
turns back into the data with ``get``. The image service keeps it in the
database and never interprets it. Examples: ``file:///var/lib/cumulo/images/<id>``
(filesystem), ``cumulo-object://AUTH_cumulo-images/images/<id>`` (object),
``https://mirror.example.org/cirros.img`` (http, read-only).
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterable, Iterator
from typing import ClassVar

from cumulo.interfaces.base import Plugin, PluginContext


@dataclasses.dataclass
class StoredImage:
    """What ``add`` stored: where, how many bytes, and the digests of those bytes."""

    location: str  # the store's URL for the data, e.g. file:///..., cumulo-object://...
    size: int
    checksum: str  # md5 hex
    os_hash_algo: str  # "sha512" unless asked otherwise
    os_hash_value: str  # hex digest with os_hash_algo


class ImageStore(Plugin):
    """A place for image data. ``Store(ctx)`` (see the module docstring)."""

    INTERFACE_VERSION = "2.0"

    #: URL schemes of locations this store reads ("file", "http", ...).
    schemes: ClassVar[frozenset[str]] = frozenset()
    #: False for read-only stores (http): the service never calls add/delete,
    #: and both raise :class:`ImageStoreReadOnly`.
    writable: ClassVar[bool] = True

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        self.hub = ctx.hub

    @abc.abstractmethod
    def add(self, image_id: str, chunks: Iterable[bytes], expected_size: int | None = None,
            hash_algo: str = "sha512") -> StoredImage:
        """Store the data under ``image_id``; return its location, size and hashes.

        Streams: the chunks are consumed one at a time. Exceptions raised by
        the ``chunks`` iterator itself propagate unchanged (the service uses
        that to enforce quotas and to report a client that went away).
        Raises :class:`ImageSizeMismatch` when ``expected_size`` is given and
        differs, :class:`ImageStoreFull` when the store has no room and
        :class:`ImageExists` if data for ``image_id`` is already stored. On any
        error no bytes are left behind and nothing is visible under the id.
        """

    @abc.abstractmethod
    def get(self, location: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Stream the bytes from ``offset`` (``length`` of them, or to the end).

        Raises :class:`ImageDataNotFound` *when called* (not on first
        iteration) if the data is gone. The iterator has a ``close()`` that
        releases what it holds when the consumer stops early.
        """

    @abc.abstractmethod
    def delete(self, location: str) -> None:
        """Remove the data. Idempotent: no error if already gone."""

    def discard(self, image_id: str) -> None:
        """Remove whatever an interrupted ``add(image_id, ...)`` may have left.

        Called when an upload died with its process (partial temporary files,
        or data stored whose location never reached the database). Idempotent.
        """

    def validate_location(self, location: str) -> None:
        """Accept a location a user names for an existing image (``add location``).

        Raises :class:`ImageStoreError` with a message saying why not. Only
        read-only stores (http) accept user-named locations by default.
        """
        raise ImageStoreError("This store does not accept locations named by users.")

    def get_size(self, location: str) -> int | None:
        """Size of the data at ``location`` if the store can tell without reading it."""
        return None


class ImageStoreError(Exception):
    """Base of store errors. ``code`` is the HTTP status the fault layer uses."""

    code = 500


class ImageDataNotFound(ImageStoreError):
    code = 404


class ImageExists(ImageStoreError):
    code = 409


class ImageSizeMismatch(ImageStoreError):
    code = 400


class ImageStoreFull(ImageStoreError):
    code = 413


class ImageStoreReadOnly(ImageStoreError):
    code = 403
