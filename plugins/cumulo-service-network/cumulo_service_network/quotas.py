"""Per-project quotas of networking resources: the :class:`Quotas` component.

Every component that creates resources checks them here (:meth:`Quotas.check`).
Depends on the configuration (``[network_quotas]``) and the models only.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy import orm

import cumulo.contracts.network as nexc
import cumulo_service_network.common as c
import cumulo_service_network.models as models
from cumulo import db
from cumulo.context import RequestContext

#: quota resource -> (model, project column) counted for usage.
COUNTED: dict[str, Any] = {
    "network": models.Network, "subnet": models.Subnet, "subnetpool": models.SubnetPool, "port": models.Port,
    "router": models.Router, "floatingip": models.FloatingIP, "security_group": models.SecurityGroup,
    "security_group_rule": models.SecurityGroupRule,
}
RESOURCES = tuple(COUNTED) + ("rbac_policy",)


class Quotas:
    """Limits (defaults from ``[network_quotas]``, per-project overrides) and usage counts."""

    #: What ``hub.network`` offers of this component.
    API = ("default_quotas", "list_quotas", "get_quota", "get_quota_details", "update_quota", "delete_quota")

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf

    def default_quotas(self) -> dict[str, int]:
        q = self.conf.network_quotas
        return {r: int(getattr(q, f"quota_{r}")) for r in RESOURCES}

    def limits(self, s: orm.Session, project_id: str) -> dict[str, int]:
        limits = self.default_quotas()
        for row in s.execute(sa.select(models.Quota).where(models.Quota.project_id == project_id)).scalars():
            limits[row.resource] = row.limit
        return limits

    def usage(self, s: orm.Session, project_id: str, resource: str) -> int:
        model = COUNTED.get(resource)
        if model is None:
            return 0
        q = sa.select(sa.func.count()).select_from(model).where(model.project_id == project_id)
        return int(s.execute(q).scalar() or 0)

    def check(self, s: orm.Session, project_id: str, resource: str, delta: int) -> None:
        """Raise OverQuota unless ``delta`` more of ``resource`` fit in the project's limit."""
        limit = self.limits(s, project_id).get(resource, -1)
        if limit < 0:
            return
        if self.usage(s, project_id, resource) + delta > limit:
            raise nexc.OverQuota(overs=resource)

    def _check_project(self, ctx: RequestContext, project_id: str) -> None:
        if not (ctx.is_admin or ctx.project_id == project_id):
            raise nexc.PolicyNotAuthorized(action="get_quota of another project")

    def list_quotas(self, ctx: RequestContext) -> list[dict[str, Any]]:
        c.require_admin(ctx, "get_quota")
        with db.transaction() as s:
            projects = sorted(set(s.execute(sa.select(models.Quota.project_id)).scalars()))
            return [dict(self.limits(s, p), project_id=p, tenant_id=p) for p in projects]

    def get_quota(self, ctx: RequestContext, project_id: str) -> dict[str, int]:
        self._check_project(ctx, project_id)
        with db.transaction() as s:
            return self.limits(s, project_id)

    def get_quota_details(self, ctx: RequestContext, project_id: str) -> dict[str, dict[str, int]]:
        self._check_project(ctx, project_id)
        with db.transaction() as s:
            limits = self.limits(s, project_id)
            return {r: {"limit": limit, "used": self.usage(s, project_id, r), "reserved": 0}
                    for r, limit in limits.items()}

    def update_quota(self, ctx: RequestContext, project_id: str, body: dict[str, Any]) -> dict[str, int]:
        c.require_admin(ctx, "update_quota")
        body = c.check_keys(body, "quota", RESOURCES + ("force", "check_limit"))
        with db.transaction() as s:
            for resource, value in body.items():
                if resource in ("force", "check_limit"):
                    continue
                limit = c.to_int(value, resource, -1, 2**31 - 1) or 0  # never None: allow_none is off
                row = s.execute(sa.select(models.Quota).where(models.Quota.project_id == project_id,
                                                              models.Quota.resource == resource)).scalar()
                if row is None:
                    s.add(models.Quota(project_id=project_id, resource=resource, limit=limit))
                else:
                    row.limit = limit
            s.flush()
            return self.limits(s, project_id)

    def delete_quota(self, ctx: RequestContext, project_id: str) -> None:
        c.require_admin(ctx, "delete_quota")
        with db.transaction() as s:
            s.execute(sa.delete(models.Quota).where(models.Quota.project_id == project_id))
