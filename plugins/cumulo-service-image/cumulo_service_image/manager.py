"""The image service: image records, their lifecycle, sharing, quotas, and streaming data to stores.

Frontends and other services call it as ``hub.image``. Every method takes
the caller's :class:`RequestContext` first and enforces what the context may
see and do (an image the caller may not see is a 404, one it may see but not
change is a 403).

Status lifecycle::

    queued --upload--> saving --ok--> active <--> deactivated
                          |--bad data (size/checksum)--> killed
                          '--quota, cap, client gone, store error, dead process--> queued
    any --delete--> deleted
"""

from __future__ import annotations

import builtins
import datetime
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa

from cumulo import db, exception, policy, registry
from cumulo.context import RequestContext
from cumulo.contracts.image import (  # noqa: F401  (re-exported: the service's values and errors)
    CONTAINER_FORMATS,
    DISK_FORMATS,
    MEMBER_STATUSES,
    STATUSES,
    VISIBILITIES,
    ClientDisconnected,
    ImageQuotaExceeded,
)
from cumulo.db.models.base import utcnow
from cumulo.interfaces import image as iface
from cumulo.interfaces.base import PluginContext
from cumulo_service_image.models import Image, ImageMember, ImageProperty, ImageTag
from cumulo_service_image.policies import RULES

LOG = logging.getLogger(__name__)

#: Attributes an API user may write (besides extra properties).
WRITABLE = ("name", "visibility", "protected", "os_hidden", "disk_format", "container_format",
            "min_disk", "min_ram", "owner", "tags")
#: Attributes nobody writes through create/update.
READ_ONLY = ("id", "status", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value",
             "created_at", "updated_at", "deleted", "deleted_at", "file", "self", "schema",
             "direct_url", "location", "stores", "store", "properties")
#: Keys of the image dict that are not extra properties.
BASE_KEYS = frozenset(WRITABLE + READ_ONLY + ("locations",))
#: Attributes that can change only while the image has no data.
QUEUED_ONLY = ("disk_format", "container_format")
SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "id", "created_at",
             "updated_at", "min_disk", "min_ram", "visibility", "owner")

policy.register_rules(RULES)


class ImageTooLarge(exception.RequestTooLarge):
    msg_fmt = "Image data exceeds the limit of %(limit)d bytes."


class _DataError(exception.Invalid):
    """The data does not match what was declared: the image is killed."""


def _now() -> datetime.datetime:
    return utcnow()


def _iso(value: datetime.datetime | None) -> str | None:
    """Times in image dicts are ISO 8601 UTC strings (JSON- and RPC-safe), as the API shows them."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def _process_token() -> str:
    from cumulo.conf import CONF

    return f"{CONF.host}:{os.getpid()}:{_BOOT}"


_BOOT = uuid.uuid4().hex[:12]
_ESCAPE = re.compile(r"~[01]")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise exception.ValidationError(field=field, reason=f"{value!r} is not a boolean")


def _int(value: Any, field: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise exception.ValidationError(field=field, reason=f"{value!r} is not an integer")
    try:
        number = int(value)
    except ValueError:
        raise exception.ValidationError(field=field, reason=f"{value!r} is not an integer") from None
    if number < minimum:
        raise exception.ValidationError(field=field, reason=f"must be at least {minimum}")
    return number


class Service:
    """``hub.image``: the image manager."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.conf = hub.conf
        self._stores: dict[str, iface.ImageStore] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ stores
    def enabled_stores(self) -> list[str]:
        names = [self.conf.image.default_store]
        names += [n for n in self.conf.image.stores if n and n not in names]
        return names

    def store(self, name: str | None = None) -> iface.ImageStore:
        """The store plugin ``name`` (default: ``[image] default_store``), loaded once."""
        name = name or self.conf.image.default_store
        with self._lock:
            if name not in self._stores:
                if name not in self.enabled_stores():
                    raise exception.ConfigError(
                        reason=f"Image store '{name}' is not enabled; [image] stores has "
                               f"{', '.join(self.enabled_stores())}")
                self._stores[name] = registry.load_plugin("image", name, PluginContext(self.conf, host=self.conf.host, hub=self.hub))
            return self._stores[name]

    def _store_for_location(self, location: str) -> tuple[str, iface.ImageStore]:
        scheme = location.split(":", 1)[0].lower()
        for name in self.enabled_stores():
            try:
                st = self.store(name)
            except registry.PluginError:
                continue
            if scheme in st.schemes:
                return name, st
        raise exception.Invalid(reason=f"No enabled image store reads '{scheme}' locations; "
                                       f"enabled stores: {', '.join(self.enabled_stores())}")

    # ------------------------------------------------------------ visibility
    def _members(self, s: Any, image_id: str) -> dict[str, str]:
        rows = s.execute(sa.select(ImageMember.member, ImageMember.status)
                         .where(ImageMember.image_id == image_id)).all()
        return {m: st for m, st in rows}

    def _can_see(self, ctx: RequestContext, row: Image, members: dict[str, str]) -> bool:
        if ctx.is_admin or row.visibility in ("public", "community"):
            return True
        if row.owner is not None and row.owner == ctx.project_id:
            return True
        return row.visibility == "shared" and ctx.project_id in members

    def _can_modify(self, ctx: RequestContext, row: Image) -> bool:
        return ctx.is_admin or (row.owner is not None and row.owner == ctx.project_id)

    def _load(self, s: Any, ctx: RequestContext, image_id: str, for_update: bool = False) -> Image:
        row = s.get(Image, image_id) if isinstance(image_id, str) else None
        if row is None or row.deleted or not self._can_see(ctx, row, self._members(s, row.id)):
            raise exception.NotFound(resource="Image", id=image_id)
        if for_update and not self._can_modify(ctx, row):
            raise exception.Forbidden(f"You are not permitted to modify image {image_id}.")
        return row

    # ------------------------------------------------------------ rendering
    @staticmethod
    def _view(row: Image) -> dict[str, Any]:
        props = {p.name: p.value for p in row.properties}
        view: dict[str, Any] = dict(props)
        view.update({
            "id": row.id, "name": row.name, "status": row.status, "visibility": row.visibility,
            "protected": bool(row.protected), "os_hidden": bool(row.os_hidden), "owner": row.owner,
            "disk_format": row.disk_format, "container_format": row.container_format,
            "size": row.size, "virtual_size": row.virtual_size, "checksum": row.checksum,
            "os_hash_algo": row.os_hash_algo, "os_hash_value": row.os_hash_value,
            "min_disk": row.min_disk or 0, "min_ram": row.min_ram or 0,
            "created_at": _iso(row.created_at), "updated_at": _iso(row.updated_at or row.created_at),
            "tags": sorted(t.value for t in row.tags), "store": row.store, "location": row.location,
            "properties": props,
        })
        return view

    # ------------------------------------------------------------- quotas
    def _usage(self, s: Any, project_id: str | None) -> tuple[int, int]:
        count, total = s.execute(
            sa.select(sa.func.count(Image.id), sa.func.coalesce(sa.func.sum(Image.size), 0))
            .where(Image.owner == project_id, Image.deleted == sa.false())).one()
        return int(count), int(total)

    def _check_count_quota(self, s: Any, project_id: str | None) -> None:
        limit = self.conf.image.quota_image_count
        if limit < 0 or project_id is None:
            return
        count, _ = self._usage(s, project_id)
        if count + 1 > limit:
            raise ImageQuotaExceeded(resource="image_count_total", requested=1, used=count, limit=limit)

    def _size_allowance(self, project_id: str | None, exclude: str) -> int | None:
        """Bytes the project may still store (None: unlimited)."""
        limit_mb = self.conf.image.quota_image_size_total
        if limit_mb < 0 or project_id is None:
            return None
        with db.transaction() as s:
            _, used = s.execute(
                sa.select(sa.func.count(Image.id), sa.func.coalesce(sa.func.sum(Image.size), 0))
                .where(Image.owner == project_id, Image.deleted == sa.false(), Image.id != exclude)).one()
        return max(0, limit_mb * 1024 * 1024 - int(used or 0))  # coalesce: never None

    # ------------------------------------------------------------ validation
    def _check_fields(self, ctx: RequestContext, fields: dict[str, Any], current: Image | None) -> dict[str, Any]:
        """Normalize writable attributes; raises 400 for bad values, 403 for forbidden ones."""
        out: dict[str, Any] = {}
        for key, value in fields.items():
            if key in READ_ONLY and not (key == "id" and current is None):
                raise exception.Forbidden(f"Attribute '{key}' is read-only.")
            if key == "id":
                try:
                    out["id"] = str(uuid.UUID(str(value)))
                except ValueError:
                    raise exception.ValidationError(field="id", reason=f"{value!r} is not a UUID") from None
            elif key == "name":
                if value is not None and (not isinstance(value, str) or len(value) > 255):
                    raise exception.ValidationError(field="name", reason="must be a string of at most 255 characters")
                out["name"] = value
            elif key == "visibility":
                if value not in VISIBILITIES:
                    raise exception.ValidationError(
                        field="visibility", reason=f"{value!r} is not one of {', '.join(VISIBILITIES)}")
                if value == "public" and (current is None or current.visibility != "public"):
                    policy.authorize(ctx, "image:publicize_image", {"project_id": ctx.project_id})
                out["visibility"] = value
            elif key in ("protected", "os_hidden"):
                out[key] = _bool(value, key)
            elif key == "disk_format":
                if value is not None and value not in DISK_FORMATS:
                    raise exception.ValidationError(
                        field="disk_format", reason=f"{value!r} is not one of {', '.join(DISK_FORMATS)}")
                out[key] = value
            elif key == "container_format":
                if value is not None and value not in CONTAINER_FORMATS:
                    raise exception.ValidationError(
                        field="container_format", reason=f"{value!r} is not one of {', '.join(CONTAINER_FORMATS)}")
                out[key] = value
            elif key in ("min_disk", "min_ram"):
                out[key] = _int(value, key)
            elif key == "owner":
                if value is not None and (not isinstance(value, str) or len(value) > 64):
                    raise exception.ValidationError(field="owner", reason="must be a project id")
                if value != (current.owner if current is not None else ctx.project_id):
                    policy.authorize(ctx, "image:set_owner", {"project_id": ctx.project_id})
                out["owner"] = value
            elif key == "tags":
                if not isinstance(value, list) or not all(isinstance(t, str) and 0 < len(t) <= 255 for t in value):
                    raise exception.ValidationError(field="tags", reason="must be a list of strings of 1 to 255 characters")
                tags = sorted(set(value))
                self._check_quota_len("image_tag_quota", "tags", len(tags))
                out["tags"] = tags
            elif key == "locations":
                raise exception.Forbidden("Attribute 'locations' is set with 'add /locations/-' "
                                          "on an image without data.")
            else:
                if not isinstance(key, str) or not 0 < len(key) <= 255:
                    raise exception.ValidationError(field=str(key)[:40], reason="property names are 1 to 255 characters")
                if value is not None and not isinstance(value, str):
                    if isinstance(value, (bool, int, float)):
                        value = str(value).lower() if isinstance(value, bool) else str(value)
                    else:
                        raise exception.ValidationError(field=key, reason="extra property values are strings")
                if value is not None and len(value) > 65535:
                    raise exception.ValidationError(field=key, reason="is longer than 65535 characters")
                out[key] = value
        return out

    def _check_quota_len(self, option: str, what: str, count: int) -> None:
        limit = getattr(self.conf.image, option)
        if 0 <= limit < count:
            raise ImageQuotaExceeded(f"Maximum number of {what} exceeded: {count} requested, limit {limit}.",
                                     resource=what, requested=count, used=0, limit=limit)

    def _apply(self, s: Any, row: Image, fields: dict[str, Any]) -> None:
        extra = {k: v for k, v in fields.items() if k not in BASE_KEYS}
        for key, value in fields.items():
            if key == "tags":
                existing = {t.value: t for t in row.tags}
                for t in list(row.tags):
                    if t.value not in value:
                        row.tags.remove(t)
                for v in value:
                    if v not in existing:
                        row.tags.append(ImageTag(value=v))
            elif key in BASE_KEYS:
                setattr(row, key, value)
        if extra:
            props = {p.name: p for p in row.properties}
            for key, value in extra.items():
                if value is None:
                    if key in props:
                        row.properties.remove(props[key])
                elif key in props:
                    props[key].value = value
                else:
                    row.properties.append(ImageProperty(name=key, value=value))
            self._check_quota_len("image_property_quota", "properties", len(row.properties))
        row.updated_at = _now()

    # ------------------------------------------------------------- CRUD
    def create(self, ctx: RequestContext, fields: dict[str, Any]) -> dict[str, Any]:
        """Create a queued image (no data yet). ``fields``: writable attributes and extra properties."""
        fields = self._check_fields(ctx, dict(fields), None)
        owner = fields.pop("owner", ctx.project_id)

        @db.retry_on_deadlock
        def _do() -> dict[str, Any]:
            with db.transaction() as s:
                image_id = fields.get("id") or str(uuid.uuid4())
                if s.get(Image, image_id) is not None:
                    raise exception.Conflict(reason=f"Image with identifier {image_id} already exists!")
                self._check_count_quota(s, owner)
                row = Image(id=image_id, owner=owner, status="queued",
                            visibility=fields.get("visibility", "shared"), protected=False, os_hidden=False,
                            min_disk=0, min_ram=0, deleted=False, created_at=_now())
                s.add(row)
                self._apply(s, row, {k: v for k, v in fields.items() if k != "id" and v is not None})
                s.flush()
                return self._view(row)

        try:
            return _do()
        except sa.exc.IntegrityError as err:
            if db.is_duplicate(err):
                raise exception.Conflict(reason="Image with this identifier already exists!") from None
            raise

    def get(self, ctx: RequestContext, image_id: str) -> dict[str, Any]:
        """The image as a dict; NotFound when missing, deleted or not visible to ``ctx``."""
        with db.reader() as s:
            return self._view(self._load(s, ctx, image_id))

    # Below this method, ``list`` in the class body is this method: annotations say ``builtins.list``.
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
            sort.append(("id", sort[-1][1]))
        with db.reader() as s:
            q = sa.select(Image).where(Image.deleted == sa.false())
            q = self._visibility_filter(ctx, q, filters.pop("visibility", None), filters.pop("member_status", None))
            hidden = filters.pop("os_hidden", None)
            if hidden is not None:
                q = q.where(Image.os_hidden == _bool(hidden, "os_hidden"))
            else:
                q = q.where(Image.os_hidden == sa.false())
            q = self._attribute_filters(q, filters)
            exprs = [(self._sort_expr(k), d) for k, d in sort]
            if marker:
                mrow = s.get(Image, marker)
                if mrow is None or mrow.deleted or not self._can_see(ctx, mrow, self._members(s, marker)):
                    raise exception.Invalid(reason=f"Marker {marker} could not be found.")
                q = q.where(self._after_marker(exprs, s, marker))
            q = q.order_by(*[(e.asc() if d == "asc" else e.desc()) for e, d in exprs])
            if limit is not None:
                q = q.limit(limit)
            return [self._view(r) for r in s.scalars(q).all()]

    @staticmethod
    def _sort_expr(key: str) -> Any:
        col = getattr(Image, key)
        if key == "updated_at":
            return sa.func.coalesce(Image.updated_at, Image.created_at)
        if key in ("size", "min_disk", "min_ram"):
            return sa.func.coalesce(col, -1)
        if key in ("name", "disk_format", "container_format", "owner"):
            return sa.func.coalesce(col, "")
        return col

    @staticmethod
    def _after_marker(exprs: builtins.list[tuple[Any, str]], s: Any, marker: str) -> Any:
        values = s.execute(sa.select(*[e for e, _ in exprs]).where(Image.id == marker)).one()
        clauses = []
        for i, (expr, direction) in enumerate(exprs):
            equal = [exprs[j][0] == values[j] for j in range(i)]
            beyond = expr > values[i] if direction == "asc" else expr < values[i]
            clauses.append(sa.and_(*equal, beyond))
        return sa.or_(*clauses)

    def _visibility_filter(self, ctx: RequestContext, q: Any, visibility: str | None,
                           member_status: str | None) -> Any:
        if visibility is not None and visibility not in VISIBILITIES + ("all",):
            raise exception.ValidationError(field="visibility", reason=f"{visibility!r} is not a visibility")
        member_status = member_status or "accepted"
        if member_status not in MEMBER_STATUSES + ("all",):
            raise exception.ValidationError(field="member_status", reason=f"{member_status!r} is not a member status")
        project = ctx.project_id
        member_q = sa.select(ImageMember.image_id).where(ImageMember.member == project)
        if member_status != "all":
            member_q = member_q.where(ImageMember.status == member_status)
        shared_to_me = sa.and_(Image.visibility == "shared", Image.id.in_(member_q))
        mine = Image.owner == project
        if visibility in VISIBILITIES:
            q = q.where(Image.visibility == visibility)
        if ctx.is_admin:
            if visibility == "shared" and member_status != "all" and project:
                q = q.where(sa.or_(mine, shared_to_me))
            return q
        if visibility == "public":
            return q
        if visibility == "community":
            return q
        if visibility == "private":
            return q.where(mine)
        if visibility == "shared":
            return q.where(sa.or_(mine, shared_to_me))
        if visibility == "all":
            return q.where(sa.or_(mine, Image.visibility.in_(("public", "community")), shared_to_me))
        return q.where(sa.or_(mine, Image.visibility == "public", shared_to_me))

    def _attribute_filters(self, q: Any, filters: dict[str, Any]) -> Any:
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
                q = q.where(Image.protected == _bool(value, key))
            elif key in ("size_min", "size_max"):
                number = _int(value, key)
                q = q.where(Image.size >= number if key == "size_min" else Image.size <= number)
            elif key in ("min_disk", "min_ram"):
                q = q.where(getattr(Image, key) == _int(value, key))
            elif key == "tag":
                for tag in value if isinstance(value, list) else [value]:
                    q = q.where(Image.id.in_(sa.select(ImageTag.image_id).where(ImageTag.value == tag)))
            elif key in ("created_at", "updated_at"):
                q = q.where(self._time_filter(key, value))
            else:
                q = q.where(Image.id.in_(sa.select(ImageProperty.image_id).where(
                    ImageProperty.name == key, ImageProperty.value == str(value))))
        return q

    @staticmethod
    def _time_filter(key: str, value: str) -> Any:
        op, _, text = str(value).partition(":")
        ops = {"gt": "__gt__", "gte": "__ge__", "lt": "__lt__", "lte": "__le__", "eq": "__eq__", "neq": "__ne__"}
        if op not in ops or not text:
            raise exception.ValidationError(field=key, reason="use gt:, gte:, lt:, lte:, eq: or neq: and an ISO 8601 time")
        try:
            when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise exception.ValidationError(field=key, reason=f"{text!r} is not an ISO 8601 time") from None
        if when.tzinfo is not None:
            when = when.astimezone(datetime.UTC).replace(tzinfo=None)
        col = Image.created_at if key == "created_at" else sa.func.coalesce(Image.updated_at, Image.created_at)
        return getattr(col, ops[op])(when)

    def update(self, ctx: RequestContext, image_id: str, changes: dict[str, Any],
               remove: Iterable[str] = ()) -> dict[str, Any]:
        """Set attributes/properties in ``changes``; remove the extra properties named in ``remove``."""
        remove = list(remove)

        @db.retry_on_deadlock
        def _do() -> dict[str, Any]:
            with db.transaction() as s:
                row = self._load(s, ctx, image_id, for_update=True)
                fields = self._check_fields(ctx, dict(changes), row)
                for key in QUEUED_ONLY:
                    if key in fields and fields[key] != getattr(row, key) and row.status != "queued":
                        raise exception.Forbidden(f"Attribute {key} can be only replaced for a queued image.")
                props = {p.name for p in row.properties}
                for key in remove:
                    if key in BASE_KEYS:
                        raise exception.Forbidden(f"Attribute '{key}' cannot be removed.")
                    if key not in props:
                        raise exception.Conflict(reason=f"Property {key} does not exist.")
                    fields[key] = None
                self._apply(s, row, fields)
                s.flush()
                return self._view(row)

        return _do()

    def patch(self, ctx: RequestContext, image_id: str, operations: builtins.list[dict[str, Any]]) -> dict[str, Any]:
        """Apply a JSON patch (``add``/``replace``/``remove`` ops, Image API v2.1 media type)."""
        current = self.get(ctx, image_id)
        doc = {k: v for k, v in current.items() if k not in ("properties", "store", "location")}
        changed: dict[str, Any] = {}
        removed: list[str] = []
        new_locations: list[dict[str, Any]] = []
        if not isinstance(operations, list):
            raise exception.Invalid(reason="A JSON patch is a list of operations.")
        for op in operations:
            if not isinstance(op, dict) or set(op) - {"op", "path", "value"}:
                raise exception.Invalid(reason=f"Invalid patch operation {op!r}: keys are op, path and value.")
            kind, path = op.get("op"), op.get("path")
            if kind not in ("add", "replace", "remove"):
                raise exception.Invalid(reason=f"Operation {kind!r} is not supported: use add, replace or remove.")
            if not isinstance(path, str) or not path.startswith("/") or path == "/":
                raise exception.Invalid(reason=f"Invalid JSON pointer {path!r} in a patch.")
            parts = [_ESCAPE.sub(lambda m: "~" if m.group(0) == "~0" else "/", p) for p in path[1:].split("/")]
            if kind != "remove" and "value" not in op:
                raise exception.Invalid(reason=f"Operation {kind} on {path} needs a value.")
            if parts[0] == "locations":
                if kind != "add" or len(parts) != 2:
                    raise exception.Forbidden("Only 'add /locations/-' is supported on image locations.")
                new_locations.append(op["value"])
                continue
            if parts[0] == "tags" and len(parts) == 2 and kind != "remove":
                tags = list(changed.get("tags", doc["tags"]))
                tags.append(op["value"])
                changed["tags"] = tags
                continue
            if len(parts) != 1:
                raise exception.Invalid(reason=f"Nested paths such as {path} are not supported.")
            key = parts[0]
            if kind == "remove":
                if key in removed or (key not in doc and key not in changed):
                    raise exception.Conflict(reason=f"Property {key} does not exist.")
                if key in changed and key not in doc:
                    changed.pop(key)
                    continue
                removed.append(key)
                changed.pop(key, None)
            else:
                if kind == "replace" and key not in doc and key not in changed and key not in WRITABLE:
                    raise exception.Conflict(reason=f"Property {key} does not exist.")
                if key in READ_ONLY and doc.get(key) == op["value"]:
                    continue  # clients echo unchanged read-only values back; not a change
                changed[key] = op["value"]
                if key in removed:
                    removed.remove(key)
        result = current
        if changed or removed:
            result = self.update(ctx, image_id, changed, removed)
        for loc in new_locations:
            if not isinstance(loc, dict) or not isinstance(loc.get("url"), str):
                raise exception.Invalid(reason="A location is {'url': ..., 'metadata': {...}}.")
            result = self.add_location(ctx, image_id, loc["url"], loc.get("validation_data") or {})
        return result

    def delete(self, ctx: RequestContext, image_id: str) -> None:
        """Delete the image and its data. 403 for a protected image."""
        with db.transaction() as s:
            row = self._load(s, ctx, image_id, for_update=True)
            if row.protected:
                raise exception.Forbidden(f"Image {image_id} is protected and cannot be deleted.")
            row.status, row.deleted, row.deleted_at = "deleted", True, _now()
            row.upload_host = None
            location, store = row.location, row.store
        if location:
            self._delete_data(image_id, store, location)

    def _delete_data(self, image_id: str, store_name: str | None, location: str) -> None:
        try:
            st = self.store(store_name) if store_name else self._store_for_location(location)[1]
            if st.writable:
                st.delete(location)
        except Exception:
            LOG.exception("Deleting the data of image %s at %s failed; the cleanup task retries", image_id, location)
            return
        with db.transaction() as s:
            s.execute(sa.update(Image).where(Image.id == image_id, Image.deleted == sa.true())
                      .values(location=None))

    # ------------------------------------------------------------- actions
    def deactivate(self, ctx: RequestContext, image_id: str) -> None:
        self._set_activation(ctx, image_id, "deactivated", "image:deactivate")

    def reactivate(self, ctx: RequestContext, image_id: str) -> None:
        self._set_activation(ctx, image_id, "active", "image:reactivate")

    def _set_activation(self, ctx: RequestContext, image_id: str, status: str, rule: str) -> None:
        with db.transaction() as s:
            row = self._load(s, ctx, image_id)
            policy.authorize(ctx, rule, {"project_id": row.owner})
            if row.status not in ("active", "deactivated"):
                raise exception.Forbidden(f"Not allowed to {rule.split(':')[1]} image in status '{row.status}'.")
            row.status, row.updated_at = status, _now()

    # ------------------------------------------------------------- tags
    def add_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        with db.transaction() as s:
            row = self._load(s, ctx, image_id, for_update=True)
            tags = {t.value for t in row.tags}
            if tag not in tags:
                self._check_fields(ctx, {"tags": sorted(tags | {tag})}, row)
                row.tags.append(ImageTag(value=tag))
                row.updated_at = _now()

    def delete_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        with db.transaction() as s:
            row = self._load(s, ctx, image_id, for_update=True)
            for t in row.tags:
                if t.value == tag:
                    row.tags.remove(t)
                    row.updated_at = _now()
                    return
            raise exception.NotFound(resource="Tag", id=tag)

    # ------------------------------------------------------------- members
    @staticmethod
    def _member_view(m: ImageMember) -> dict[str, Any]:
        return {"image_id": m.image_id, "member_id": m.member, "status": m.status,
                "created_at": _iso(m.created_at), "updated_at": _iso(m.updated_at or m.created_at)}

    def add_member(self, ctx: RequestContext, image_id: str, member_id: str) -> dict[str, Any]:
        if not isinstance(member_id, str) or not 0 < len(member_id) <= 255:
            raise exception.ValidationError(field="member", reason="must be a project id")
        with db.transaction() as s:
            row = self._load(s, ctx, image_id, for_update=True)
            if row.visibility != "shared":
                raise exception.Forbidden(f"Image {image_id} has visibility '{row.visibility}'; "
                                          "only images with visibility 'shared' can have members.")
            members = self._members(s, image_id)
            if member_id in members:
                raise exception.Conflict(reason=f"Project {member_id} is already a member of image {image_id}.")
            self._check_quota_len("image_member_quota", "members", len(members) + 1)
            m = ImageMember(image_id=image_id, member=member_id, status="pending", created_at=_now())
            s.add(m)
            s.flush()
            return self._member_view(m)

    def list_members(self, ctx: RequestContext, image_id: str) -> builtins.list[dict[str, Any]]:
        with db.transaction() as s:
            row = self._load(s, ctx, image_id)
            q = sa.select(ImageMember).where(ImageMember.image_id == image_id).order_by(ImageMember.member)
            if not self._can_modify(ctx, row):
                q = q.where(ImageMember.member == ctx.project_id)
            return [self._member_view(m) for m in s.scalars(q).all()]

    def _member_row(self, s: Any, ctx: RequestContext, image_id: str, member_id: str) -> tuple[Image, ImageMember]:
        row = self._load(s, ctx, image_id)
        m = s.scalar(sa.select(ImageMember).where(ImageMember.image_id == image_id, ImageMember.member == member_id))
        if m is None or not (self._can_modify(ctx, row) or member_id == ctx.project_id):
            raise exception.NotFound(resource="Member", id=member_id)
        return row, m

    def get_member(self, ctx: RequestContext, image_id: str, member_id: str) -> dict[str, Any]:
        with db.transaction() as s:
            return self._member_view(self._member_row(s, ctx, image_id, member_id)[1])

    def update_member(self, ctx: RequestContext, image_id: str, member_id: str, status: str) -> dict[str, Any]:
        """Accept, reject or reset a share: only the member project itself (or an admin)."""
        if status not in MEMBER_STATUSES:
            raise exception.ValidationError(field="status", reason=f"{status!r} is not one of {', '.join(MEMBER_STATUSES)}")
        with db.transaction() as s:
            _, m = self._member_row(s, ctx, image_id, member_id)
            if member_id != ctx.project_id and not ctx.is_admin:
                raise exception.Forbidden("Only the member project can change its membership status.")
            m.status, m.updated_at = status, _now()
            s.flush()
            return self._member_view(m)

    def delete_member(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        with db.transaction() as s:
            row, m = self._member_row(s, ctx, image_id, member_id)
            if not self._can_modify(ctx, row):
                raise exception.Forbidden("Only the image owner can remove a member.")
            s.delete(m)

    # ------------------------------------------------------------- data
    def upload(self, ctx: RequestContext, image_id: str, chunks: Iterable[bytes], size: int | None = None,
               checksum: str | None = None) -> dict[str, Any]:
        """Stream ``chunks`` into the default store and make the image active.

        ``size``: the declared length (checked, 400 and killed on mismatch);
        ``checksum``: an md5 hex the data must have (likewise; the image's
        ``owner_specified.openstack.md5``/``sha256`` properties are checked
        too when set). Over ``[image] image_size_cap`` or the project's size
        quota: 413 and the image returns to queued. No bytes stay stored
        after any failure.
        """
        cap = self.conf.image.image_size_cap
        if size is not None and size > cap:
            raise ImageTooLarge(limit=cap)
        token = _process_token()
        with db.transaction() as s:
            row = self._load(s, ctx, image_id, for_update=True)
            if row.status != "queued":
                raise exception.Conflict(reason=f"Image {image_id} has status '{row.status}'; "
                                                "data can be uploaded only to a queued image.")
            if not row.disk_format or not row.container_format:
                raise exception.Invalid(reason="Properties disk_format, container_format must be set prior to "
                                               "saving data.")
            owner = row.owner
            props = {p.name: p.value for p in row.properties}
            store_name = self.conf.image.default_store
            claimed = db.rowcount(s, sa.update(Image).where(Image.id == image_id, Image.status == "queued")
                                     .values(status="saving", upload_host=token, upload_heartbeat=_now(),
                                             store=store_name, updated_at=_now()))
            if not claimed:
                raise exception.Conflict(reason=f"Image {image_id} is already being uploaded.")
        allowance = self._size_allowance(owner, image_id)
        if size is not None and allowance is not None and size > allowance:
            self._restore(image_id, token)
            raise ImageQuotaExceeded(resource="image_size_total", requested=size,
                                     used=self.conf.image.quota_image_size_total * 1024 * 1024 - allowance,
                                     limit=self.conf.image.quota_image_size_total * 1024 * 1024)
        store = self.store(store_name)
        guarded = self._guard(image_id, token, chunks, cap, allowance)
        try:
            stored = store.add(image_id, guarded, expected_size=size, hash_algo=self.conf.image.hashing_algorithm)
        except iface.ImageSizeMismatch as err:
            self._kill(image_id, token)
            raise _DataError(reason=f"Image data size does not match the declared size: {err}") from None
        except BaseException as err:
            self._restore(image_id, token)
            if isinstance(err, iface.ImageExists):
                raise exception.Conflict(reason=f"Data for image {image_id} already exists in the store.") from None
            if isinstance(err, iface.ImageStoreFull):
                raise ImageQuotaExceeded("The image store has no room for this image.", resource="store",
                                         requested=size or 0, used=0, limit=0) from None
            raise
        expected = {"md5": (checksum or props.get("owner_specified.openstack.md5") or "").lower(),
                    "sha256": (props.get("owner_specified.openstack.sha256") or "").lower()}
        mismatch = None
        if expected["md5"] and expected["md5"] != stored.checksum:
            mismatch = f"md5 of the data is {stored.checksum}, expected {expected['md5']}"
        elif expected["sha256"] and stored.os_hash_algo == "sha256" and expected["sha256"] != stored.os_hash_value:
            mismatch = f"sha256 of the data is {stored.os_hash_value}, expected {expected['sha256']}"
        if mismatch:
            self._discard_stored(store, stored.location)
            self._kill(image_id, token)
            raise _DataError(reason=f"Image data checksum mismatch: {mismatch}.")
        with db.transaction() as s:
            done = db.rowcount(s, sa.update(Image).where(Image.id == image_id, Image.status == "saving",
                                                         Image.upload_host == token, Image.deleted == sa.false())
                                  .values(status="active", size=stored.size, checksum=stored.checksum,
                                          os_hash_algo=stored.os_hash_algo, os_hash_value=stored.os_hash_value,
                                          location=stored.location, store=store_name, upload_host=None,
                                          upload_heartbeat=None, updated_at=_now()))
        if not done:
            self._discard_stored(store, stored.location)
            raise exception.Conflict(reason=f"Image {image_id} was deleted or reset during the upload.")
        return self.get(ctx, image_id)

    def _guard(self, image_id: str, token: str, chunks: Iterable[bytes], cap: int,
               allowance: int | None) -> Iterator[bytes]:
        """Pass chunks on, enforcing the cap and quota and marking progress for the dead-upload check."""
        total = 0
        interval = self.conf.image.upload_heartbeat_interval
        last = time.monotonic()
        for chunk in chunks:
            total += len(chunk)
            if total > cap:
                raise ImageTooLarge(limit=cap)
            if allowance is not None and total > allowance:
                raise ImageQuotaExceeded(resource="image_size_total", requested=total, used=0,
                                         limit=self.conf.image.quota_image_size_total * 1024 * 1024)
            now = time.monotonic()
            if now - last >= interval:
                last = now
                self._heartbeat(image_id, token)
            yield chunk

    def _heartbeat(self, image_id: str, token: str) -> None:
        with db.transaction() as s:
            alive = db.rowcount(s, sa.update(Image).where(Image.id == image_id, Image.upload_host == token,
                                                          Image.status == "saving")
                                   .values(upload_heartbeat=_now()))
        if not alive:
            raise exception.Conflict(reason=f"Image {image_id} was deleted or reset during the upload.")

    @staticmethod
    def _discard_stored(store: iface.ImageStore, location: str) -> None:
        try:
            store.delete(location)
        except Exception:
            LOG.exception("Removing rejected image data at %s failed", location)

    def _restore(self, image_id: str, token: str) -> None:
        with db.transaction() as s:
            s.execute(sa.update(Image).where(Image.id == image_id, Image.upload_host == token,
                                             Image.status == "saving")
                      .values(status="queued", upload_host=None, upload_heartbeat=None, store=None,
                              updated_at=_now()))

    def _kill(self, image_id: str, token: str) -> None:
        with db.transaction() as s:
            s.execute(sa.update(Image).where(Image.id == image_id, Image.upload_host == token,
                                             Image.status == "saving")
                      .values(status="killed", upload_host=None, upload_heartbeat=None, updated_at=_now()))

    def add_location(self, ctx: RequestContext, image_id: str, url: str,
                     validation_data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Point a queued image at data that already lives in a (read-only) store, e.g. a web server."""
        name, store = self._store_for_location(url)
        try:
            store.validate_location(url)
            size = store.get_size(url)
        except iface.ImageStoreError as err:
            raise exception.Invalid(reason=f"Location {url} is not allowed: {err}") from None
        validation_data = validation_data or {}
        with db.transaction() as s:
            row = self._load(s, ctx, image_id, for_update=True)
            if row.status != "queued":
                raise exception.Conflict(reason=f"Image {image_id} has status '{row.status}'; "
                                                "a location can be added only to a queued image.")
            row.location, row.store, row.status, row.size = url, name, "active", size
            row.checksum = validation_data.get("checksum")
            row.os_hash_algo = validation_data.get("os_hash_algo")
            row.os_hash_value = validation_data.get("os_hash_value")
            row.updated_at = _now()
            s.flush()
            return self._view(row)

    def open_data(self, ctx: RequestContext, image_id: str, offset: int = 0,
                  length: int | None = None) -> tuple[dict[str, Any], Iterator[bytes] | None]:
        """The image and an iterator over its data (from ``offset``, ``length`` bytes).

        The iterator is None when the image has no data yet. Deactivated
        images: 403 unless admin.
        """
        image = self.get(ctx, image_id)
        if image["status"] == "deactivated" and not ctx.is_admin:
            raise exception.Forbidden("The requested image has been deactivated. Image data download is forbidden.")
        if image["status"] not in ("active", "deactivated") or not image["location"]:
            return image, None
        st = self.store(image["store"]) if image["store"] else self._store_for_location(image["location"])[1]
        try:
            return image, st.get(image["location"], offset, length)
        except iface.ImageDataNotFound:
            raise exception.NotFound(f"The data of image {image_id} is missing from its store.") from None

    def download(self, ctx: RequestContext, image_id: str) -> Iterator[bytes]:
        """The whole image data as an iterator of bytes. Conflict if the image has no data."""
        image, data = self.open_data(ctx, image_id)
        if data is None:
            raise exception.Conflict(reason=f"Image {image_id} has no data (status '{image['status']}').")
        return data

    # ------------------------------------------------------------- recovery
    def cleanup(self) -> int:
        """Reset dead uploads (partial data removed, image back to queued) and delete data of deleted images.

        An upload is dead when the process that runs it is gone (same host:
        its pid does not exist or belongs to an earlier boot of this
        process), or when it has not marked progress for
        ``[image] stale_upload_timeout`` seconds. Returns how many images it fixed.
        """
        from cumulo.conf import CONF

        me = _process_token()
        stale_before = _now() - datetime.timedelta(seconds=self.conf.image.stale_upload_timeout)
        fixed = 0
        with db.transaction() as s:
            saving = s.execute(sa.select(Image.id, Image.upload_host, Image.upload_heartbeat, Image.store)
                               .where(Image.status == "saving")).all()
            trash = s.execute(sa.select(Image.id, Image.store, Image.location)
                              .where(Image.deleted == sa.true(), Image.location.is_not(None))).all()
        for image_id, holder, beat, store_name in saving:
            host, _, rest = (holder or "").partition(":")
            pid_text, _, boot = rest.partition(":")
            dead = holder is None or beat is None or beat < stale_before
            if holder != me and host == CONF.host:
                # Same host: the process that holds the upload must still exist.
                if not pid_text.isdigit() or not _pid_alive(int(pid_text)):
                    dead = True
                elif int(pid_text) == os.getpid() and boot != _BOOT:
                    dead = True
            if not dead:
                continue
            try:
                if store_name:
                    self.store(store_name).discard(image_id)
            except Exception:
                LOG.exception("Removing partial data of image %s failed", image_id)
                continue
            with db.transaction() as s:
                fixed += db.rowcount(s, sa.update(Image).where(Image.id == image_id, Image.status == "saving",
                                                               Image.upload_host == holder)
                                        .values(status="queued", upload_host=None, upload_heartbeat=None,
                                                store=None, location=None, updated_at=_now()))
            LOG.warning("Image %s was left in 'saving' by a dead upload (%s); back to queued", image_id, holder)
        for image_id, store_name, location in trash:
            if location is None:  # excluded by the query (the column is nullable)
                continue
            self._delete_data(image_id, store_name, location)
            fixed += 1
        return fixed


def start(hub: Any) -> list[Any]:
    """At start: load the default store (a wrong name stops ``cumulo up`` with the names available),
    reset uploads that died with an earlier process, then check periodically."""
    from cumulo.service import PeriodicTask

    hub.image.store()
    try:
        hub.image.cleanup()
    except Exception:
        LOG.exception("Image cleanup at start failed")
    task = PeriodicTask(lambda: hub.image.cleanup(), hub.conf.image.cleanup_interval, "image-cleanup")
    return [task.start()]
