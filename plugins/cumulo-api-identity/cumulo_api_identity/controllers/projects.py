"""Projects: ``/v3/projects``."""

from __future__ import annotations

from typing import Any

import webob

from cumulo import exception, policy
from cumulo.wsgi import Router, validate
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.schemas import MAX_TAGS, PROJECT, TAG, TAGS_BODY, entity
from cumulo_api_identity.views import project_doc


def domain_as_project(d: dict[str, Any]) -> dict[str, Any]:
    """A domain as Keystone shows it through the projects API (``is_domain`` true, no parent)."""
    return {"id": d["id"], "name": d["name"], "domain_id": None, "parent_id": None,
            "description": d.get("description") or "", "enabled": d["enabled"], "is_domain": True,
            "tags": d.get("tags", []), "options": {}}


class Projects(Controller):
    """Project CRUD; a caller without ``identity:list_projects`` gets a 403 for a listing (as in
    Keystone: its own projects are at ``/v3/auth/projects``), and only its own projects when it
    looks one up by ``name``."""

    def add_routes(self, router: Router) -> None:
        """``/v3/projects``, ``/v3/projects/{project_id}`` and the project's ``tags``."""
        self.add_crud(router, "/v3/projects", "project_id", "project")
        router.add("GET", "/v3/projects/{project_id}/tags", self.list_tags)
        router.add("PUT", "/v3/projects/{project_id}/tags", self.replace_tags)
        router.add("DELETE", "/v3/projects/{project_id}/tags", self.delete_tags)
        router.add("GET", "/v3/projects/{project_id}/tags/{tag}", self.check_tag)
        router.add("HEAD", "/v3/projects/{project_id}/tags/{tag}", self.check_tag)
        router.add("PUT", "/v3/projects/{project_id}/tags/{tag}", self.add_tag)
        router.add("DELETE", "/v3/projects/{project_id}/tags/{tag}", self.delete_tag)

    def list_projects(self, req: Request) -> Any:
        ctx = self.context(req)
        own_only = not policy.check(ctx, "identity:list_projects", {})
        # A lookup by name (``openstack project show NAME``) finds the caller's own projects; a plain
        # listing is refused, as Keystone refuses it (Tempest checks the 403).
        if own_only and not req.GET.get("name"):
            raise exception.Forbidden(action="identity:list_projects")
        filters: dict[str, Any] = {"name": req.GET.get("name"), "domain_id": req.GET.get("domain_id"),
                                   "parent_id": req.GET.get("parent_id"), "enabled": self.bool_filter(req, "enabled")}
        if req.GET.get("tags"):
            filters["tags"] = req.GET["tags"].split(",")
        if req.GET.get("tags-any"):
            filters["tags-any"] = req.GET["tags-any"].split(",")
        base = self.base(req)
        if self.bool_filter(req, "is_domain"):  # the domains, seen as the projects Keystone keeps them as
            domains = [] if own_only else self.svc.list_domains({"name": filters["name"],
                                                                 "enabled": filters["enabled"]})
            return self.collection(req, "projects", [project_doc(base, domain_as_project(d)) for d in domains],
                                   "projects")
        if own_only:
            filters["ids"] = [p["id"] for p in self.svc.list_user_projects(ctx.user_id)]
        items = self.svc.list_projects(filters)
        return self.collection(req, "projects", [project_doc(base, p) for p in items], "projects")

    def create_project(self, req: Request) -> Any:
        ctx = self.authorize(req, "create_project")
        data = self.body(req, entity("project", PROJECT, ["name"]))["project"]
        if data.get("is_domain"):  # Keystone: a project acting as a domain is a domain
            if data.get("domain_id") or data.get("parent_id"):
                raise exception.ValidationError(field="project.is_domain",
                                                reason="a project acting as a domain has no domain_id or parent_id")
            domain = self.svc.create_domain({k: data[k] for k in ("name", "description", "enabled", "tags")
                                             if k in data})
            return 201, {"project": project_doc(self.base(req), domain_as_project(domain))}
        if not data.get("domain_id") and not data.get("parent_id"):
            data["domain_id"] = ctx.project_domain_id or ctx.domain_id or self.svc.conf.identity.default_domain_id
        return 201, {"project": project_doc(self.base(req), self.svc.create_project(data))}

    def _domain_behind(self, project_id: str) -> dict[str, Any] | None:
        """The domain a project id names when it is no project (Keystone keeps domains as projects)."""
        try:
            self.svc.get_project(project_id)
            return None
        except exception.NotFound:
            try:
                return self.svc.get_domain(project_id)
            except exception.NotFound:
                raise exception.NotFound(resource="project", id=project_id) from None

    def get_project(self, req: Request, project_id: str) -> Any:
        self.context(req)
        domain = self._domain_behind(project_id)
        p = domain_as_project(domain) if domain else self.svc.get_project(project_id)
        self.authorize(req, "get_project", {"project.id": p["id"]})
        return {"project": project_doc(self.base(req), p)}

    def update_project(self, req: Request, project_id: str) -> Any:
        self.authorize(req, "update_project")
        changes = self.body(req, entity("project", PROJECT))["project"]
        changes.pop("is_domain", None)
        if self._domain_behind(project_id):
            changes = {k: changes[k] for k in ("name", "description", "enabled", "tags") if k in changes}
            if project_id == self.svc.conf.identity.default_domain_id and changes.get("enabled") is False:
                raise exception.Forbidden("The default domain cannot be disabled.")
            domain = self.svc.update_domain(project_id, changes)
            return {"project": project_doc(self.base(req), domain_as_project(domain))}
        if "parent_id" in changes and changes["parent_id"] != self.svc.get_project(project_id)["parent_id"]:
            raise exception.Forbidden("Updating the parent of a project is not allowed.")
        changes.pop("parent_id", None)
        changes.pop("options", None)
        return {"project": project_doc(self.base(req), self.svc.update_project(project_id, changes))}

    def delete_project(self, req: Request, project_id: str) -> Any:
        self.authorize(req, "delete_project")
        if self._domain_behind(project_id):
            self.svc.delete_domain(project_id)
        else:
            self.svc.delete_project(project_id)

    # -- tags (Keystone's project tags API) ---------------------------------
    def _tags(self, req: Request, project_id: str, rule: str) -> list[str]:
        p = self.svc.get_project(project_id)
        self.authorize(req, rule, {"project.id": p["id"]})
        return list(p["tags"])

    def _tags_doc(self, req: Request, project_id: str, tags: list[str]) -> dict[str, Any]:
        return {"tags": tags, "links": self.link(req, f"projects/{project_id}/tags")}

    def list_tags(self, req: Request, project_id: str) -> Any:
        return self._tags_doc(req, project_id, self._tags(req, project_id, "list_project_tags"))

    def replace_tags(self, req: Request, project_id: str) -> Any:
        self._tags(req, project_id, "update_project_tags")
        tags = validate(req.json_body_or_fault(), TAGS_BODY)["tags"]
        tags = list(dict.fromkeys(tags))
        self.svc.update_project(project_id, {"tags": tags})
        return self._tags_doc(req, project_id, tags)

    def delete_tags(self, req: Request, project_id: str) -> Any:
        self._tags(req, project_id, "delete_project_tags")
        self.svc.update_project(project_id, {"tags": []})

    def check_tag(self, req: Request, project_id: str, tag: str) -> Any:
        if tag not in self._tags(req, project_id, "get_project_tag"):
            raise exception.NotFound(resource="project tag", id=tag)

    def add_tag(self, req: Request, project_id: str, tag: str) -> Any:
        tags = self._tags(req, project_id, "create_project_tag")
        validate(tag, TAG)
        if tag not in tags:
            if len(tags) >= MAX_TAGS:
                raise exception.ValidationError(field="tags", reason=f"a project has at most {MAX_TAGS} tags")
            self.svc.update_project(project_id, {"tags": [*tags, tag]})
        resp = webob.Response(status=201)
        resp.headers["Location"] = f"{self.base(req)}/projects/{project_id}/tags/{tag}"
        return resp

    def delete_tag(self, req: Request, project_id: str, tag: str) -> Any:
        tags = self._tags(req, project_id, "delete_project_tag")
        if tag not in tags:
            raise exception.NotFound(resource="project tag", id=tag)
        self.svc.update_project(project_id, {"tags": [t for t in tags if t != tag]})
