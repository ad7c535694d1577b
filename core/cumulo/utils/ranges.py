"""Byte ranges: the HTTP ``Range`` header against a known size, and streams sliced to a range.

One implementation for every reader of partial content: the object service and
the Swift API (``Range``, SLO segment ranges), the Image API download, object
backends that cannot seek (the default ``ObjectBackend.get_object_range``),
image stores that read through another service, and stores that read files.

A range is a half-open ``(start, end)`` pair of ints: bytes ``start`` to
``end - 1``, ``0 <= start < end <= size`` once parsed against a size.

Header semantics are RFC 7233 (RFC 9110 section 14), as Swift applies them:

* a missing or syntactically invalid header is ignored (serve the whole
  content, 200): another unit than ``bytes``, a spec without ``-``, digits
  that are not ASCII digits, ``last < first``, an empty set;
* ``first-`` runs to the end, ``-N`` is the last ``N`` bytes (the whole
  content when ``N >= size``); ``last`` past the end is cut to the end;
* specs that start at or after the end are dropped; when none is left,
  :class:`Unsatisfiable` (416 with ``Content-Range: bytes */<size>``);
* more satisfiable ranges than ``max_ranges`` make the header ignored.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

Ranges = list[tuple[int, int]]  # [start, end) pairs

#: Swift ignores a Range header with more ranges than this.
MAX_RANGES = 100
#: Bytes read from a file at a time.
CHUNK_SIZE = 64 * 1024


class Unsatisfiable(Exception):
    """The Range header is valid but no range overlaps the content (answer 416).

    ``size`` is the content's size, for ``Content-Range: bytes */<size>``
    (:func:`unsatisfied_range`).
    """

    def __init__(self, size: int | None = None) -> None:
        super().__init__(f"no requested range overlaps the {size} bytes of the content"
                         if size is not None else "no requested range overlaps the content")
        self.size = size


def _number(text: str) -> int | None:
    """A non-negative decimal of ASCII digits (``1*DIGIT``), else None (``+1``, ``1_0``, ``١`` are not)."""
    return int(text) if text.isascii() and text.isdigit() else None


def parse_ranges(header: str | None, size: int, max_ranges: int = MAX_RANGES) -> Ranges | None:
    """The satisfiable ranges of a ``Range`` header against ``size`` bytes, in the header's order.

    Returns None to serve the whole content (no header, an invalid one, or more
    than ``max_ranges`` ranges); raises :class:`Unsatisfiable` when the header
    is valid but no range overlaps the content. Overlapping ranges are kept as
    asked (no coalescing).
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
            continue  # the #rule allows empty list elements
        first_text, dash, last_text = part.partition("-")
        if not dash:
            return None
        first_text, last_text = first_text.strip(), last_text.strip()
        if first_text == "":  # suffix-byte-range-spec: the last N bytes
            suffix = _number(last_text)
            if suffix is None:
                return None
            wanted += 1
            if suffix > 0 and size > 0:
                ranges.append((max(size - suffix, 0), size))
            continue
        first = _number(first_text)
        last = _number(last_text) if last_text else None
        if first is None or (last_text and last is None) or (last is not None and last < first):
            return None
        wanted += 1
        if first < size:
            ranges.append((first, size if last is None else min(last + 1, size)))
    if not wanted:
        return None
    if not ranges:
        raise Unsatisfiable(size)
    if len(ranges) > max_ranges:
        return None
    return ranges


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range of a ``Range`` header, for servers that answer a single range only.

    As :func:`parse_ranges` (:class:`Unsatisfiable` included), and None, the
    whole content, when more than one range is satisfiable (RFC 7233 lets a
    server ignore a Range header).
    """
    ranges = parse_ranges(header, size, max_ranges=1)
    return ranges[0] if ranges else None


def content_range(start: int, end: int, size: int) -> str:
    """The ``Content-Range`` value of the range ``[start, end)`` of ``size`` bytes: ``bytes 0-9/100``."""
    return f"bytes {start}-{end - 1}/{size}"


def unsatisfied_range(size: int) -> str:
    """The ``Content-Range`` value of a 416 answer: ``bytes */100``."""
    return f"bytes */{size}"


def multipart_byteranges(ranges: Ranges, size: int, content_type: str,
                         read: Callable[[int, int], Iterable[bytes]]) -> tuple[str, int, Iterator[bytes]]:
    """``(content_type, length, body)`` of a ``multipart/byteranges`` answer (206) to several ranges.

    ``read(start, end)`` gives the bytes of one range; it is called lazily, one
    range after the other, as the body is consumed. ``length`` is the exact
    ``Content-Length`` of the body.
    """
    boundary = uuid.uuid4().hex
    heads = [(f"--{boundary}\r\nContent-Type: {content_type}\r\n"
              f"Content-Range: {content_range(s, e, size)}\r\n\r\n").encode() for s, e in ranges]
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = sum(len(h) for h in heads) + sum(e - s for s, e in ranges) + 2 * (len(ranges) - 1) + len(tail)

    def body() -> Iterator[bytes]:
        for i, ((s, e), head) in enumerate(zip(ranges, heads, strict=True)):
            yield (b"\r\n" if i else b"") + head
            yield from read(s, e)
        yield tail

    return f"multipart/byteranges;boundary={boundary}", length, body()


def _close(*sources: Any) -> None:
    for source in sources:
        close = getattr(source, "close", None)
        if callable(close):
            close()
            return


class ChunkSlice(Iterator[bytes]):
    """Bytes ``[start, end)`` of a stream of chunks (:func:`slice_chunks`).

    It owns the source from construction on. An iterator with ``close()``, so
    that a WSGI server (which closes the app_iter) or a consumer that stops
    early releases the source even when no chunk was ever read (a generator
    would not run its ``finally`` then). The source is closed once: when the
    slice is exhausted, closed, fails, or is collected.
    """

    _source: Iterable[bytes] | None = None
    _it: Iterator[bytes] | None = None

    def __init__(self, chunks: Iterable[bytes], start: int = 0, end: int | None = None) -> None:
        self._source, self._it = chunks, iter(chunks)  # ours from now on: closed whatever happens
        self._start, self._end, self._pos = start, end, 0
        if start < 0 or (end is not None and end < 0):
            self.close()
            raise ValueError(f"a byte range cannot start or end before 0 ({start}, {end})")
        if end is not None and end <= start:
            self.close()  # nothing to read: do not even start the source

    def __iter__(self) -> ChunkSlice:
        return self

    def __next__(self) -> bytes:
        while self._it is not None:
            try:
                chunk = next(self._it)
            except StopIteration:
                break
            except BaseException:
                self.close()
                raise
            pos, self._pos = self._pos, self._pos + len(chunk)
            lo = max(self._start - pos, 0)
            hi = len(chunk) if self._end is None else min(self._end - pos, len(chunk))
            if self._end is not None and self._pos >= self._end:
                self.close()  # read no further than the range
            if hi > lo:
                return chunk if (lo, hi) == (0, len(chunk)) else chunk[lo:hi]
        self.close()
        raise StopIteration

    def close(self) -> None:
        """Stop: close the source (its iterator's ``close()``, else its own). Idempotent."""
        it, source = self._it, self._source
        self._it = self._source = None
        if it is not None:
            _close(it, source)

    def __del__(self) -> None:
        self.close()


def slice_chunks(chunks: Iterable[bytes], start: int = 0, end: int | None = None) -> ChunkSlice:
    """Bytes ``[start, end)`` of the concatenated ``chunks`` (to the end of the stream when ``end`` is None).

    Chunk sizes do not matter; empty pieces are not yielded. Reads no chunk
    past ``end`` and closes the source when done (see :class:`ChunkSlice`).
    Given ``(offset, length)``: ``slice_chunks(chunks, offset, None if length
    is None else offset + length)``.
    """
    return ChunkSlice(chunks, start, end)


class FileRange(Iterator[bytes]):
    """Bytes ``[start, end)`` of an open binary file, ``chunk_size`` at a time (to EOF when ``end`` is None).

    Owns the file from construction on and seeks to ``start`` at once. Closes
    the file when the range is read, at EOF
    (a file shorter than ``end`` yields what it has), when closed, or when
    collected: hand it to WSGI as the app_iter, it is closed either way.
    """

    fh: IO[bytes] | None = None

    def __init__(self, fh: IO[bytes], start: int = 0, end: int | None = None,
                 chunk_size: int = CHUNK_SIZE) -> None:
        self.fh = fh  # ours from now on: closed whatever happens
        self.left = None if end is None else max(end - start, 0)
        self.chunk_size = chunk_size
        if start < 0 or (end is not None and end < 0):
            self.close()
            raise ValueError(f"a byte range cannot start or end before 0 ({start}, {end})")
        if start:
            try:
                fh.seek(start)
            except BaseException:
                self.close()
                raise

    def __iter__(self) -> FileRange:
        return self

    def __next__(self) -> bytes:
        if self.fh is None or self.left == 0:
            self.close()
            raise StopIteration
        try:
            data = self.fh.read(self.chunk_size if self.left is None else min(self.chunk_size, self.left))
        except BaseException:
            self.close()
            raise
        if not data:
            self.close()
            raise StopIteration
        if self.left is not None:
            self.left -= len(data)
        return data

    def close(self) -> None:
        """Close the file. Idempotent."""
        fh, self.fh = self.fh, None
        if fh is not None:
            fh.close()

    def __del__(self) -> None:
        self.close()
