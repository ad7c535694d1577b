"""Users: ``/v3/users``, a user's password, projects and groups."""

from __future__ import annotations

from typing import Any

from cumulo import policy
from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.schemas import PASSWORD_CHANGE, USER, entity
from cumulo_api_identity.views import group_doc, project_doc, user_doc

# The user fields the service stores as such; any other body field (bar these ignored ones) is an extra.
_KNOWN = {"name", "description", "enabled", "domain_id", "email", "default_project_id", "password"}
_IGNORED = {"options", "federated", "id", "links"}


class Users(Controller):
    """User CRUD; listing users needs ``identity:list_users`` (Keystone's default: an administrator or a
    system reader), so a project member's ``openstack user list`` is a 403 as in Keystone."""

    def add_routes(self, router: Router) -> None:
        """``/v3/users[/{user_id}]`` and the user's ``projects``, ``groups`` and ``password``."""
        self.add_crud(router, "/v3/users", "user_id", "user")
        router.add("GET", "/v3/users/{user_id}/projects", self.list_user_projects)
        router.add("GET", "/v3/users/{user_id}/groups", self.list_user_groups)
        router.add("POST", "/v3/users/{user_id}/password", self.change_password)

    def list_users(self, req: Request) -> Any:
        ctx = self.context(req)
        target = {"target.domain_id": req.GET.get("domain_id")}
        own_lookup = "name" in req.GET and not policy.check(ctx, "identity:list_users", target)
        if not own_lookup:
            self.authorize(req, "list_users", {"domain_id": req.GET.get("domain_id")})
        items = self.svc.list_users({"name": req.GET.get("name"), "domain_id": req.GET.get("domain_id"),
                                     "enabled": self.bool_filter(req, "enabled")})
        if own_lookup:  # a lookup by name (openstack user show NAME) finds the caller only, as for projects
            items = [u for u in items if u["id"] == ctx.user_id]
        base = self.base(req)
        return self.collection(req, "users", [user_doc(base, u) for u in items], "users")

    @staticmethod
    def _user_changes(data: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in data.items() if k in _KNOWN}
        extra = {k: v for k, v in data.items() if k not in _KNOWN | _IGNORED}
        if extra:
            out["extra"] = extra
        return out

    def create_user(self, req: Request) -> Any:
        ctx = self.authorize(req, "create_user")
        data = self._user_changes(self.body(req, entity("user", USER, ["name"]))["user"])
        data.setdefault("domain_id", ctx.project_domain_id or ctx.domain_id or self.svc.conf.identity.default_domain_id)
        if data.get("domain_id") is None:
            data["domain_id"] = self.svc.conf.identity.default_domain_id
        return 201, {"user": user_doc(self.base(req), self.svc.create_user(data))}

    def get_user(self, req: Request, user_id: str) -> Any:
        self.authorize(req, "get_user", {"user_id": user_id})
        return {"user": user_doc(self.base(req), self.svc.get_user(user_id))}

    def update_user(self, req: Request, user_id: str) -> Any:
        self.authorize(req, "update_user", {"user_id": user_id})
        changes = self._user_changes(self.body(req, entity("user", USER))["user"])
        return {"user": user_doc(self.base(req), self.svc.update_user(user_id, changes))}

    def delete_user(self, req: Request, user_id: str) -> Any:
        self.authorize(req, "delete_user", {"user_id": user_id})
        self.svc.delete_user(user_id)

    def change_password(self, req: Request, user_id: str) -> Any:
        """No policy, as in Keystone: the original password is the proof, whoever's token comes with
        it (Tempest's admin changes a user's password this way)."""
        data = self.body(req, PASSWORD_CHANGE)["user"]
        self.svc.change_password(user_id, data["original_password"], data["password"])

    def list_user_projects(self, req: Request, user_id: str) -> Any:
        self.authorize(req, "list_user_projects", {"user_id": user_id})
        self.svc.get_user(user_id)
        items = self.svc.list_user_projects(user_id)
        base = self.base(req)
        return self.collection(req, "projects", [project_doc(base, p) for p in items], f"users/{user_id}/projects")

    def list_user_groups(self, req: Request, user_id: str) -> Any:
        self.authorize(req, "list_groups_for_user", {"user_id": user_id})
        items = self.svc.list_groups_for_user(user_id)
        base = self.base(req)
        return self.collection(req, "groups", [group_doc(base, g) for g in items], f"users/{user_id}/groups")
