"""Metadata dicts with case-insensitive keys, as Swift headers are (``X-Container-Meta-Color``).

The object service and every object backend merge metadata the same way: a
POST sets the keys it names whatever their case, and an empty value removes
the key (``ObjectBackend.post_account``/``post_container``). Keys keep the
case they were last set with.
"""

from __future__ import annotations

from collections.abc import Mapping


def ci_get(meta: Mapping[str, str], key: str, default: str | None = None) -> str | None:
    """The value of ``key`` in any case, else ``default``."""
    low = key.lower()
    for k, v in meta.items():
        if k.lower() == low:
            return v
    return default


def ci_merge(current: Mapping[str, str], update: Mapping[str, str]) -> dict[str, str]:
    """A new dict: ``current`` with ``update``'s keys set case-insensitively; an empty value removes the key.

    ``current`` is not modified. Keys that differ only by case in ``current``
    are all replaced by the updated one.
    """
    merged = dict(current)
    for key, value in update.items():
        low = key.lower()
        for old in [k for k in merged if k.lower() == low]:
            del merged[old]
        if value != "":
            merged[key] = value
    return merged
