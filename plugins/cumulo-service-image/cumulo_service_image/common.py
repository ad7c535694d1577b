"""What the image service's components share: time stamps, value coercion, the service's own errors,
and the token that says which process holds an upload.

A leaf module: it imports no component, so every component may import it.
"""

from __future__ import annotations

import datetime
import os
import uuid
from typing import Any

from cumulo import exception
from cumulo.db.models.base import utcnow

#: This process's boot: tells a live upload of this process from one an earlier process with
#: the same pid left behind.
BOOT = uuid.uuid4().hex[:12]


class ImageTooLarge(exception.RequestTooLarge):
    """The data is over ``[image] image_size_cap`` (413; the image returns to queued)."""

    msg_fmt = "Image data exceeds the limit of %(limit)d bytes."


class DataError(exception.Invalid):
    """The data does not match what was declared: the image is killed."""


def now() -> datetime.datetime:
    """The time written to image rows (naive UTC, as the models store it)."""
    return utcnow()


def iso(value: datetime.datetime | None) -> str | None:
    """Times in image dicts are ISO 8601 UTC strings (JSON- and RPC-safe), as the API shows them."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def process_token() -> str:
    """``host:pid:boot``: what an upload's row holds while this process streams it."""
    from cumulo.conf import CONF

    return f"{CONF.host}:{os.getpid()}:{BOOT}"


def as_bool(value: Any, field: str) -> bool:
    """A boolean given as a bool or as "true"/"false" (any case); 400 otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise exception.ValidationError(field=field, reason=f"{value!r} is not a boolean")


def as_int(value: Any, field: str, minimum: int = 0) -> int:
    """An integer given as an int or a decimal string, at least ``minimum``; 400 otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise exception.ValidationError(field=field, reason=f"{value!r} is not an integer")
    try:
        number = int(value)
    except ValueError:
        raise exception.ValidationError(field=field, reason=f"{value!r} is not an integer") from None
    if number < minimum:
        raise exception.ValidationError(field=field, reason=f"must be at least {minimum}")
    return number
