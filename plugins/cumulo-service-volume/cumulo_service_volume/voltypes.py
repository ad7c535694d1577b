"""Volume types: names with extra specs (matched against the backend), public or shared with projects.

The default type (``[volume] default_volume_type``, ``__DEFAULT__``) is made
at first use, as Cinder has one since Train; a volume always has a type.
"""

from __future__ import annotations

import builtins
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from cumulo import db, exception, policy
from cumulo.context import RequestContext
from cumulo_service_volume import quotas
from cumulo_service_volume.common import TypeNotFound, as_bool, as_metadata, as_text, iso, now
from cumulo_service_volume.models import Volume, VolumeType, VolumeTypeExtraSpec, VolumeTypeProject


def type_view(row: VolumeType, with_specs: bool) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "description": row.description, "is_public": row.is_public,
            "extra_specs": {s.key: s.value for s in row.extra_specs} if with_specs else None,
            "projects": [p.project_id for p in row.projects], "qos_specs_id": row.qos_specs_id,
            "created_at": iso(row.created_at), "updated_at": iso(row.updated_at)}


class VolumeTypes:
    """The volume type records and who may use them."""

    def __init__(self, conf: Any) -> None:
        self.conf = conf

    # -- lookups in the caller's session
    @staticmethod
    def _visible(ctx: RequestContext, row: VolumeType) -> bool:
        return ctx.is_admin or row.is_public or any(p.project_id == ctx.project_id for p in row.projects)

    def find(self, s: orm.Session, ctx: RequestContext, ref: str) -> VolumeType:
        """A type the caller may use, by id or name; 404 otherwise."""
        row = s.get(VolumeType, ref)
        if row is None:
            row = s.execute(sa.select(VolumeType).where(VolumeType.name == ref)).scalar_one_or_none()
        if row is None or not self._visible(ctx, row):
            raise TypeNotFound(f"Volume type {ref} could not be found.")
        return row

    def default(self, s: orm.Session) -> VolumeType:
        """The default type, made when missing."""
        name = self.conf.volume.default_volume_type
        row = s.execute(sa.select(VolumeType).where(VolumeType.name == name)).scalar_one_or_none()
        if row is None:
            row = VolumeType(id=str(uuid.uuid4()), name=name, description="Default Volume Type", is_public=True,
                             created_at=now())
            s.add(row)
            s.flush()
        return row

    def resolve(self, s: orm.Session, ctx: RequestContext, ref: str | None) -> VolumeType:
        """The type a new volume gets: ``ref`` (id or name) or the default. 404 for one the caller cannot use."""
        return self.default(s) if not ref else self.find(s, ctx, ref)

    # -- API
    def _specs_visible(self, ctx: RequestContext) -> bool:
        return policy.check(ctx, "volume_extension:access_types_extra_specs")

    def list(self, ctx: RequestContext, is_public: Any = None) -> list[dict[str, Any]]:
        policy.authorize(ctx, "volume_extension:type_get_all")
        with db.transaction() as s:
            self.default(s)
            rows = s.execute(sa.select(VolumeType).order_by(VolumeType.name)).scalars().all()
            public = None if is_public in (None, "None", "none") else as_bool(is_public, "is_public")
            out = []
            for row in rows:
                if not self._visible(ctx, row):
                    continue
                if ctx.is_admin and public is not None and row.is_public != public:
                    continue
                if not ctx.is_admin and public is False and row.is_public:
                    continue
                out.append(type_view(row, self._specs_visible(ctx)))
            return out

    def get(self, ctx: RequestContext, ref: str) -> dict[str, Any]:
        policy.authorize(ctx, "volume_extension:type_get")
        with db.transaction() as s:
            if ref == "default":
                return type_view(self.default(s), self._specs_visible(ctx))
            return type_view(self.find(s, ctx, ref), self._specs_visible(ctx))

    def create(self, ctx: RequestContext, name: Any, description: Any = None, is_public: Any = True,
               extra_specs: Any = None) -> dict[str, Any]:
        policy.authorize(ctx, "volume_extension:types_manage")
        name = as_text(name, "name", allow_none=False)
        if not name or not name.strip():
            raise exception.ValidationError(field="name", reason="must not be empty")
        description = as_text(description, "description")
        public = as_bool(is_public, "os-volume-type-access:is_public")
        specs = as_metadata(extra_specs, "extra_specs")
        with db.transaction() as s:
            if s.execute(sa.select(VolumeType.id).where(VolumeType.name == name)).first() is not None:
                raise exception.Conflict(reason=f"Volume Type {name} already exists.")
            row = VolumeType(id=str(uuid.uuid4()), name=name, description=description, is_public=public,
                             created_at=now())
            row.extra_specs = [VolumeTypeExtraSpec(key=k, value=v) for k, v in specs.items()]
            s.add(row)
            s.flush()
            return type_view(row, True)

    def update(self, ctx: RequestContext, ref: str, changes: dict[str, Any]) -> dict[str, Any]:
        policy.authorize(ctx, "volume_extension:types_manage")
        with db.transaction() as s:
            row = self.find(s, ctx, ref)
            if "name" in changes and changes["name"] is not None:
                name = as_text(changes["name"], "name", allow_none=False)
                if not name or not name.strip():
                    raise exception.ValidationError(field="name", reason="must not be empty")
                clash = s.execute(sa.select(VolumeType.id).where(VolumeType.name == name,
                                                                 VolumeType.id != row.id)).first()
                if clash is not None:
                    raise exception.Conflict(reason=f"Volume Type {name} already exists.")
                row.name = name
            if "description" in changes:
                row.description = as_text(changes["description"], "description")
            if changes.get("is_public") is not None:
                row.is_public = as_bool(changes["is_public"], "is_public")
            row.updated_at = now()
            s.flush()
            return type_view(row, True)

    def delete(self, ctx: RequestContext, ref: str) -> None:
        policy.authorize(ctx, "volume_extension:types_manage")
        with db.transaction() as s:
            row = self.find(s, ctx, ref)
            if row.name == self.conf.volume.default_volume_type:
                raise exception.Invalid(reason="The default volume type cannot be deleted.")
            used = s.execute(sa.select(sa.func.count(Volume.id)).where(
                Volume.volume_type_id == row.id, Volume.deleted == sa.false())).scalar_one()
            if used:
                raise exception.Invalid(reason=f"Target volume type {row.name} is still in use by {used} volume(s).")
            s.execute(sa.update(Volume).where(Volume.volume_type_id == row.id).values(volume_type_id=None))
            quotas.drop_type(s, row.id)  # its volumes_<t>... go with it
            s.delete(row)

    # -- extra specs
    def extra_specs(self, ctx: RequestContext, ref: str) -> dict[str, str]:
        policy.authorize(ctx, "volume_extension:types_extra_specs:index")
        with db.reader() as s:
            row = self.find(s, ctx, ref)
            if not self._specs_visible(ctx):
                return {}
            return {e.key: e.value for e in row.extra_specs}

    def extra_spec(self, ctx: RequestContext, ref: str, key: str) -> dict[str, str]:
        policy.authorize(ctx, "volume_extension:types_extra_specs:show")
        specs = self.extra_specs(ctx, ref)
        if key not in specs:
            raise exception.NotFound(f"Volume Type {ref} has no extra specs with key {key}.")
        return {key: specs[key]}

    def set_extra_specs(self, ctx: RequestContext, ref: str, specs: Any) -> dict[str, str]:
        policy.authorize(ctx, "volume_extension:types_extra_specs:create")
        specs = as_metadata(specs, "extra_specs")
        with db.transaction() as s:
            row = self.find(s, ctx, ref)
            self._in_use_check(s, row)
            have = {e.key: e for e in row.extra_specs}
            for key, value in specs.items():
                if key in have:
                    have[key].value = value
                else:
                    row.extra_specs.append(VolumeTypeExtraSpec(key=key, value=value))
            row.updated_at = now()
            return specs

    def delete_extra_spec(self, ctx: RequestContext, ref: str, key: str) -> None:
        policy.authorize(ctx, "volume_extension:types_extra_specs:delete")
        with db.transaction() as s:
            row = self.find(s, ctx, ref)
            found = [e for e in row.extra_specs if e.key == key]
            if not found:
                raise exception.NotFound(f"Volume Type {ref} has no extra specs with key {key}.")
            self._in_use_check(s, row)
            row.extra_specs.remove(found[0])

    @staticmethod
    def _in_use_check(s: orm.Session, row: VolumeType) -> None:
        # Cinder refuses to change the specs of a type volumes use: their backend was chosen by them.
        used = s.execute(sa.select(sa.func.count(Volume.id)).where(
            Volume.volume_type_id == row.id, Volume.deleted == sa.false())).scalar_one()
        if used:
            raise exception.Invalid(reason=f"Volume Type {row.name} is in use by {used} volume(s); its extra "
                                           "specs cannot be changed.")

    # -- access
    def access(self, ctx: RequestContext, ref: str) -> builtins.list[dict[str, str]]:
        policy.authorize(ctx, "volume_extension:volume_type_access")
        with db.reader() as s:
            row = self.find(s, ctx, ref)
            if row.is_public:
                raise exception.NotFound(f"Access list not available for public volume type {row.name}.")
            return [{"volume_type_id": row.id, "project_id": p.project_id} for p in row.projects]

    def add_access(self, ctx: RequestContext, ref: str, project: Any) -> None:
        policy.authorize(ctx, "volume_extension:volume_type_access:addProjectAccess")
        project = as_text(project, "project", allow_none=False)
        with db.transaction() as s:
            row = self.find(s, ctx, ref)
            if row.is_public:
                raise exception.Invalid(reason="Invalid volume type: type access modification is not "
                                               "applicable to public volume type.")
            if any(p.project_id == project for p in row.projects):
                raise exception.Conflict(reason=f"Volume type access for {row.id} / {project} combination "
                                                "already exists.")
            row.projects.append(VolumeTypeProject(project_id=project))

    def remove_access(self, ctx: RequestContext, ref: str, project: Any) -> None:
        policy.authorize(ctx, "volume_extension:volume_type_access:removeProjectAccess")
        project = as_text(project, "project", allow_none=False)
        with db.transaction() as s:
            row = self.find(s, ctx, ref)
            found = [p for p in row.projects if p.project_id == project]
            if not found:
                raise exception.NotFound(f"Volume type access not found for {row.id} / {project} combination.")
            row.projects.remove(found[0])
