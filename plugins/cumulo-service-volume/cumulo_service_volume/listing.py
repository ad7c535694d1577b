"""Filters, sorting and paging of volume and snapshot lists (Cinder's query parameters)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from cumulo import exception

SORT_DIRS = ("asc", "desc")


def parse_sort(params: Mapping[str, Any], keys: tuple[str, ...]) -> list[tuple[str, str]]:
    """``sort=key[:dir],...`` or ``sort_key``/``sort_dir``; created_at desc (then id) by default."""
    out: list[tuple[str, str]] = []
    if params.get("sort"):
        if params.get("sort_key") or params.get("sort_dir"):
            raise exception.Invalid(reason="The 'sort' parameter cannot be combined with sort_key/sort_dir.")
        for item in str(params["sort"]).split(","):
            key, _, direction = item.strip().partition(":")
            out.append((key.strip(), (direction or "desc").strip().lower()))
    elif params.get("sort_key") or params.get("sort_dir"):
        out.append((str(params.get("sort_key") or "created_at"), str(params.get("sort_dir") or "desc").lower()))
    else:
        out.append(("created_at", "desc"))
    # Cinder's legacy names of the name and description columns
    out = [({"display_name": "name", "display_description": "description"}.get(k, k), d) for k, d in out]
    for key, direction in out:
        if key not in keys:
            raise exception.ValidationError(field="sort", reason=f"cannot sort by '{key}'")
        if direction not in SORT_DIRS:
            raise exception.ValidationError(field="sort", reason=f"direction must be asc or desc, not '{direction}'")
    if "id" not in [k for k, _ in out]:
        out.append(("id", out[-1][1]))
    return out


def _sort_value(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, value)


def sort_items(items: list[dict[str, Any]], sort: list[tuple[str, str]]) -> list[dict[str, Any]]:
    for key, direction in reversed(sort):
        items.sort(key=lambda i, k=key: _sort_value(i.get(k)), reverse=direction == "desc")  # type: ignore[misc]
    return items


def page(items: list[dict[str, Any]], marker: str | None, limit: int | None, offset: int | None,
         what: str) -> list[dict[str, Any]]:
    """The items after ``marker`` (an id; 400 when not in the list), skipping ``offset``, at most ``limit``."""
    if marker:
        ids = [i["id"] for i in items]
        if marker not in ids:
            raise exception.NotFound(f"Marker {marker} could not be found among the {what}.")  # Cinder's 404
        items = items[ids.index(marker) + 1:]
    if offset:
        items = items[offset:]
    if limit is not None:
        items = items[:limit]
    return items


def metadata_filter(value: Any) -> dict[str, str]:
    """``metadata={"k": "v"}`` as Cinder takes it: a JSON object (or a Python-literal one cinderclient sends)."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    text = str(value)
    try:
        parsed = json.loads(text)
    except ValueError:
        try:
            parsed = json.loads(text.replace("'", '"'))
        except ValueError:
            raise exception.ValidationError(field="metadata", reason="must be a JSON object") from None
    if not isinstance(parsed, dict):
        raise exception.ValidationError(field="metadata", reason="must be a JSON object")
    return {str(k): str(v) for k, v in parsed.items()}


def matcher(filters: Mapping[str, Any], fields: Mapping[str, Callable[[Any], Any]]) -> Callable[[dict[str, Any]], bool]:
    """A predicate over item dicts: exact (``name``), inexact (``name~``, 3.34) and metadata filters.

    ``fields`` maps each filterable key to the conversion of the query value.
    Unknown keys are ignored, as Cinder ignores filters it does not know.
    """
    tests: list[Callable[[dict[str, Any]], bool]] = []
    for raw_key, raw_value in filters.items():
        inexact = raw_key.endswith("~")
        key = raw_key[:-1] if inexact else raw_key
        if key == "metadata":
            wanted = metadata_filter(raw_value)
            tests.append(lambda i, w=wanted: all((i.get("metadata") or {}).get(k) == v  # type: ignore[misc]
                                                 for k, v in w.items()))
            continue
        if key not in fields:
            continue
        value = fields[key](raw_value)
        if inexact:
            tests.append(lambda i, k=key, v=value: str(v).lower() in str(i.get(k) or "").lower())  # type: ignore[misc]
        else:
            tests.append(lambda i, k=key, v=value: i.get(k) == v)  # type: ignore[misc]
    return lambda item: all(t(item) for t in tests)
