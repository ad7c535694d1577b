"""Generic volume groups (Cinder 3.11-3.20): group types with group specs, groups of volumes of listed
volume types, group snapshots (a snapshot of each volume of a group), and groups made from a group
snapshot or from another group.

Statuses: a group is ``available`` once made (``creating`` while its volumes from a source are made,
``error`` when one of them fails), ``updating`` while volumes are added or removed, ``deleting``; a
group snapshot ``available`` (``error`` when a snapshot failed) and ``deleting``. Every driver call
goes through the volume and snapshot components, so groups inherit their checks, quotas and locks.
A group with volumes is deleted only with ``delete-volumes``; a group with group snapshots is not.
"""

from __future__ import annotations

import builtins
import json
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from cumulo import db, exception, policy
from cumulo.context import RequestContext
from cumulo_service_volume import listing
from cumulo_service_volume.common import as_bool, as_metadata, as_text, iso, may_see, now
from cumulo_service_volume.models import Group, GroupSnapshot, GroupType, GroupTypeSpec, Snapshot, Volume
from cumulo_service_volume.quotas import Quotas
from cumulo_service_volume.snapshots import Snapshots
from cumulo_service_volume.voltypes import VolumeTypes
from cumulo_service_volume.volumes import Volumes

GROUP_STATUSES = ("creating", "available", "updating", "deleting", "error", "error_deleting", "in-use")
GROUP_SNAPSHOT_STATUSES = ("creating", "available", "deleting", "error", "error_deleting")


class GroupTypeNotFound(exception.NotFound):
    """No such group type, or the caller may not see it."""


class GroupNotFound(exception.NotFound):
    """No such group, or the caller may not see it."""


class GroupSnapshotNotFound(exception.NotFound):
    """No such group snapshot, or the caller may not see it."""


def group_type_view(row: GroupType, with_specs: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row.id, "name": row.name, "description": row.description,
                           "is_public": row.is_public}
    if with_specs:
        out["group_specs"] = {sp.key: sp.value for sp in row.specs}
    return out


def group_view(row: Group, volume_ids: builtins.list[str]) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "description": row.description, "status": row.status,
            "availability_zone": row.availability_zone, "created_at": iso(row.created_at),
            "group_type": row.group_type_id, "volume_types": json.loads(row.volume_type_ids),
            "group_snapshot_id": row.group_snapshot_id, "source_group_id": row.source_group_id,
            "project_id": row.project_id, "volumes": volume_ids, "replication_status": None}


def group_snapshot_view(row: GroupSnapshot) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "description": row.description, "status": row.status,
            "created_at": iso(row.created_at), "group_id": row.group_id, "group_type_id": row.group_type_id,
            "project_id": row.project_id}


def _members(s: orm.Session, group_id: str) -> builtins.list[Volume]:
    return list(s.execute(sa.select(Volume).where(Volume.group_id == group_id, Volume.deleted == sa.false())
                          .order_by(Volume.created_at)).scalars())


def _id_list(value: Any, field: str) -> builtins.list[str]:
    """Cinder's ``add_volumes``/``remove_volumes``: ids separated by commas."""
    if value is None or value == "":
        return []
    if not isinstance(value, str):
        raise exception.ValidationError(field=field, reason="must be volume ids separated by commas")
    return [v.strip() for v in value.split(",") if v.strip()]


class GroupTypes:
    """Group types and their group specs (administrators manage them; everyone lists the public ones)."""

    @staticmethod
    def _visible(ctx: RequestContext, row: GroupType) -> bool:
        return ctx.is_admin or row.is_public

    def find(self, s: orm.Session, ctx: RequestContext, ref: Any) -> GroupType:
        if not isinstance(ref, str) or not ref:
            raise exception.ValidationError(field="group_type", reason="is required")
        row = s.get(GroupType, ref) or s.execute(sa.select(GroupType).where(GroupType.name == ref)).scalar_one_or_none()
        if row is None or not self._visible(ctx, row):
            raise GroupTypeNotFound(f"Group type {ref} could not be found.")
        return row

    def create(self, ctx: RequestContext, name: Any, description: Any = None, is_public: Any = True,
               group_specs: Any = None) -> dict[str, Any]:
        policy.authorize(ctx, "group:group_types_manage")
        title = as_text(name, "name", allow_none=False)
        if not title or not title.strip():
            raise exception.ValidationError(field="name", reason="must not be empty")
        text = as_text(description, "description", maximum=65535)
        public = as_bool(is_public, "is_public")
        specs = as_metadata(group_specs, "group_specs")
        with db.transaction() as s:
            if s.execute(sa.select(GroupType.id).where(GroupType.name == title)).first() is not None:
                raise exception.Conflict(f"Group type with name {title} already exists.")
            row = GroupType(id=str(uuid.uuid4()), name=title, description=text, is_public=public, created_at=now())
            row.specs = [GroupTypeSpec(key=k, value=v) for k, v in specs.items()]
            s.add(row)
            s.flush()
            return group_type_view(row, True)

    def list(self, ctx: RequestContext, is_public: Any = None,
             sort_params: dict[str, Any] | None = None) -> builtins.list[dict[str, Any]]:
        """Public types (with ``is_public=None`` text, every type for admins; ``false`` the private ones)."""
        policy.authorize(ctx, "group:get_all_group_types")
        wanted: bool | None = True
        if is_public is not None:
            text = str(is_public).strip().lower()
            wanted = None if text in ("none", "") else as_bool(is_public, "is_public")
        if not ctx.is_admin:
            wanted = True
        sort = listing.parse_sort(sort_params or {}, ("created_at", "id", "name", "description", "is_public"))
        with db.reader() as s:
            rows = [r for r in s.execute(sa.select(GroupType)).scalars() if wanted is None or r.is_public == wanted]
            items = [group_type_view(r, ctx.is_admin) | {"created_at": iso(r.created_at)} for r in rows]
        items = listing.sort_items(items, sort)
        return [{k: v for k, v in i.items() if k != "created_at"} for i in items]

    def get(self, ctx: RequestContext, ref: str) -> dict[str, Any]:
        policy.authorize(ctx, "group:get_group_type")
        with db.reader() as s:
            return group_type_view(self.find(s, ctx, ref), ctx.is_admin)

    def update(self, ctx: RequestContext, ref: str, changes: dict[str, Any]) -> dict[str, Any]:
        policy.authorize(ctx, "group:group_types_manage")
        if not set(changes) & {"name", "description", "is_public"}:
            raise exception.Invalid(reason="Specify group type name, description or is_public or a combination "
                                           "thereof.")
        with db.transaction() as s:
            row = self.find(s, ctx, ref)
            if "name" in changes:
                title = as_text(changes["name"], "name", allow_none=False)
                if not title or not title.strip():
                    raise exception.ValidationError(field="name", reason="must not be empty")
                clash = s.execute(sa.select(GroupType.id).where(GroupType.name == title,
                                                                 GroupType.id != row.id)).first()
                if clash is not None:
                    raise exception.Conflict(f"Group type with name {title} already exists.")
                row.name = title
            if "description" in changes:
                row.description = as_text(changes["description"], "description", maximum=65535)
            if "is_public" in changes:
                row.is_public = as_bool(changes["is_public"], "is_public")
            row.updated_at = now()
            s.flush()
            return group_type_view(row, True)

    def delete(self, ctx: RequestContext, ref: str) -> None:
        policy.authorize(ctx, "group:group_types_manage")
        with db.transaction() as s:
            row = self.find(s, ctx, ref)
            used = s.execute(sa.select(Group.id).where(Group.group_type_id == row.id,
                                                       Group.deleted == sa.false())).first()
            if used is not None:
                raise exception.Invalid(reason=f"Group type {row.id} is in use by group {used[0]}.")
            s.delete(row)

    def specs(self, ctx: RequestContext, ref: str) -> dict[str, str]:
        policy.authorize(ctx, "group:group_types_specs")
        with db.reader() as s:
            return {sp.key: sp.value for sp in self.find(s, ctx, ref).specs}

    def spec(self, ctx: RequestContext, ref: str, key: str) -> dict[str, str]:
        found = self.specs(ctx, ref)
        if key not in found:
            raise exception.NotFound(f"Group type {ref} has no group spec with key {key}.")
        return {key: found[key]}

    def set_specs(self, ctx: RequestContext, ref: str, specs: Any) -> dict[str, str]:
        """Create or update the given specs; answers with those given, as Cinder does."""
        policy.authorize(ctx, "group:group_types_specs")
        given = as_metadata(specs, "group_specs")
        if not given:
            raise exception.ValidationError(field="group_specs", reason="must not be empty")
        with db.transaction() as s:
            row = self.find(s, ctx, ref)
            have = {sp.key: sp for sp in row.specs}
            for key, value in given.items():
                if key in have:
                    have[key].value = value
                else:
                    row.specs.append(GroupTypeSpec(key=key, value=value))
            row.updated_at = now()
        return given

    def delete_spec(self, ctx: RequestContext, ref: str, key: str) -> None:
        policy.authorize(ctx, "group:group_types_specs")
        with db.transaction() as s:
            row = self.find(s, ctx, ref)
            found = [sp for sp in row.specs if sp.key == key]
            if not found:
                raise exception.NotFound(f"Group type {ref} has no group spec with key {key}.")
            row.specs.remove(found[0])


class Groups:
    """Groups and group snapshots, on the volume and snapshot components."""

    def __init__(self, conf: Any, group_types: GroupTypes, vtypes: VolumeTypes, volumes: Volumes,
                 snapshots: Snapshots, quotas: Quotas) -> None:
        self.conf = conf
        self.group_types = group_types
        self.vtypes = vtypes
        self.volumes = volumes
        self.snapshots = snapshots
        self.quotas = quotas

    # -- groups
    @staticmethod
    def _load(s: orm.Session, ctx: RequestContext, group_id: str) -> Group:
        row = s.get(Group, group_id)
        if row is None or row.deleted or not may_see(ctx, row.project_id):
            raise GroupNotFound(resource="Group", id=group_id)
        return row

    def get(self, ctx: RequestContext, group_id: str) -> dict[str, Any]:
        with db.reader() as s:
            row = self._load(s, ctx, group_id)
            policy.authorize(ctx, "group:get", {"project_id": row.project_id})
            return group_view(row, [v.id for v in _members(s, row.id)])

    def list(self, ctx: RequestContext, filters: dict[str, Any], sort_params: dict[str, Any] | None = None,
             limit: int | None = None, marker: str | None = None,
             offset: int | None = None) -> tuple[builtins.list[dict[str, Any]], int]:
        policy.authorize(ctx, "group:get_all", {"project_id": ctx.project_id})
        filters = dict(filters)
        all_tenants = ctx.is_admin and as_bool(filters.pop("all_tenants", "false") or "true", "all_tenants")
        sort = listing.parse_sort(sort_params or {}, ("created_at", "id", "name", "status"))
        with db.reader() as s:
            q = sa.select(Group).where(Group.deleted == sa.false())
            if not all_tenants:
                q = q.where(Group.project_id == ctx.project_id)
            items = [group_view(r, [v.id for v in _members(s, r.id)]) for r in s.execute(q).scalars()]
        match = listing.matcher(filters, {"name": str, "status": str, "id": str})
        items = listing.sort_items([i for i in items if match(i)], sort)
        return listing.page(items, marker, limit, offset, "groups"), len(items)

    def create(self, ctx: RequestContext, fields: dict[str, Any]) -> dict[str, Any]:
        """A group (``name``, ``description``, ``group_type``, ``volume_types`` ids or names,
        ``availability_zone``); it is available at once."""
        policy.authorize(ctx, "group:create", {"project_id": ctx.project_id})
        name = as_text(fields.get("name"), "name")
        description = as_text(fields.get("description"), "description", maximum=65535)
        types = fields.get("volume_types")
        if not isinstance(types, list) or not types or not all(isinstance(t, str) and t for t in types):
            raise exception.ValidationError(field="volume_types", reason="must be a non-empty list of volume types")
        zone = fields.get("availability_zone") or self.conf.volume.storage_availability_zone
        if zone != self.conf.volume.storage_availability_zone:
            raise exception.Invalid(reason=f"Availability zone '{zone}' is invalid.")
        with db.transaction() as s:
            gtype = self.group_types.find(s, ctx, fields.get("group_type"))
            type_ids = [self.vtypes.find(s, ctx, t).id for t in types]
            return self._record(s, ctx, gtype.id, type_ids, name, description, zone)

    def _record(self, s: orm.Session, ctx: RequestContext, group_type_id: str, type_ids: builtins.list[str],
                name: str | None, description: str | None, zone: str, status: str = "available",
                group_snapshot_id: str | None = None, source_group_id: str | None = None) -> dict[str, Any]:
        self.quotas.check(s, ctx.project_id or "", groups=1)
        row = Group(id=str(uuid.uuid4()), project_id=ctx.project_id or "", user_id=ctx.user_id, name=name,
                    description=description, status=status, group_type_id=group_type_id,
                    volume_type_ids=json.dumps(type_ids), availability_zone=zone,
                    host=self.volumes.backend.host, group_snapshot_id=group_snapshot_id,
                    source_group_id=source_group_id, deleted=False, created_at=now())
        s.add(row)
        s.flush()
        return group_view(row, [])

    def create_from_source(self, ctx: RequestContext, fields: dict[str, Any]) -> dict[str, Any]:
        """A group made from a group snapshot (``group_snapshot_id``: a volume from each snapshot) or from a
        group (``source_group_id``: a clone of each volume), of the same types."""
        policy.authorize(ctx, "group:create", {"project_id": ctx.project_id})
        snap_id, source_id = fields.get("group_snapshot_id"), fields.get("source_group_id")
        if bool(snap_id) == bool(source_id):
            raise exception.Invalid(reason="Give either group_snapshot_id or source_group_id.")
        name = as_text(fields.get("name"), "name")
        description = as_text(fields.get("description"), "description", maximum=65535)
        sources: builtins.list[tuple[str | None, str | None, str | None]] = []  # (volume type id, snapshot, volume)
        with db.transaction() as s:
            if snap_id:
                gsnap = self._load_snapshot(s, ctx, str(snap_id))
                if gsnap.status != "available":
                    raise exception.Invalid(reason=f"Group snapshot {snap_id} status must be available, not "
                                                   f"'{gsnap.status}'.")
                origin = s.get(Group, gsnap.group_id)
                snaps = s.execute(sa.select(Snapshot).where(Snapshot.group_snapshot_id == gsnap.id,
                                                            Snapshot.deleted == sa.false())).scalars()
                for sn in snaps:
                    parent = s.get(Volume, sn.volume_id)
                    sources.append((parent.volume_type_id if parent is not None else None, sn.id, None))
            else:
                origin = self._load(s, ctx, str(source_id))
                if origin.status != "available":
                    raise exception.Invalid(reason=f"Source group {source_id} status must be available, not "
                                                   f"'{origin.status}'.")
                sources = [(v.volume_type_id, None, v.id) for v in _members(s, origin.id)]
            if origin is None:
                raise GroupNotFound(resource="Group", id=str(snap_id))
            made = self._record(s, ctx, origin.group_type_id, json.loads(origin.volume_type_ids), name,
                                description, origin.availability_zone or self.conf.volume.storage_availability_zone,
                                status="creating", group_snapshot_id=str(snap_id) if snap_id else None,
                                source_group_id=str(source_id) if source_id else None)
        status = "available"
        for type_id, snapshot_id, volume_id in sources:
            vol = self.volumes.create(ctx, {"snapshot_id": snapshot_id, "source_volid": volume_id,
                                            "volume_type": type_id, "group_id": made["id"]})
            if vol["status"] != "available":
                status = "error"
        self._set_status(made["id"], status)
        return self.get(ctx, made["id"])

    @staticmethod
    def _set_status(group_id: str, status: str) -> None:
        with db.transaction() as s:
            row = s.get(Group, group_id)
            if row is not None:
                row.status, row.updated_at = status, now()

    def update(self, ctx: RequestContext, group_id: str, changes: dict[str, Any]) -> None:
        """Rename, describe, add and remove volumes (ids separated by commas)."""
        allowed = {"name", "description", "add_volumes", "remove_volumes"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise exception.ValidationError(field="group", reason=f"cannot update {', '.join(unknown)}")
        if not changes:
            raise exception.Invalid(reason="Name, description, add_volumes, and remove_volumes can not be all "
                                           "empty in the request body.")
        add, remove = _id_list(changes.get("add_volumes"), "add_volumes"), _id_list(changes.get("remove_volumes"),
                                                                                    "remove_volumes")
        with db.transaction() as s:
            row = self._load(s, ctx, group_id)
            policy.authorize(ctx, "group:update", {"project_id": row.project_id})
            if row.status != "available":
                raise exception.Invalid(reason=f"Group {group_id} status must be available to update it, not "
                                               f"'{row.status}'.")
            if "name" in changes:
                row.name = as_text(changes["name"], "name")
            if "description" in changes:
                row.description = as_text(changes["description"], "description", maximum=65535)
            types = json.loads(row.volume_type_ids)
            for vid in add:
                vol = s.get(Volume, vid)
                if vol is None or vol.deleted or vol.project_id != row.project_id:
                    raise exception.Invalid(reason=f"Cannot add volume {vid} to group {group_id}: it was not found.")
                if vol.group_id not in (None, row.id):
                    raise exception.Invalid(reason=f"Cannot add volume {vid} to group {group_id}: it is in group "
                                                   f"{vol.group_id}.")
                if vol.volume_type_id not in types:
                    raise exception.Invalid(reason=f"Cannot add volume {vid} to group {group_id}: its volume type is "
                                                   "not one of the group's.")
                if vol.status not in ("available", "in-use"):
                    raise exception.Invalid(reason=f"Cannot add volume {vid} to group {group_id}: its status is "
                                                   f"'{vol.status}'.")
                vol.group_id = row.id
            for vid in remove:
                vol = s.get(Volume, vid)
                if vol is None or vol.deleted or vol.group_id != row.id:
                    raise exception.Invalid(reason=f"Cannot remove volume {vid} from group {group_id}: it is not in "
                                                   "the group.")
                vol.group_id = None
            row.updated_at = now()

    def delete(self, ctx: RequestContext, group_id: str, delete_volumes: Any = False) -> None:
        """Delete the group; its volumes too with ``delete_volumes`` (refused otherwise while it has any)."""
        with_volumes = as_bool(delete_volumes, "delete-volumes")
        with db.transaction() as s:
            row = self._load(s, ctx, group_id)
            policy.authorize(ctx, "group:delete", {"project_id": row.project_id})
            if row.status not in ("available", "error"):
                raise exception.Invalid(reason=f"Group {group_id} status must be available or error to delete it, "
                                               f"not '{row.status}'.")
            members = [v.id for v in _members(s, row.id)]
            if members and not with_volumes:
                raise exception.Invalid(reason=f"Group {group_id} still contains volumes: delete it with "
                                               "delete-volumes.")
            if s.execute(sa.select(GroupSnapshot.id).where(GroupSnapshot.group_id == row.id,
                                                           GroupSnapshot.deleted == sa.false())).first():
                raise exception.Invalid(reason=f"Group {group_id} has group snapshots: delete them first.")
            row.status = "deleting"
        try:
            for vid in members:
                self.volumes.delete(ctx, vid, cascade=True)
        except exception.CumuloError:
            self._set_status(group_id, "error")
            raise
        with db.transaction() as s:
            found = s.get(Group, group_id)
            if found is not None:
                found.status, found.deleted, found.deleted_at = "deleted", True, now()

    def reset_status(self, ctx: RequestContext, group_id: str, status: Any) -> None:
        with db.transaction() as s:
            row = self._load(s, ctx, group_id)
            policy.authorize(ctx, "group:reset_status", {"project_id": row.project_id})
            if status not in GROUP_STATUSES:
                raise exception.ValidationError(field="status", reason=f"'{status}' is not a group status")
            row.status, row.updated_at = str(status), now()

    # -- group snapshots
    @staticmethod
    def _load_snapshot(s: orm.Session, ctx: RequestContext, snapshot_id: str) -> GroupSnapshot:
        row = s.get(GroupSnapshot, snapshot_id)
        if row is None or row.deleted or not may_see(ctx, row.project_id):
            raise GroupSnapshotNotFound(resource="Group snapshot", id=snapshot_id)
        return row

    def get_snapshot(self, ctx: RequestContext, snapshot_id: str) -> dict[str, Any]:
        with db.reader() as s:
            row = self._load_snapshot(s, ctx, snapshot_id)
            policy.authorize(ctx, "group:get_group_snapshot", {"project_id": row.project_id})
            return group_snapshot_view(row)

    def list_snapshots(self, ctx: RequestContext, filters: dict[str, Any], sort_params: dict[str, Any] | None = None,
                       limit: int | None = None, marker: str | None = None,
                       offset: int | None = None) -> tuple[builtins.list[dict[str, Any]], int]:
        policy.authorize(ctx, "group:get_all_group_snapshots", {"project_id": ctx.project_id})
        filters = dict(filters)
        all_tenants = ctx.is_admin and as_bool(filters.pop("all_tenants", "false") or "true", "all_tenants")
        sort = listing.parse_sort(sort_params or {}, ("created_at", "id", "name", "status", "group_id"))
        with db.reader() as s:
            q = sa.select(GroupSnapshot).where(GroupSnapshot.deleted == sa.false())
            if not all_tenants:
                q = q.where(GroupSnapshot.project_id == ctx.project_id)
            items = [group_snapshot_view(r) for r in s.execute(q).scalars()]
        match = listing.matcher(filters, {"name": str, "status": str, "id": str, "group_id": str})
        items = listing.sort_items([i for i in items if match(i)], sort)
        return listing.page(items, marker, limit, offset, "group_snapshots"), len(items)

    def create_snapshot(self, ctx: RequestContext, group_id: Any, name: Any = None,
                        description: Any = None) -> dict[str, Any]:
        """A snapshot of every volume of the group (in-use ones too, as Cinder's group snapshots)."""
        if not isinstance(group_id, str) or not group_id:
            raise exception.ValidationError(field="group_id", reason="is required")
        title = as_text(name, "name")
        text = as_text(description, "description", maximum=65535)
        with db.transaction() as s:
            group = self._load(s, ctx, group_id)
            policy.authorize(ctx, "group:create_group_snapshot", {"project_id": group.project_id})
            if group.status != "available":
                raise exception.Invalid(reason=f"Group {group_id} status must be available to snapshot it, not "
                                               f"'{group.status}'.")
            row = GroupSnapshot(id=str(uuid.uuid4()), group_id=group.id, project_id=group.project_id,
                                user_id=ctx.user_id, name=title, description=text, status="creating",
                                group_type_id=group.group_type_id, deleted=False, created_at=now())
            s.add(row)
            members = [v.id for v in _members(s, group.id)]
            s.flush()
            snapshot_id = row.id
        status = "available"
        for vid in members:
            try:
                made = self.snapshots.create(ctx, vid, name=title, description=text, force=True)
            except exception.CumuloError:
                status = "error"
                continue
            with db.transaction() as s:
                sn = s.get(Snapshot, made["id"])
                if sn is not None:
                    sn.group_snapshot_id = snapshot_id
            if made["status"] != "available":
                status = "error"
        with db.transaction() as s:
            found = s.get(GroupSnapshot, snapshot_id)
            assert found is not None
            found.status, found.updated_at = status, now()
            return group_snapshot_view(found)

    def delete_snapshot(self, ctx: RequestContext, snapshot_id: str) -> None:
        """Delete the group snapshot and the volume snapshots it holds."""
        with db.transaction() as s:
            row = self._load_snapshot(s, ctx, snapshot_id)
            policy.authorize(ctx, "group:delete_group_snapshot", {"project_id": row.project_id})
            if row.status not in ("available", "error"):
                raise exception.Invalid(reason=f"Group snapshot {snapshot_id} status must be available or error to "
                                               f"delete it, not '{row.status}'.")
            snaps = [sn.id for sn in s.execute(sa.select(Snapshot).where(
                Snapshot.group_snapshot_id == row.id, Snapshot.deleted == sa.false())).scalars()]
            row.status = "deleting"
        try:
            for sid in snaps:
                self.snapshots.delete(ctx, sid, force=ctx.is_admin)
        except exception.CumuloError:
            with db.transaction() as s:
                found = s.get(GroupSnapshot, snapshot_id)
                if found is not None:
                    found.status = "error_deleting"
            raise
        with db.transaction() as s:
            found = s.get(GroupSnapshot, snapshot_id)
            if found is not None:
                found.status, found.deleted, found.deleted_at = "deleted", True, now()

    def reset_snapshot_status(self, ctx: RequestContext, snapshot_id: str, status: Any) -> None:
        with db.transaction() as s:
            row = self._load_snapshot(s, ctx, snapshot_id)
            policy.authorize(ctx, "group:reset_group_snapshot_status", {"project_id": row.project_id})
            if status not in GROUP_SNAPSHOT_STATUSES:
                raise exception.ValidationError(field="status", reason=f"'{status}' is not a group snapshot status")
            row.status, row.updated_at = str(status), now()
