"""Conditional requests (cumulo.services.object.http); byte ranges are in test_ranges.py."""

from __future__ import annotations

from cumulo.services.object import http
from cumulo.services.object.http import evaluate_conditions, http_date
from cumulo.utils import ranges


def test_the_range_helpers_are_the_kernels():
    """The object service and the Swift API use the kernel's one range parser (cumulo.utils.ranges)."""
    assert http.parse_ranges is ranges.parse_ranges
    assert http.Unsatisfiable is ranges.Unsatisfiable
    assert http.multipart_byteranges is ranges.multipart_byteranges


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
