"""HTTP semantics of object reads: conditional requests and byte ranges (RFC 7232/7233, as Swift does them).

Range parsing is the kernel's one implementation, :mod:`cumulo.utils.ranges`
(re-exported here: ``parse_ranges``, ``multipart_byteranges``, ``Unsatisfiable``, ``Ranges``).
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Mapping

from cumulo.utils.ranges import Ranges, Unsatisfiable, multipart_byteranges, parse_ranges  # noqa: F401


def _etags(value: str) -> list[str]:
    return [t.strip().strip('"') for t in value.split(",") if t.strip()]


def _http_date(value: str) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.timestamp() if parsed else None


def http_date(ts: float) -> str:
    """Last-Modified style date; Swift rounds the timestamp up to the second."""
    return email.utils.formatdate(math.ceil(ts), usegmt=True)


def evaluate_conditions(headers: Mapping[str, str], etag: str, last_modified: float,
                        method: str = "GET") -> int | None:
    """304 or 412 when a condition stops the request, else None.

    Order as RFC 7232 section 6: If-Match, If-Unmodified-Since (without If-Match),
    If-None-Match, If-Modified-Since (without If-None-Match, GET/HEAD only).
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
        when = _http_date(since) if since else None
        if when is not None and modified > when:
            return 412
    if_none = headers.get("If-None-Match")
    if if_none is not None:
        tags = _etags(if_none)
        if "*" in tags or etag in tags:
            return 304 if method in ("GET", "HEAD") else 412
    elif method in ("GET", "HEAD"):
        since = headers.get("If-Modified-Since")
        when = _http_date(since) if since else None
        if when is not None and modified <= when:
            return 304
    return None
