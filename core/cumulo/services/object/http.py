"""HTTP semantics of object reads: conditional requests and byte ranges (RFC 7232/7233, as Swift does them)."""

from __future__ import annotations

import email.utils
import math
import uuid
from collections.abc import Callable, Iterator, Mapping

Ranges = list[tuple[int, int]]  # [start, end) pairs


class Unsatisfiable(Exception):
    """No requested range overlaps the content (416)."""


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


def parse_ranges(header: str | None, size: int) -> Ranges | None:
    """The satisfiable ranges of a Range header, or None to serve the whole content.

    A malformed header is ignored (None), as Swift does; a well-formed one with no
    satisfiable range raises :class:`Unsatisfiable`.
    """
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        return None
    ranges: Ranges = []
    wanted = 0
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        first, dash, last = part.partition("-")
        if not dash:
            return None
        first, last = first.strip(), last.strip()
        try:
            if first == "":
                if last == "":
                    return None
                suffix = int(last)
                if suffix < 0:
                    return None
                wanted += 1
                if suffix > 0 and size > 0:
                    ranges.append((max(size - suffix, 0), size))
                continue
            start = int(first)
            end = int(last) + 1 if last else None
        except ValueError:
            return None
        if start < 0 or (end is not None and end <= start):
            return None
        end = size if end is None else end
        wanted += 1
        if start < size:
            ranges.append((start, min(end, size)))
    if not wanted:
        return None
    if not ranges:
        raise Unsatisfiable()
    if len(ranges) > 100:
        return None  # Swift ignores absurd range lists
    return ranges


def multipart_byteranges(ranges: Ranges, size: int, content_type: str,
                         read: Callable[[int, int], Iterator[bytes]]) -> tuple[str, int, Iterator[bytes]]:
    """``(content_type, length, body)`` of a multipart/byteranges response."""
    boundary = uuid.uuid4().hex
    heads = [(f"--{boundary}\r\nContent-Type: {content_type}\r\n"
              f"Content-Range: bytes {s}-{e - 1}/{size}\r\n\r\n").encode() for s, e in ranges]
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = sum(len(h) for h in heads) + sum(e - s for s, e in ranges) + 2 * (len(ranges) - 1) + len(tail)

    def body() -> Iterator[bytes]:
        for i, ((s, e), head) in enumerate(zip(ranges, heads, strict=True)):
            yield (b"\r\n" if i else b"") + head
            yield from read(s, e)
        yield tail

    return f"multipart/byteranges;boundary={boundary}", length, body()
