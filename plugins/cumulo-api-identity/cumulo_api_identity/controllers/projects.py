"""Projects: ``/v3/projects``."""

from __future__ import annotations

from typing import Any

from cumulo import exception, policy
from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.schemas import PROJECT, entity
from cumulo_api_identity.views import project_doc


class Projects(Controller):
    """Project CRUD; a caller without ``identity:list_projects`` lists only the projects it has a role on."""

    def add_routes(self, router: Router) -> None:
        """``/v3/projects`` and ``/v3/projects/{project_id}``."""
        self.add_crud(router, "/v3/projects", "project_id", "project")

    def list_projects(self, req: Request) -> Any:
        ctx = self.context(req)
        own_only = not policy.check(ctx, "identity:list_projects", {})
        filters: dict[str, Any] = {"name": req.GET.get("name"), "domain_id": req.GET.get("domain_id"),
                                   "parent_id": req.GET.get("parent_id"), "enabled": self.bool_filter(req, "enabled")}
        if req.GET.get("tags"):
            filters["tags"] = req.GET["tags"].split(",")
        if req.GET.get("tags-any"):
            filters["tags-any"] = req.GET["tags-any"].split(",")
        if self.bool_filter(req, "is_domain"):
            return self.collection(req, "projects", [], "projects")
        if own_only:  # a non-admin sees the projects it has a role on, nothing else
            filters["ids"] = [p["id"] for p in self.svc.list_user_projects(ctx.user_id)]
        items = self.svc.list_projects(filters)
        base = self.base(req)
        return self.collection(req, "projects", [project_doc(base, p) for p in items], "projects")

    def create_project(self, req: Request) -> Any:
        ctx = self.authorize(req, "create_project")
        data = self.body(req, entity("project", PROJECT, ["name"]))["project"]
        if not data.get("domain_id") and not data.get("parent_id"):
            data["domain_id"] = ctx.project_domain_id or ctx.domain_id or self.svc.conf.identity.default_domain_id
        return 201, {"project": project_doc(self.base(req), self.svc.create_project(data))}

    def get_project(self, req: Request, project_id: str) -> Any:
        self.context(req)
        p = self.svc.get_project(project_id)
        self.authorize(req, "get_project", {"project.id": p["id"]})
        return {"project": project_doc(self.base(req), p)}

    def update_project(self, req: Request, project_id: str) -> Any:
        self.authorize(req, "update_project")
        changes = self.body(req, entity("project", PROJECT))["project"]
        changes.pop("is_domain", None)
        if "parent_id" in changes and changes["parent_id"] != self.svc.get_project(project_id)["parent_id"]:
            raise exception.Forbidden("Updating the parent of a project is not allowed.")
        changes.pop("parent_id", None)
        changes.pop("options", None)
        return {"project": project_doc(self.base(req), self.svc.update_project(project_id, changes))}

    def delete_project(self, req: Request, project_id: str) -> Any:
        self.authorize(req, "delete_project")
        self.svc.delete_project(project_id)
