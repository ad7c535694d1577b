"""Byte ranges (cumulo.utils.ranges): the Range header against a size, chunk streams and files sliced."""

from __future__ import annotations

import io
import itertools

import pytest

from cumulo.utils.ranges import (
    FileRange,
    Unsatisfiable,
    content_range,
    multipart_byteranges,
    parse_range,
    parse_ranges,
    slice_chunks,
    unsatisfied_range,
)

DATA = bytes(range(100))


# -- the Range header --------------------------------------------------------------------------


@pytest.mark.parametrize("header,expected", [
    ("bytes=0-9", [(0, 10)]),
    ("bytes=5-", [(5, 100)]),
    ("bytes=-10", [(90, 100)]),
    ("bytes=-1000", [(0, 100)]),
    ("bytes=90-200", [(90, 100)]),
    ("bytes=99-99", [(99, 100)]),
    ("bytes=0-0,-1", [(0, 1), (99, 100)]),
    ("bytes=0-1, 10-19 ,50-", [(0, 2), (10, 20), (50, 100)]),
    ("bytes=200-300,0-4", [(0, 5)]),  # unsatisfiable parts are dropped
    ("bytes=0-4,,2-6", [(0, 5), (2, 7)]),  # empty list elements allowed; overlaps kept as asked
    ("Bytes = 1-2", [(1, 3)]),  # the unit is case-insensitive, white space around it optional
    (" bytes=1 - 2 ", [(1, 3)]),
])
def test_ranges(header, expected):
    assert parse_ranges(header, 100) == expected


@pytest.mark.parametrize("header", [
    None, "", "bytes", "bytes=", "bytes= , ", "items=0-1", "bytes=a-b", "bytes=5-1", "bytes=-", "bytes=1",
    "bytes=--1", "bytes=+1-2", "bytes=1-+2", "bytes=1_0-20", "bytes=\u0661-2", "bytes=0x1-2", "bytes=1-2-3",
    "bytes=0-1,5-1",  # one invalid spec invalidates the header
])
def test_malformed_ranges_are_ignored(header):
    assert parse_ranges(header, 100) is None
    assert parse_range(header, 100) is None


@pytest.mark.parametrize("header,size", [
    ("bytes=100-", 100), ("bytes=100-200", 100), ("bytes=-5", 0), ("bytes=0-", 0), ("bytes=-0", 100),
    ("bytes=150-,200-300", 100),
])
def test_unsatisfiable_range(header, size):
    with pytest.raises(Unsatisfiable) as err:
        parse_ranges(header, size)
    assert err.value.size == size
    assert unsatisfied_range(size) == f"bytes */{size}"


def test_too_many_ranges_are_ignored():
    many = "bytes=" + ",".join(f"{i}-{i}" for i in range(100))
    assert parse_ranges(many, 1000) == [(i, i + 1) for i in range(100)]
    assert parse_ranges(many + ",500-", 1000) is None
    assert parse_ranges("bytes=0-1,3-4", 10, max_ranges=1) is None


def test_single_range():
    assert parse_range("bytes=10-19", 100) == (10, 20)
    assert parse_range("bytes=-10", 100) == (90, 100)
    assert parse_range("bytes=0-9,20-29", 100) is None  # several ranges: the whole content
    assert parse_range("bytes=0-9,500-", 100) == (0, 10)  # only one of them is satisfiable
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=100-", 100)


def test_content_range():
    assert content_range(0, 10, 100) == "bytes 0-9/100"
    assert content_range(99, 100, 100) == "bytes 99-99/100"


def test_multipart_byteranges_body_and_length():
    ctype, length, body = multipart_byteranges([(0, 3), (97, 100)], 100, "application/octet-stream",
                                               lambda s, e: iter([DATA[s:e]]))
    raw = b"".join(body)
    assert len(raw) == length
    boundary = ctype.split("boundary=")[1]
    assert ctype.startswith("multipart/byteranges")
    assert raw.count(f"--{boundary}".encode()) == 3
    assert b"Content-Range: bytes 0-2/100\r\n\r\n\x00\x01\x02" in raw
    assert b"Content-Range: bytes 97-99/100\r\n\r\nabc" in raw
    assert raw.endswith(f"--{boundary}--\r\n".encode())


# -- chunk streams -----------------------------------------------------------------------------


def chunked(data: bytes, sizes: tuple[int, ...]) -> list[bytes]:
    """``data`` cut at the given chunk sizes (cycled), empty chunks included where a size is 0."""
    out, pos = [], 0
    for size in itertools.cycle(sizes):
        if pos >= len(data):
            return out
        out.append(data[pos:pos + size])
        pos += size
    return out


class Source:
    """A chunk iterator that records what was read and whether it was closed."""

    def __init__(self, chunks: list[bytes], fail_at: int | None = None) -> None:
        self.chunks, self.fail_at = list(chunks), fail_at
        self.read = 0
        self.closed = 0

    def __iter__(self) -> Source:
        return self

    def __next__(self) -> bytes:
        if self.fail_at is not None and self.read == self.fail_at:
            raise OSError("the source broke")
        if self.read >= len(self.chunks):
            raise StopIteration
        self.read += 1
        return self.chunks[self.read - 1]

    def close(self) -> None:
        self.closed += 1


@pytest.mark.parametrize("sizes", [(1,), (7,), (100,), (1000,), (3, 0, 11), (0, 50)])
def test_slices_equal_bytes_slicing_whatever_the_chunks(sizes):
    chunks = chunked(DATA, sizes)
    for start in (0, 1, 6, 7, 50, 99, 100, 150):
        for end in (None, 0, 1, 7, 8, 51, 99, 100, 200):
            got = list(slice_chunks(iter(chunks), start, end))
            assert b"".join(got) == DATA[start:end], (start, end)
            assert all(got), "no empty chunk is yielded"


def test_slice_reads_no_further_than_the_end_and_closes_the_source():
    source = Source(chunked(DATA, (10,)))
    assert b"".join(slice_chunks(source, 15, 25)) == DATA[15:25]
    assert source.read == 3  # chunks 0-9, 10-19, 20-29: not one more
    assert source.closed == 1


def test_an_empty_slice_reads_nothing():
    source = Source(chunked(DATA, (10,)))
    assert list(slice_chunks(source, 30, 30)) == []
    assert (source.read, source.closed) == (0, 1)


def test_closing_a_slice_closes_the_source_even_before_it_was_read():
    source = Source(chunked(DATA, (10,)))
    sliced = slice_chunks(source, 0, 50)
    sliced.close()
    sliced.close()
    assert (source.read, source.closed) == (0, 1)
    assert list(sliced) == []


def test_a_slice_stopped_early_closes_the_source():
    source = Source(chunked(DATA, (10,)))
    sliced = slice_chunks(source)
    assert next(sliced) == DATA[:10]
    sliced.close()
    assert source.closed == 1


def test_a_failing_source_is_closed_and_its_error_propagates():
    source = Source(chunked(DATA, (10,)), fail_at=2)
    sliced = slice_chunks(source, 5)
    with pytest.raises(OSError, match="broke"):
        list(sliced)
    assert source.closed == 1


def test_a_plain_iterable_is_sliced_and_a_generator_closed():
    assert b"".join(slice_chunks([b"abc", b"def"], 2, 4)) == b"cd"
    finished = []

    def gen():
        try:
            yield from (b"abc", b"def", b"ghi")
        finally:
            finished.append(True)

    assert b"".join(slice_chunks(gen(), 0, 4)) == b"abcd"
    assert finished == [True]


def test_negative_bounds_are_refused():
    with pytest.raises(ValueError):
        slice_chunks([b"x"], -1)
    with pytest.raises(ValueError):
        FileRange(io.BytesIO(b"x"), 0, -1)


# -- files -------------------------------------------------------------------------------------


class File(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.reads.append(-1 if size is None else size)
        return super().read(size)


@pytest.mark.parametrize("start,end", [(0, None), (0, 100), (10, 20), (99, 100), (50, 50), (0, 200), (150, None)])
def test_file_range(start, end):
    f = File(DATA)
    got = list(FileRange(f, start, end, chunk_size=7))
    assert b"".join(got) == DATA[start:end]
    assert all(len(c) <= 7 for c in got)
    assert f.closed


def test_file_range_reads_only_the_range():
    f = File(DATA)
    assert b"".join(FileRange(f, 10, 25, chunk_size=10)) == DATA[10:25]
    assert f.reads == [10, 5]


def test_file_range_closed_unread_closes_the_file():
    f = File(DATA)
    FileRange(f, 10, 20).close()
    assert f.closed
