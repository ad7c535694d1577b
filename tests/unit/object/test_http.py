"""Conditional requests and byte ranges (cumulo.services.object.http)."""

from __future__ import annotations

import pytest

from cumulo.services.object.http import (
    Unsatisfiable,
    evaluate_conditions,
    http_date,
    multipart_byteranges,
    parse_ranges,
)


@pytest.mark.parametrize("header,expected", [
    ("bytes=0-9", [(0, 10)]),
    ("bytes=5-", [(5, 100)]),
    ("bytes=-10", [(90, 100)]),
    ("bytes=-1000", [(0, 100)]),
    ("bytes=90-200", [(90, 100)]),
    ("bytes=0-0,-1", [(0, 1), (99, 100)]),
    ("bytes=0-1, 10-19 ,50-", [(0, 2), (10, 20), (50, 100)]),
    ("bytes=200-300,0-4", [(0, 5)]),  # unsatisfiable parts are dropped
])
def test_ranges(header, expected):
    assert parse_ranges(header, 100) == expected


@pytest.mark.parametrize("header", [None, "", "bytes", "items=0-1", "bytes=a-b", "bytes=5-1", "bytes=-", "bytes=1"])
def test_malformed_ranges_are_ignored(header):
    assert parse_ranges(header, 100) is None


def test_unsatisfiable_range():
    with pytest.raises(Unsatisfiable):
        parse_ranges("bytes=100-", 100)
    with pytest.raises(Unsatisfiable):
        parse_ranges("bytes=-5", 0)


def test_multipart_byteranges_body_and_length():
    data = bytes(range(100))
    ctype, length, body = multipart_byteranges([(0, 3), (97, 100)], 100, "application/octet-stream",
                                               lambda s, e: iter([data[s:e]]))
    raw = b"".join(body)
    assert len(raw) == length
    boundary = ctype.split("boundary=")[1]
    assert ctype.startswith("multipart/byteranges")
    assert raw.count(f"--{boundary}".encode()) == 3
    assert b"Content-Range: bytes 0-2/100\r\n\r\n\x00\x01\x02" in raw
    assert b"Content-Range: bytes 97-99/100\r\n\r\nabc" in raw
    assert raw.endswith(f"--{boundary}--\r\n".encode())


def test_conditions():
    etag, modified = "abc", 1_700_000_000.2
    before, at = http_date(modified - 100), http_date(modified)
    assert evaluate_conditions({}, etag, modified) is None
    assert evaluate_conditions({"If-Match": '"abc"'}, etag, modified) is None
    assert evaluate_conditions({"If-Match": "*"}, etag, modified) is None
    assert evaluate_conditions({"If-Match": '"nope", "other"'}, etag, modified) == 412
    assert evaluate_conditions({"If-None-Match": '"abc"'}, etag, modified) == 304
    assert evaluate_conditions({"If-None-Match": '"abc"'}, etag, modified, "PUT") == 412
    assert evaluate_conditions({"If-None-Match": '"zzz"'}, etag, modified) is None
    assert evaluate_conditions({"If-Modified-Since": at}, etag, modified) == 304
    assert evaluate_conditions({"If-Modified-Since": before}, etag, modified) is None
    assert evaluate_conditions({"If-Unmodified-Since": before}, etag, modified) == 412
    assert evaluate_conditions({"If-Unmodified-Since": at}, etag, modified) is None
    # If-None-Match wins over If-Modified-Since; a bad date is ignored.
    assert evaluate_conditions({"If-None-Match": '"zzz"', "If-Modified-Since": at}, etag, modified) is None
    assert evaluate_conditions({"If-Modified-Since": "yesterday"}, etag, modified) is None
