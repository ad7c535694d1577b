"""HTTP dates and conditional requests (RFC 7232), for any frontend that serves stored things.

``evaluate_conditions`` decides ``If-Match``, ``If-None-Match``,
``If-Modified-Since`` and ``If-Unmodified-Since`` against an entity's etag and
modification time; ``http_date`` writes ``Last-Modified``. Times are rounded
up to the second (HTTP dates have no fraction), as Swift does. Standard
library only.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Mapping

__all__ = ["evaluate_conditions", "http_date", "parse_http_date"]


def _etags(value: str) -> list[str]:
    return [t.strip().strip('"') for t in value.split(",") if t.strip()]


def parse_http_date(value: str) -> float | None:
    """An HTTP date (RFC 7231 and the obsolete forms) as a POSIX time; ``None`` when it is not one."""
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.timestamp() if parsed else None


def http_date(ts: float) -> str:
    """``Last-Modified`` style date (``Tue, 14 Nov 2023 22:13:21 GMT``) of a POSIX time, rounded up to the second."""
    return email.utils.formatdate(math.ceil(ts), usegmt=True)


def evaluate_conditions(headers: Mapping[str, str], etag: str, last_modified: float,
                        method: str = "GET") -> int | None:
    """304 or 412 when a condition of the request stops it, else ``None``.

    :param headers: the request's headers (a case-insensitive mapping, as WSGI frameworks give them).
    :param etag: the entity's etag, quoted or not.
    :param last_modified: the entity's modification time (POSIX).
    :param method: the request's method; 304 only answers GET and HEAD.

    The order is RFC 7232 section 6: If-Match, If-Unmodified-Since (without
    If-Match), If-None-Match, If-Modified-Since (without If-None-Match, GET and
    HEAD only). A date that does not parse is ignored.
    """
    etag = etag.strip('"')
    modified = math.ceil(last_modified)
    if_match = headers.get("If-Match")
    if if_match is not None:
        tags = _etags(if_match)
        if "*" not in tags and etag not in tags:
            return 412
    else:
        since = headers.get("If-Unmodified-Since")
        when = parse_http_date(since) if since else None
        if when is not None and modified > when:
            return 412
    if_none = headers.get("If-None-Match")
    if if_none is not None:
        tags = _etags(if_none)
        if "*" in tags or etag in tags:
            return 304 if method in ("GET", "HEAD") else 412
    elif method in ("GET", "HEAD"):
        since = headers.get("If-Modified-Since")
        when = parse_http_date(since) if since else None
        if when is not None and modified <= when:
            return 304
    return None
