"""Groups: ``/v3/groups`` and their members (``/v3/groups/{group_id}/users``)."""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.schemas import GROUP, entity
from cumulo_api_identity.views import group_doc, user_doc


class Groups(Controller):
    """Group CRUD and membership."""

    def add_routes(self, router: Router) -> None:
        """``/v3/groups[/{group_id}]`` and ``/v3/groups/{group_id}/users[/{user_id}]``."""
        self.add_crud(router, "/v3/groups", "group_id", "group")
        router.add("GET", "/v3/groups/{group_id}/users", self.list_group_users)
        router.add("PUT", "/v3/groups/{group_id}/users/{user_id}", self.add_group_user)
        router.add("HEAD", "/v3/groups/{group_id}/users/{user_id}", self.check_group_user)
        router.add("GET", "/v3/groups/{group_id}/users/{user_id}", self.check_group_user)
        router.add("DELETE", "/v3/groups/{group_id}/users/{user_id}", self.remove_group_user)

    def list_groups(self, req: Request) -> Any:
        self.authorize(req, "list_groups")
        items = self.svc.list_groups({"name": req.GET.get("name"), "domain_id": req.GET.get("domain_id")})
        base = self.base(req)
        return self.collection(req, "groups", [group_doc(base, g) for g in items], "groups")

    def create_group(self, req: Request) -> Any:
        ctx = self.authorize(req, "create_group")
        data = self.body(req, entity("group", GROUP, ["name"]))["group"]
        data = {k: v for k, v in data.items() if k in GROUP}
        if not data.get("domain_id"):
            data["domain_id"] = ctx.project_domain_id or ctx.domain_id or self.svc.conf.identity.default_domain_id
        return 201, {"group": group_doc(self.base(req), self.svc.create_group(data))}

    def get_group(self, req: Request, group_id: str) -> Any:
        self.authorize(req, "get_group")
        return {"group": group_doc(self.base(req), self.svc.get_group(group_id))}

    def update_group(self, req: Request, group_id: str) -> Any:
        self.authorize(req, "update_group")
        changes = self.body(req, entity("group", GROUP))["group"]
        changes = {k: v for k, v in changes.items() if k in ("name", "description")}
        return {"group": group_doc(self.base(req), self.svc.update_group(group_id, changes))}

    def delete_group(self, req: Request, group_id: str) -> Any:
        self.authorize(req, "delete_group")
        self.svc.delete_group(group_id)

    def list_group_users(self, req: Request, group_id: str) -> Any:
        self.authorize(req, "list_users_in_group")
        items = self.svc.list_users_in_group(group_id)
        base = self.base(req)
        return self.collection(req, "users", [user_doc(base, u) for u in items], f"groups/{group_id}/users")

    def add_group_user(self, req: Request, group_id: str, user_id: str) -> Any:
        self.authorize(req, "add_user_to_group")
        self.svc.add_user_to_group(user_id, group_id)

    def check_group_user(self, req: Request, group_id: str, user_id: str) -> Any:
        self.authorize(req, "check_user_in_group")
        self.svc.check_user_in_group(user_id, group_id)

    def remove_group_user(self, req: Request, group_id: str, user_id: str) -> Any:
        self.authorize(req, "remove_user_from_group")
        self.svc.remove_user_from_group(user_id, group_id)
