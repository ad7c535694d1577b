"""ISO 8601 times as the OpenStack APIs write and read them, in UTC.

Shared by the areas that store times and the frontends that show or accept
them (identity: token and application-credential expiry). Stored times are
naive UTC ``datetime`` values (the database's convention) or POSIX
timestamps; what goes on the wire carries a ``Z``.
"""

from __future__ import annotations

import datetime

__all__ = ["isotime", "parse_isotime"]


def isotime(ts: float | datetime.datetime | None) -> str | None:
    """Keystone's time format, microseconds and ``Z``: ``2026-11-22T05:00:00.000000Z``.

    :param ts: a POSIX timestamp, or a datetime (naive means UTC); ``None`` gives ``None``.
    """
    if ts is None:
        return None
    if isinstance(ts, datetime.datetime):
        dt = ts if ts.tzinfo else ts.replace(tzinfo=datetime.UTC)
    else:
        dt = datetime.datetime.fromtimestamp(ts, datetime.UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_isotime(text: str) -> datetime.datetime:
    """An ISO 8601 time (``Z`` or an offset, or none for UTC) as a naive UTC datetime.

    :raises ValueError: the text is not an ISO 8601 time.
    :raises OverflowError: the time cannot be moved to UTC (year 1 with a positive offset).
    """
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    dt = datetime.datetime.fromisoformat(value)
    if dt.tzinfo is not None:
        dt = dt.astimezone(datetime.UTC).replace(tzinfo=None)
    return dt
