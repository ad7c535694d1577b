"""Server groups (``hub.compute`` server-group methods): affinity policies over a project's servers.

A server joins a group when it is created with the ``group`` scheduler hint; the scheduler
reads the group's members and their hosts (:meth:`ServerGroups.group_hosts`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

import cumulo_service_compute.objects as objects
import cumulo_service_compute.quota as quota
from cumulo import db, exception
from cumulo.context import RequestContext
from cumulo.contracts.compute import SERVER_GROUP_POLICIES
from cumulo.db.models.base import new_id
from cumulo_service_compute.models import Instance, ServerGroup, ServerGroupMember


class ServerGroups:
    """The server-group records (no dependency on the other components)."""

    POLICIES = SERVER_GROUP_POLICIES

    def _group_dict(self, s: Any, g: ServerGroup) -> dict[str, Any]:
        members = list(s.scalars(sa.select(ServerGroupMember.instance_uuid)
                                 .where(ServerGroupMember.group_uuid == g.uuid)))
        return {"id": g.uuid, "name": g.name, "project_id": g.project_id, "user_id": g.user_id,
                "policy": g.policy, "rules": objects.loads(g.rules_json, {}), "members": members, "metadata": {}}

    def create_server_group(self, ctx: RequestContext, name: str, policy: str,
                            rules: dict[str, Any] | None = None) -> dict[str, Any]:
        if policy not in self.POLICIES:
            raise exception.ValidationError(field="policy", reason=f"must be one of {', '.join(self.POLICIES)}")
        if rules and policy != "anti-affinity":
            raise exception.Invalid(reason="Only anti-affinity policy supports rules.")
        quota.reserve(ctx.project_id or "", {"server_groups": 1})
        with db.transaction() as s:
            g = ServerGroup(uuid=new_id(), name=name, project_id=ctx.project_id or "", user_id=ctx.user_id or "",
                            policy=policy, rules_json=objects.dumps(rules or {}))
            s.add(g)
            s.flush()
            return self._group_dict(s, g)

    def _group_row(self, s: Any, ctx: RequestContext, group_id: str) -> ServerGroup:
        g = s.scalar(sa.select(ServerGroup).where(ServerGroup.uuid == group_id))
        if g is None or (not ctx.is_admin and g.project_id != ctx.project_id):
            raise exception.NotFound(f"Server group {group_id} could not be found.")
        return g

    def get_server_group(self, ctx: RequestContext, group_id: str) -> dict[str, Any]:
        with db.transaction() as s:
            return self._group_dict(s, self._group_row(s, ctx, group_id))

    def list_server_groups(self, ctx: RequestContext, all_projects: bool = False) -> list[dict[str, Any]]:
        with db.transaction() as s:
            q = sa.select(ServerGroup).order_by(ServerGroup.id)
            if not (all_projects and ctx.is_admin):
                q = q.where(ServerGroup.project_id == ctx.project_id)
            return [self._group_dict(s, g) for g in s.scalars(q)]

    def delete_server_group(self, ctx: RequestContext, group_id: str) -> None:
        with db.transaction() as s:
            g = self._group_row(s, ctx, group_id)
            s.execute(sa.delete(ServerGroupMember).where(ServerGroupMember.group_uuid == g.uuid))
            project = g.project_id
            s.delete(g)
        quota.release(project, {"server_groups": 1})

    def server_group_of(self, ctx: RequestContext, uuid: str) -> str | None:
        """The uuid of the server group server ``uuid`` belongs to, or None."""
        return objects.group_of(uuid)

    def group_hosts(self, group_uuid: str, exclude: set[str]) -> tuple[list[str], list[str]]:
        """The group's live members, and the hosts of those not in ``exclude`` (for the scheduler)."""
        with db.transaction() as s:
            rows = s.execute(sa.select(Instance.uuid, Instance.host).join(
                ServerGroupMember, ServerGroupMember.instance_uuid == Instance.uuid)
                .where(ServerGroupMember.group_uuid == group_uuid, Instance.deleted.is_(False))).all()
        members = [r.uuid for r in rows]
        hosts = [r.host for r in rows if r.host and r.uuid not in exclude]
        return members, hosts
