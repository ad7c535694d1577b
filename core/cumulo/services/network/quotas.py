"""Per-project quotas of networking resources, and tags on resources."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from cumulo import db
from cumulo.context import RequestContext
from cumulo.db.models import network as models
from cumulo.services.network import common as c
from cumulo.services.network import exceptions as nexc

#: quota resource -> (model, project column) counted for usage.
COUNTED: dict[str, Any] = {
    "network": models.Network, "subnet": models.Subnet, "subnetpool": models.SubnetPool, "port": models.Port,
    "router": models.Router, "floatingip": models.FloatingIP, "security_group": models.SecurityGroup,
    "security_group_rule": models.SecurityGroupRule,
}
RESOURCES = tuple(COUNTED) + ("rbac_policy",)

#: Tag-able collections: API collection name -> (model, not-found error, resource type).
TAGGABLE: dict[str, tuple[Any, type, str]] = {
    "networks": (models.Network, nexc.NetworkNotFound, "network"),
    "subnets": (models.Subnet, nexc.SubnetNotFound, "subnet"),
    "subnetpools": (models.SubnetPool, nexc.SubnetPoolNotFound, "subnetpool"),
    "ports": (models.Port, nexc.PortNotFound, "port"),
    "routers": (models.Router, nexc.RouterNotFound, "router"),
    "floatingips": (models.FloatingIP, nexc.FloatingIPNotFound, "floatingip"),
    "security-groups": (models.SecurityGroup, nexc.SecurityGroupNotFound, "security_group"),
    "security_groups": (models.SecurityGroup, nexc.SecurityGroupNotFound, "security_group"),
}


class QuotaMixin:
    """Mixed into :class:`cumulo.services.network.Service`."""

    def default_quotas(self) -> dict[str, int]:
        q = self.conf.network_quotas
        return {r: int(getattr(q, f"quota_{r}")) for r in RESOURCES}

    def _limits(self, s: orm.Session, project_id: str) -> dict[str, int]:
        limits = self.default_quotas()
        for row in s.execute(sa.select(models.Quota).where(models.Quota.project_id == project_id)).scalars():
            limits[row.resource] = row.limit
        return limits

    def _usage(self, s: orm.Session, project_id: str, resource: str) -> int:
        model = COUNTED.get(resource)
        if model is None:
            return 0
        q = sa.select(sa.func.count()).select_from(model).where(model.project_id == project_id)
        return int(s.execute(q).scalar() or 0)

    def _check_quota(self, s: orm.Session, project_id: str, resource: str, delta: int) -> None:
        limit = self._limits(s, project_id).get(resource, -1)
        if limit < 0:
            return
        if self._usage(s, project_id, resource) + delta > limit:
            raise nexc.OverQuota(overs=resource)

    def _check_project(self, ctx: RequestContext, project_id: str) -> None:
        if not (ctx.is_admin or ctx.project_id == project_id):
            raise nexc.PolicyNotAuthorized(action="get_quota of another project")

    def list_quotas(self, ctx: RequestContext) -> list[dict[str, Any]]:
        c.require_admin(ctx, "get_quota")
        with db.transaction() as s:
            projects = sorted(set(s.execute(sa.select(models.Quota.project_id)).scalars()))
            return [dict(self._limits(s, p), project_id=p, tenant_id=p) for p in projects]

    def get_quota(self, ctx: RequestContext, project_id: str) -> dict[str, int]:
        self._check_project(ctx, project_id)
        with db.transaction() as s:
            return self._limits(s, project_id)

    def get_quota_details(self, ctx: RequestContext, project_id: str) -> dict[str, dict[str, int]]:
        self._check_project(ctx, project_id)
        with db.transaction() as s:
            limits = self._limits(s, project_id)
            return {r: {"limit": limit, "used": self._usage(s, project_id, r), "reserved": 0}
                    for r, limit in limits.items()}

    def update_quota(self, ctx: RequestContext, project_id: str, body: dict[str, Any]) -> dict[str, int]:
        c.require_admin(ctx, "update_quota")
        body = c.check_keys(body, "quota", RESOURCES + ("force", "check_limit"))
        with db.transaction() as s:
            for resource, value in body.items():
                if resource in ("force", "check_limit"):
                    continue
                limit = c.to_int(value, resource, -1, 2**31 - 1)
                row = s.execute(sa.select(models.Quota).where(models.Quota.project_id == project_id,
                                                              models.Quota.resource == resource)).scalar()
                if row is None:
                    s.add(models.Quota(project_id=project_id, resource=resource, limit=limit))
                else:
                    row.limit = limit
            s.flush()
            return self._limits(s, project_id)

    def delete_quota(self, ctx: RequestContext, project_id: str) -> None:
        c.require_admin(ctx, "delete_quota")
        with db.transaction() as s:
            s.execute(sa.delete(models.Quota).where(models.Quota.project_id == project_id))

    # --------------------------------------------------------------------- tags
    def _tag_target(self, s: orm.Session, ctx: RequestContext, collection: str, rid: str, write: bool) -> Any:
        model, notfound, _ = TAGGABLE[collection]
        obj = s.get(model, rid)
        visible = obj is not None and (c.is_owner(ctx, obj.project_id) or (
            model is models.Network and (obj.shared or obj.external) and not write))
        if not visible:
            raise notfound(id=rid)
        return obj

    @staticmethod
    def _tag(value: Any) -> str:
        if not isinstance(value, str) or not value or len(value) > 255 or "," in value or "/" in value:
            raise nexc.InvalidInput(error_message=f"'{value}' is not a valid tag (1-255 characters, no ',' or '/')")
        return value

    def get_tags(self, ctx: RequestContext, collection: str, rid: str) -> list[str]:
        with db.transaction() as s:
            self._tag_target(s, ctx, collection, rid, False)
            return c.tags_of(s, [rid])[rid]

    def replace_tags(self, ctx: RequestContext, collection: str, rid: str, tags: Any) -> list[str]:
        if not isinstance(tags, list):
            raise nexc.InvalidInput(error_message="tags must be a list of strings")
        clean = sorted({self._tag(t) for t in tags})
        with db.transaction() as s:
            obj = self._tag_target(s, ctx, collection, rid, True)
            s.execute(sa.delete(models.Tag).where(models.Tag.resource_id == rid))
            for t in clean:
                s.add(models.Tag(resource_id=rid, tag=t, resource_type=TAGGABLE[collection][2]))
            c.bump(obj)
        return clean

    def add_tag(self, ctx: RequestContext, collection: str, rid: str, tag: str) -> None:
        tag = self._tag(tag)
        with db.transaction() as s:
            obj = self._tag_target(s, ctx, collection, rid, True)
            if s.get(models.Tag, (rid, tag)) is None:
                s.add(models.Tag(resource_id=rid, tag=tag, resource_type=TAGGABLE[collection][2]))
                c.bump(obj)

    def has_tag(self, ctx: RequestContext, collection: str, rid: str, tag: str) -> None:
        with db.transaction() as s:
            self._tag_target(s, ctx, collection, rid, False)
            if s.get(models.Tag, (rid, tag)) is None:
                raise nexc.TagNotFound(tag=tag, resource=TAGGABLE[collection][2], id=rid)

    def remove_tag(self, ctx: RequestContext, collection: str, rid: str, tag: str | None = None) -> None:
        with db.transaction() as s:
            obj = self._tag_target(s, ctx, collection, rid, True)
            if tag is None:
                s.execute(sa.delete(models.Tag).where(models.Tag.resource_id == rid))
            else:
                row = s.get(models.Tag, (rid, tag))
                if row is None:
                    raise nexc.TagNotFound(tag=tag, resource=TAGGABLE[collection][2], id=rid)
                s.delete(row)
            c.bump(obj)
