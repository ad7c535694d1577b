"""Conditional requests and HTTP dates (cumulo.utils.http); byte ranges are in test_utils_ranges.py."""

from __future__ import annotations

from cumulo.utils.http import evaluate_conditions, http_date, parse_http_date


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


def test_http_dates():
    assert http_date(1_700_000_000.2) == "Tue, 14 Nov 2023 22:13:21 GMT"  # rounded up to the second
    assert parse_http_date("Tue, 14 Nov 2023 22:13:21 GMT") == 1_700_000_001
    assert parse_http_date("Tuesday, 14-Nov-23 22:13:21 GMT") == 1_700_000_001  # RFC 850
    assert parse_http_date("not a date") is None
