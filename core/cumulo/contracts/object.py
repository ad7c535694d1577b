"""The object area's contract: what ``hub.object`` and its frontends share.

The object service (``cumulo_service_object``) takes a :class:`Caller` on
every API-level call (``account_*``, ``container_*``, ``object_*``,
``bulk_delete``), answers reads with a :class:`Resolved` and raises
:class:`SwiftError` for the errors that carry their own status. The Swift API
frontend builds the callers (holding a :class:`TempURLGrant` the service
validated), serves the resolved objects and turns the errors into responses.
Neither imports the other.

The helpers at the end are the formats both sides write and read: copy paths
(``<container>/<object>``), the ``swift_bytes`` parameter the service adds to
a manifest's stored content type, and the two ways Swift writes a time.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Iterator
from typing import Literal, NotRequired, TypedDict
from urllib.parse import unquote

from cumulo import exception
from cumulo.context import RequestContext
from cumulo.interfaces.object import ObjectInfo

#: Version of this contract ("MAJOR.MINOR"): a new type, field or helper is a
#: minor change, a removed or renamed one a major change.
CONTRACT_VERSION = "1.0"

__all__ = ["ACCOUNT_SCOPE", "CONTAINER_SCOPE", "CONTRACT_VERSION", "OBJECT_HEADERS", "Caller", "ManifestEntry",
           "Resolved", "ResolvedKind", "SwiftError", "TempURLGrant", "iso", "split_copy_path", "strip_swift_bytes",
           "timestamp"]

#: Which key signed a TempURL: one of the account's, or one of the container's.
ACCOUNT_SCOPE = "account"
CONTAINER_SCOPE = "container"

#: What the service keeps with an object besides its ``X-Object-Meta-*`` (returned with it).
OBJECT_HEADERS: tuple[str, ...] = (
    "Content-Disposition", "Content-Encoding", "Content-Language", "Cache-Control", "Expires", "X-Robots-Tag",
    "X-Delete-At", "X-Object-Manifest", "X-Static-Large-Object")
_OBJECT_HEADERS_LOWER = frozenset(h.lower() for h in OBJECT_HEADERS)

#: How a resolved object's content is made: stored as is, or a dynamic / static large object's segments.
ResolvedKind = Literal["plain", "dlo", "slo"]


class SwiftError(exception.CumuloError):
    """An object-service error with its own status (400, 409, 412, 413, 416, 422, 499...).

    ``code`` is the status, ``message`` (and ``title``) the text shown to the
    client, ``headers`` extra values a frontend sends with the error (empty for
    those the service raises).
    """

    def __init__(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.title = message
        self.headers = dict(headers or {})


@dataclasses.dataclass(frozen=True)
class TempURLGrant:
    """What a valid TempURL allows: one method on one object (or on every object under a prefix).

    ``scope`` says whose key signed it (:data:`ACCOUNT_SCOPE` or
    :data:`CONTAINER_SCOPE`). It bounds what the object may pull in when it is
    a manifest: an account key's owner reads the whole account, a container
    key's only its container (Swift's ``authorize_same_account`` /
    ``authorize_same_container``). ``expires`` is a POSIX time.
    """

    method: str
    account: str
    container: str
    obj: str
    prefix: bool
    expires: int
    scope: str = ACCOUNT_SCOPE

    def covers(self, account: str, container: str, obj: str) -> bool:
        """Whether the signature names this object (itself, or by its prefix)."""
        if (account, container) != (self.account, self.container):
            return False
        return obj.startswith(self.obj) if self.prefix else obj == self.obj

    def reaches(self, account: str, container: str) -> bool:
        """Whether the signing key's owner may read ``container`` (for a manifest's segments)."""
        if account != self.account:
            return False
        return self.scope == ACCOUNT_SCOPE or container == self.container


@dataclasses.dataclass
class Caller:
    """Who is asking: a token's context (or none), the Referer, the client address and a TempURL grant if any."""

    ctx: RequestContext | None = None
    referrer: str | None = None
    remote_addr: str | None = None
    tempurl: TempURLGrant | None = None


class ManifestEntry(TypedDict):
    """One segment of a stored static large object manifest (as ``multipart-manifest=get`` shows it)."""

    #: ``/<container>/<object>`` of the segment.
    name: str
    #: The segment's etag (a nested manifest's: its own SLO etag).
    hash: str
    #: The segment's size (a nested manifest's: its content's).
    bytes: int
    content_type: str
    #: As :func:`iso` writes it.
    last_modified: str
    #: ``<first>-<last>`` (inclusive) when only part of the segment is used.
    range: NotRequired[str]
    #: True when the segment is itself a static large object manifest.
    sub_slo: NotRequired[bool]


def _nothing_to_close() -> None:
    return None


@dataclasses.dataclass
class Resolved:
    """An object ready to be served: the stored object and how to read its content.

    ``reader(start, end)`` yields the content's bytes ``[start, end)``, from
    the object itself or from a manifest's segments (``kind``). ``size`` and
    ``etag`` are the content's (the etag quoted for a manifest, as sent).
    ``manifest`` is a static large object's stored manifest (``None`` for
    other objects). ``closer`` releases a body the service opened ahead.
    """

    account: str
    container: str
    obj: str
    info: ObjectInfo
    size: int
    etag: str
    kind: ResolvedKind
    reader: Callable[[int, int], Iterator[bytes]]
    manifest: list[ManifestEntry] | None = None
    closer: Callable[[], None] = _nothing_to_close

    def close(self) -> None:
        """Release an opened body that will not be read (304, 412, 416, HEAD); harmless when there is none."""
        self.closer()

    @property
    def headers(self) -> dict[str, str]:
        """The stored metadata to return: user metadata and the kept :data:`OBJECT_HEADERS`."""
        return {key: value for key, value in self.info.metadata.items()
                if key.lower().startswith("x-object-meta-") or key.lower() in _OBJECT_HEADERS_LOWER}


def split_copy_path(value: str, field: str) -> tuple[str, str]:
    """``container/object`` (optionally with a leading slash, URL-quoted) -> ``(container, object)``.

    The form of a copy's source or destination and of a static large object's
    segment path. ``field`` names the value in the error.

    :raises SwiftError: 412 when either part is missing.
    """
    path = unquote(value).lstrip("/")
    container, slash, obj = path.partition("/")
    if not slash or not container or not obj:
        raise SwiftError(412, f"{field} header must be of the form <container name>/<object name>")
    return container, obj


def strip_swift_bytes(content_type: str) -> tuple[str, int | None]:
    """``"type;swift_bytes=N"`` -> ``("type", N)``; other types -> ``(type, None)``.

    The service stores a static large object's content type with
    ``swift_bytes`` (its content's size) so that listings show that size.
    """
    size = None
    kept = []
    for part in (content_type or "").split(";"):
        key, eq, value = part.strip().partition("=")
        if eq and key.lower() == "swift_bytes":
            try:
                size = int(value)
            except ValueError:
                pass
        else:
            kept.append(part)
    return ";".join(kept), size


def iso(ts: float) -> str:
    """A POSIX time as listings write ``last_modified``: UTC, microseconds, no zone (``2026-11-22T05:00:00.000000``)."""
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def timestamp(ts: float) -> str:
    """A POSIX time as Swift's ``X-Timestamp`` (and archived version names) write it: ``0001700000000.00000``."""
    return f"{ts:016.5f}"
