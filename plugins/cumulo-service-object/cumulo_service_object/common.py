"""What several components of the object service use: constants, segments and small helpers (a leaf module)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from cumulo.contracts.object import SwiftError

#: Where an SLO manifest keeps its content's etag and size (Swift's sysmeta names).
SLO_ETAG = "X-Object-Sysmeta-Slo-Etag"
SLO_SIZE = "X-Object-Sysmeta-Slo-Size"
#: How deep SLO manifests may nest (Swift's default).
MAX_MANIFEST_DEPTH = 10
#: The one storage policy.
POLICY = "Policy-0"
#: Metadata shown only to those who may write the account (Swift's ``swift_owner_headers``): the
#: TempURL keys sign writes and deletes, the ACLs say who else gets in. Readers never see them.
OWNER_ONLY_METADATA = frozenset({
    "x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2",
    "x-container-meta-temp-url-key", "x-container-meta-temp-url-key-2",
    "x-container-read", "x-container-write", "x-container-sync-key", "x-container-sync-to",
    "x-account-access-control",
})
#: Status titles of the bulk-delete report.
STATUS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
          412: "Precondition Failed", 413: "Request Entity Too Large", 500: "Internal Server Error",
          503: "Service Unavailable"}


@dataclasses.dataclass
class Segment:
    """The part of one object a large object's content is made of."""

    container: str
    obj: str
    offset: int  # where the used bytes start inside the segment's content
    length: int
    sub_slo: bool = False


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on", "t", "y")


def close(body: Any) -> None:
    """Close an opened object body (backends return iterators that may hold a file or a connection)."""
    closer = getattr(body, "close", None)
    if closer is not None:
        closer()


def meta_update(headers: Mapping[str, str], kind: str) -> dict[str, str]:
    """``X-<Kind>-Meta-*`` to set and ``X-Remove-<Kind>-Meta-*`` to remove (as empty values)."""
    prefix, remove = f"x-{kind}-meta-", f"x-remove-{kind}-meta-"
    update: dict[str, str] = {}
    for key, value in headers.items():
        low = key.lower()
        if low.startswith(prefix):
            update[key] = value
        elif low.startswith(remove):
            update[f"X-{kind.capitalize()}-Meta-" + key[len(remove):]] = ""
    return update


def check_quota_value(value: str, name: str) -> None:
    if value == "":
        return
    try:
        if int(value) < 0:
            raise ValueError
    except ValueError:
        raise SwiftError(400, f"Invalid {name}: {value!r} is not a non-negative integer") from None


def listing_limit(value: int | None, maximum: int) -> int:
    """The ``limit`` of a listing: the maximum when not given, 412 above it."""
    if value is None:
        return maximum
    if value > maximum:
        raise SwiftError(412, f"Maximum limit is {maximum}")
    return value


def limited(chunks: Iterable[bytes], length: int | None, max_size: int, quota_left: int | None) -> Iterator[bytes]:
    """Pass chunks through, stopping a body that breaks its Content-Length, the size limit or a quota."""
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if length is not None and total > length:
            raise SwiftError(400, "The body is longer than its Content-Length")
        if total > max_size:
            raise SwiftError(413, f"Your request is too large: objects are at most {max_size} bytes")
        if quota_left is not None and total > quota_left:
            raise SwiftError(413, "Upload exceeds quota.")
        yield chunk
    if length is not None and total < length:
        raise SwiftError(499, "Client disconnected: the body ended before its Content-Length")
