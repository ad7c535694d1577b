"""Listing images: filters, sorting and marker paging (``GET /v2/images``)."""

from __future__ import annotations

import datetime
from typing import Any

import sqlalchemy as sa

from cumulo import db, exception
from cumulo.context import RequestContext
from cumulo_service_image import access
from cumulo_service_image.common import as_bool, as_int
from cumulo_service_image.models import Image, ImageProperty, ImageTag
from cumulo_service_image.views import image_view

#: The attributes a list may be sorted by.
SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "id", "created_at",
             "updated_at", "min_disk", "min_ram", "visibility", "owner")
_TIME_OPS = {"gt": "__gt__", "gte": "__ge__", "lt": "__lt__", "lte": "__le__", "eq": "__eq__", "neq": "__ne__"}


class Listing:
    """The image list query (no state: what may be listed is :mod:`cumulo_service_image.access`'s rule)."""

    def list(self, ctx: RequestContext, filters: dict[str, Any] | None = None, *, limit: int | None = None,
             marker: str | None = None, sort: list[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
        """Images visible to ``ctx`` matching ``filters``, sorted, after ``marker``, at most ``limit``.

        Filters: ``visibility`` (public, private, shared, community, all), ``member_status``
        (accepted by default, pending, rejected, all), ``os_hidden``, ``name``, ``status``,
        ``owner``, ``disk_format``, ``container_format`` (each may be ``in:a,b``), ``id``
        (``in:``), ``protected``, ``size_min``, ``size_max``, ``tag`` (a list: all must be
        present), ``created_at``/``updated_at`` (``gt:``, ``gte:``, ``lt:``, ``lte:``,
        ``eq:``, ``neq:`` + ISO time), and any other key: an extra property equal to the value.
        """
        filters = dict(filters or {})
        sort = list(sort or [("created_at", "desc")])
        for key, direction in sort:
            if key not in SORT_KEYS:
                raise exception.ValidationError(field="sort_key", reason=f"{key!r} is not one of {', '.join(SORT_KEYS)}")
            if direction not in ("asc", "desc"):
                raise exception.ValidationError(field="sort_dir", reason=f"{direction!r} is not asc or desc")
        if "id" not in [k for k, _ in sort]:
            sort.append(("id", sort[-1][1]))  # a unique last key: pages neither repeat nor skip images
        with db.reader() as s:
            q = sa.select(Image).where(Image.deleted == sa.false())
            q = access.visibility_filter(ctx, q, filters.pop("visibility", None), filters.pop("member_status", None))
            hidden = filters.pop("os_hidden", None)
            if hidden is not None:
                q = q.where(Image.os_hidden == as_bool(hidden, "os_hidden"))
            else:
                q = q.where(Image.os_hidden == sa.false())
            q = _attribute_filters(q, filters)
            exprs = [(_sort_expr(k), d) for k, d in sort]
            if marker:
                mrow = s.get(Image, marker)
                if mrow is None or mrow.deleted or not access.can_see(ctx, mrow, access.members_of(s, marker)):
                    raise exception.Invalid(reason=f"Marker {marker} could not be found.")
                q = q.where(_after_marker(exprs, s, marker))
            q = q.order_by(*[(e.asc() if d == "asc" else e.desc()) for e, d in exprs])
            if limit is not None:
                q = q.limit(limit)
            return [image_view(r) for r in s.scalars(q).all()]


def _sort_expr(key: str) -> Any:
    """The sort column; NULLs sort as the lowest value of their type (the same on every database)."""
    col = getattr(Image, key)
    if key == "updated_at":
        return sa.func.coalesce(Image.updated_at, Image.created_at)
    if key in ("size", "min_disk", "min_ram"):
        return sa.func.coalesce(col, -1)
    if key in ("name", "disk_format", "container_format", "owner"):
        return sa.func.coalesce(col, "")
    return col


def _after_marker(exprs: list[tuple[Any, str]], s: Any, marker: str) -> Any:
    """Rows strictly after the marker image in the sort order ``exprs`` (keyset paging)."""
    values = s.execute(sa.select(*[e for e, _ in exprs]).where(Image.id == marker)).one()
    clauses = []
    for i, (expr, direction) in enumerate(exprs):
        equal = [exprs[j][0] == values[j] for j in range(i)]
        beyond = expr > values[i] if direction == "asc" else expr < values[i]
        clauses.append(sa.and_(*equal, beyond))
    return sa.or_(*clauses)


def _attribute_filters(q: Any, filters: dict[str, Any]) -> Any:
    for key, value in filters.items():
        if value is None:
            continue
        if key in ("name", "status", "owner", "disk_format", "container_format", "id"):
            col = getattr(Image, key)
            if isinstance(value, str) and value.startswith("in:"):
                items = [v.strip().strip('"') for v in value[3:].split(",") if v.strip()]
                q = q.where(col.in_(items))
            else:
                q = q.where(col == value)
        elif key == "protected":
            q = q.where(Image.protected == as_bool(value, key))
        elif key in ("size_min", "size_max"):
            number = as_int(value, key)
            q = q.where(Image.size >= number if key == "size_min" else Image.size <= number)
        elif key in ("min_disk", "min_ram"):
            q = q.where(getattr(Image, key) == as_int(value, key))
        elif key == "tag":
            for tag in value if isinstance(value, list) else [value]:
                q = q.where(Image.id.in_(sa.select(ImageTag.image_id).where(ImageTag.value == tag)))
        elif key in ("created_at", "updated_at"):
            q = q.where(_time_filter(key, value))
        else:
            q = q.where(Image.id.in_(sa.select(ImageProperty.image_id).where(
                ImageProperty.name == key, ImageProperty.value == str(value))))
    return q


def _time_filter(key: str, value: str) -> Any:
    op, _, text = str(value).partition(":")
    if op not in _TIME_OPS or not text:
        raise exception.ValidationError(field=key, reason="use gt:, gte:, lt:, lte:, eq: or neq: and an ISO 8601 time")
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise exception.ValidationError(field=key, reason=f"{text!r} is not an ISO 8601 time") from None
    if when.tzinfo is not None:
        when = when.astimezone(datetime.UTC).replace(tzinfo=None)
    col = Image.created_at if key == "created_at" else sa.func.coalesce(Image.updated_at, Image.created_at)
    return getattr(col, _TIME_OPS[op])(when)
