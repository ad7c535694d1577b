"""Flavors (``hub.compute`` flavor methods): the sizes servers are built with, their extra specs and access lists.

Admin-only operations (create, delete, extra specs, access) are the frontend's policy; here a
private flavor is visible to administrators and to the projects on its access list only.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cumulo import db, exception
from cumulo.context import RequestContext
from cumulo.db.models.base import new_id
from cumulo_service_compute.models import Flavor, FlavorExtraSpec, FlavorProject


def flavor_dict(f: Flavor, extra_specs: dict[str, str] | None = None) -> dict[str, Any]:
    return {"id": f.flavorid, "name": f.name, "vcpus": f.vcpus, "ram": f.memory_mb, "disk": f.root_gb,
            "ephemeral": f.ephemeral_gb, "swap": f.swap, "rxtx_factor": f.rxtx_factor, "is_public": f.is_public,
            "disabled": f.disabled, "description": f.description, "extra_specs": extra_specs or {}}


class Flavors:
    """The flavor records (no dependency on the other components)."""

    def _extra_specs(self, s: Any, flavor_ids: list[int]) -> dict[int, dict[str, str]]:
        out: dict[int, dict[str, str]] = {fid: {} for fid in flavor_ids}
        if flavor_ids:
            for es in s.scalars(sa.select(FlavorExtraSpec).where(FlavorExtraSpec.flavor_id.in_(flavor_ids))):
                out[es.flavor_id][es.key] = es.value
        return out

    def _flavor_row(self, s: Any, ctx: RequestContext, flavor_id: str) -> Flavor:
        row = s.scalar(sa.select(Flavor).where(Flavor.flavorid == str(flavor_id)))
        if row is None or (not row.is_public and not ctx.is_admin and not s.scalar(
                sa.select(FlavorProject).where(FlavorProject.flavor_id == row.id,
                                               FlavorProject.project_id == ctx.project_id))):
            raise exception.NotFound(f"Flavor {flavor_id} could not be found.")
        return row

    def list_flavors(self, ctx: RequestContext, *, is_public: bool | None = True, min_ram: int | None = None,
                     min_disk: int | None = None, sort_key: str = "flavorid", sort_dir: str = "asc",
                     limit: int | None = None, marker: str | None = None) -> list[dict[str, Any]]:
        with db.reader() as s:
            q = sa.select(Flavor).where(Flavor.disabled.is_(False))
            if min_ram:
                q = q.where(Flavor.memory_mb >= min_ram)
            if min_disk:
                q = q.where(Flavor.root_gb >= min_disk)
            rows = s.scalars(q).all()
            allowed = set(s.scalars(sa.select(FlavorProject.flavor_id).where(
                FlavorProject.project_id == ctx.project_id)))
            if is_public is True or (is_public is None and not ctx.is_admin):
                rows = [r for r in rows if r.is_public or r.id in allowed]
            elif is_public is False:
                rows = [r for r in rows if not r.is_public and (ctx.is_admin or r.id in allowed)]
            elif not ctx.is_admin:
                rows = [r for r in rows if r.is_public or r.id in allowed]
            specs = self._extra_specs(s, [r.id for r in rows])
            flavors = [flavor_dict(r, specs[r.id]) for r in rows]
        key = {"flavorid": "id", "id": "id", "name": "name", "memory_mb": "ram", "ram": "ram", "vcpus": "vcpus",
               "root_gb": "disk", "disk": "disk", "swap": "swap", "ephemeral_gb": "ephemeral",
               "rxtx_factor": "rxtx_factor", "is_public": "is_public"}.get(sort_key)
        if key is None:
            raise exception.ValidationError(field="sort_key", reason=f"'{sort_key}' is not a flavor sort key")
        if key == "id":
            flavors.sort(key=lambda f: (0, int(f["id"]), "") if f["id"].isdigit() else (1, 0, f["id"]))
        else:
            flavors.sort(key=lambda f: (f[key], f["id"]))
        if sort_dir == "desc":
            flavors.reverse()
        if marker is not None:
            idx = next((i for i, f in enumerate(flavors) if f["id"] == marker), None)
            if idx is None:
                raise exception.Invalid(reason=f"marker [{marker}] not found")
            flavors = flavors[idx + 1:]
        return flavors[:limit] if limit is not None else flavors

    def get_flavor(self, ctx: RequestContext, flavor_id: str) -> dict[str, Any]:
        with db.reader() as s:
            row = self._flavor_row(s, ctx, flavor_id)
            return flavor_dict(row, self._extra_specs(s, [row.id])[row.id])

    def create_flavor(self, ctx: RequestContext, *, name: str, vcpus: int, ram: int, disk: int,
                      flavorid: str | None = None, ephemeral: int = 0, swap: int = 0, rxtx_factor: float = 1.0,
                      is_public: bool = True, description: str | None = None) -> dict[str, Any]:
        flavorid = str(flavorid) if flavorid not in (None, "", "auto") else new_id()
        try:
            with db.transaction() as s:
                if s.scalar(sa.select(Flavor.id).where(Flavor.name == name)):
                    raise exception.Conflict(f"Flavor with name {name} already exists.")
                if s.scalar(sa.select(Flavor.id).where(Flavor.flavorid == flavorid)):
                    raise exception.Conflict(f"Flavor with ID {flavorid} already exists.")
                row = Flavor(flavorid=flavorid, name=name, vcpus=vcpus, memory_mb=ram, root_gb=disk,
                             ephemeral_gb=ephemeral, swap=swap, rxtx_factor=rxtx_factor, is_public=is_public,
                             disabled=False, description=description)
                s.add(row)
                s.flush()
                return flavor_dict(row)
        except sa.exc.IntegrityError:
            raise exception.Conflict(f"Flavor {name} ({flavorid}) already exists.") from None

    def update_flavor(self, ctx: RequestContext, flavor_id: str, description: str | None) -> dict[str, Any]:
        with db.transaction() as s:
            row = self._flavor_row(s, ctx, flavor_id)
            row.description = description
            return flavor_dict(row, self._extra_specs(s, [row.id])[row.id])

    def delete_flavor(self, ctx: RequestContext, flavor_id: str) -> None:
        with db.transaction() as s:
            row = self._flavor_row(s, ctx, flavor_id)
            s.execute(sa.delete(FlavorExtraSpec).where(FlavorExtraSpec.flavor_id == row.id))
            s.execute(sa.delete(FlavorProject).where(FlavorProject.flavor_id == row.id))
            s.delete(row)

    def get_extra_specs(self, ctx: RequestContext, flavor_id: str) -> dict[str, str]:
        return self.get_flavor(ctx, flavor_id)["extra_specs"]

    def set_extra_specs(self, ctx: RequestContext, flavor_id: str, specs: dict[str, str]) -> dict[str, str]:
        with db.transaction() as s:
            row = self._flavor_row(s, ctx, flavor_id)
            for k, v in specs.items():
                existing = s.get(FlavorExtraSpec, (row.id, k))
                if existing is None:
                    s.add(FlavorExtraSpec(flavor_id=row.id, key=k, value=str(v)))
                else:
                    existing.value = str(v)
        return specs

    def delete_extra_spec(self, ctx: RequestContext, flavor_id: str, key: str) -> None:
        with db.transaction() as s:
            row = self._flavor_row(s, ctx, flavor_id)
            es = s.get(FlavorExtraSpec, (row.id, key))
            if es is None:
                raise exception.NotFound(f"Flavor {flavor_id} has no extra spec with key {key}.")
            s.delete(es)

    def flavor_access(self, ctx: RequestContext, flavor_id: str) -> list[dict[str, str]]:
        with db.transaction() as s:
            row = self._flavor_row(s, ctx, flavor_id)
            if row.is_public:
                raise exception.NotFound("Access list not available for public flavors.")
            return [{"flavor_id": row.flavorid, "tenant_id": p} for p in s.scalars(
                sa.select(FlavorProject.project_id).where(FlavorProject.flavor_id == row.id))]

    def add_flavor_access(self, ctx: RequestContext, flavor_id: str, project_id: str) -> list[dict[str, str]]:
        with db.transaction() as s:
            row = self._flavor_row(s, ctx, flavor_id)
            if row.is_public:
                raise exception.Conflict("Can not add access to a public flavor.")
            if s.get(FlavorProject, (row.id, project_id)):
                raise exception.Conflict(f"Flavor access already exists for flavor {flavor_id} and project "
                                         f"{project_id} combination.")
            s.add(FlavorProject(flavor_id=row.id, project_id=project_id))
        return self.flavor_access(ctx, flavor_id)

    def remove_flavor_access(self, ctx: RequestContext, flavor_id: str, project_id: str) -> list[dict[str, str]]:
        with db.transaction() as s:
            row = self._flavor_row(s, ctx, flavor_id)
            fp = s.get(FlavorProject, (row.id, project_id))
            if fp is None:
                raise exception.NotFound(f"Flavor access not found for {flavor_id} / {project_id} combination.")
            s.delete(fp)
        return self.flavor_access(ctx, flavor_id)
