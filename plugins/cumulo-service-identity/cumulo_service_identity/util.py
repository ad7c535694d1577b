"""Small helpers of the identity service: ids, times, errors, a TTL cache.

Times on the wire are the kernel's (:mod:`cumulo.utils.timeutils`).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from typing import Any

from cumulo import exception


def new_id() -> str:
    return uuid.uuid4().hex


def new_audit_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode("ascii")


def now_ts() -> float:
    return time.time()


def to_us(ts: float) -> int:
    return int(round(ts * 1_000_000))


def not_found(resource: str, ident: str) -> exception.NotFound:
    """The 404 Keystone gives for a missing ``resource`` (its name or id in the message)."""
    return exception.NotFound(f"Could not find {resource}: {ident}.", resource=resource, id=ident)


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
