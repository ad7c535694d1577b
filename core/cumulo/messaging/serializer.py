"""JSON encoding of everything that travels on a transport.

Arguments, results, contexts and notification payloads are JSON on every
transport, in-process included, so that the all-in-one cloud fails exactly
where a multi-node one would. Beyond plain JSON types the encoder accepts
``datetime``/``date``/``time`` (ISO 8601 strings), ``uuid.UUID`` (its string)
and ``set``/``frozenset`` (lists). Decoding never rebuilds those types: the
receiver gets the strings and lists. Anything else raises
:class:`SerializationError` in the sender's thread.
"""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

from cumulo.exception import CumuloError


class SerializationError(CumuloError, TypeError):
    """A value cannot be sent: it is not JSON and not one of the supported extras."""

    code = 500
    msg_fmt = "Cannot send %(what)s over messaging: %(reason)s"


def _default(o: Any) -> Any:
    if isinstance(o, datetime.datetime | datetime.date | datetime.time):
        return o.isoformat()
    if isinstance(o, uuid.UUID):
        return str(o)
    if isinstance(o, set | frozenset):
        items = list(o)
        try:
            return sorted(items)
        except TypeError:  # mixed types: order does not matter for a set
            return items
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serialisable")


_ENCODER = json.JSONEncoder(default=_default, ensure_ascii=False, separators=(",", ":"))
_DECODER = json.JSONDecoder()


def dumps(obj: Any, what: str = "message") -> str:
    """Encode ``obj``; raise :class:`SerializationError` naming ``what`` when it cannot be."""
    try:
        return _ENCODER.encode(obj)
    except (TypeError, ValueError, RecursionError) as err:
        raise SerializationError(what=what, reason=str(err)) from err


def loads(data: str | bytes) -> Any:
    """Decode a message body (``bytes`` are UTF-8)."""
    if isinstance(data, bytes | bytearray | memoryview):
        data = bytes(data).decode("utf-8")
    return _DECODER.decode(data)


def to_primitive(obj: Any, what: str = "value") -> Any:
    """``obj`` as it arrives at the other side (a JSON round trip)."""
    return loads(dumps(obj, what))
