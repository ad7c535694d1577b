"""Small helpers of the identity service: ids, times, a generation-checked TTL cache."""

from __future__ import annotations

import base64
import datetime
import json
import os
import threading
import time
import uuid
from typing import Any


def new_id() -> str:
    return uuid.uuid4().hex


def new_audit_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode("ascii")


def now_ts() -> float:
    return time.time()


def to_us(ts: float) -> int:
    return int(round(ts * 1_000_000))


def iso(ts: float | datetime.datetime | None) -> str | None:
    """Keystone's time format: ``2026-11-22T05:00:00.000000Z``."""
    if ts is None:
        return None
    if isinstance(ts, datetime.datetime):
        dt = ts if ts.tzinfo else ts.replace(tzinfo=datetime.UTC)
    else:
        dt = datetime.datetime.fromtimestamp(ts, datetime.UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime.datetime:
    """ISO 8601 -> naive UTC datetime; ValueError when unreadable."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    dt = datetime.datetime.fromisoformat(value)
    if dt.tzinfo is not None:
        dt = dt.astimezone(datetime.UTC).replace(tzinfo=None)
    return dt


def loads(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return default


class TTLCache:
    """A dict whose entries expire after ``ttl`` seconds; ``clear()`` on any local write."""

    def __init__(self, ttl: float, max_size: int = 10000) -> None:
        self.ttl, self.max_size = ttl, max_size
        self._data: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    _MISS = object()

    def get(self, key: Any) -> Any:
        hit = self._data.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return TTLCache._MISS

    def put(self, key: Any, value: Any) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._data) >= self.max_size:
                self._data.clear()
            self._data[key] = (time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


MISS = TTLCache._MISS
