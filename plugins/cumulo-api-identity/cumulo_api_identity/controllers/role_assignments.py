"""Role assignments: ``GET /v3/role_assignments`` (who has which role where, optionally effective)."""

from __future__ import annotations

from typing import Any

from cumulo import exception, policy
from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller


class RoleAssignments(Controller):
    """The assignment listing; without ``identity:list_role_assignments`` a caller may list only
    its own assignments on its token's project."""

    def add_routes(self, router: Router) -> None:
        """``/v3/role_assignments``."""
        router.add("GET", "/v3/role_assignments", self.list_role_assignments)

    def list_role_assignments(self, req: Request) -> Any:
        ctx = self.context(req)
        filters = {"user_id": req.GET.get("user.id"), "group_id": req.GET.get("group.id"),
                   "project_id": req.GET.get("scope.project.id"), "domain_id": req.GET.get("scope.domain.id"),
                   "system": req.GET.get("scope.system"), "role_id": req.GET.get("role.id"),
                   "effective": self.flag(req, "effective"), "include_names": self.flag(req, "include_names"),
                   "include_subtree": self.flag(req, "include_subtree"),
                   "inherited_to": req.GET.get("scope.OS-INHERIT:inherited_to")}
        if filters["effective"] and filters["group_id"]:
            raise exception.Invalid(reason="effective cannot be combined with group.id.")
        if filters["project_id"] and filters["domain_id"]:
            raise exception.Invalid(reason="Give at most one of scope.project.id and scope.domain.id.")
        if not policy.check(ctx, "identity:list_role_assignments", {}):
            # A non-admin may list its own effective assignments on its own project.
            if not (filters["user_id"] == ctx.user_id and filters["project_id"] in (None, ctx.project_id)):
                raise exception.Forbidden(action="identity:list_role_assignments")
            filters["project_id"] = ctx.project_id
        items = []
        for a in self.svc.list_role_assignments(filters):
            raw = a.pop("_raw")
            a["links"] = {"assignment": self._assignment_link(req, raw)}
            if raw.get("via_group"):
                a["links"]["membership"] = f"{self.base(req)}/groups/{raw['via_group']}/users/{raw['actor_id']}"
            items.append(a)
        return self.collection(req, "role_assignments", items, "role_assignments")

    def _assignment_link(self, req: Request, raw: dict[str, Any]) -> str:
        """The URL of the grant behind an assignment (for an effective one, of the grant it comes from)."""
        src = raw.get("source") or raw
        kind = src["type"]
        actor = "users" if kind.startswith("User") else "groups"
        target = kind[4:] if kind.startswith("User") else kind[5:]
        if target == "System":
            path = f"system/{actor}/{src['actor_id']}/roles/{src['role_id']}"
        else:
            path = f"{target.lower()}s/{src['target_id']}/{actor}/{src['actor_id']}/roles/{src['role_id']}"
        if src.get("inherited"):
            path = f"OS-INHERIT/{path}/inherited_to_projects"
        return f"{self.base(req)}/{path}"
