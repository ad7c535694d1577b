"""Keystone's OS-EP-FILTER: ``/v3/OS-EP-FILTER/...`` project-endpoint associations and endpoint groups."""

from __future__ import annotations

from typing import Any

import webob

from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.schemas import ENDPOINT_GROUP, entity
from cumulo_api_identity.views import project_doc, self_link

EP = "/v3/OS-EP-FILTER"


class EndpointFilter(Controller):
    """Which endpoints a project's catalog lists: those associated with it, directly or through the
    endpoint groups associated with it (a project without any sees them all)."""

    def add_routes(self, router: Router) -> None:
        """The project-endpoint associations and the endpoint groups with their projects."""
        one = EP + "/projects/{project_id}/endpoints/{endpoint_id}"
        router.add("PUT", one, self.add_endpoint_to_project)
        router.add("HEAD", one, self.check_endpoint_in_project)
        router.add("GET", one, self.check_endpoint_in_project)
        router.add("DELETE", one, self.remove_endpoint_from_project)
        router.add("GET", EP + "/projects/{project_id}/endpoints", self.list_endpoints_for_project)
        router.add("GET", EP + "/endpoints/{endpoint_id}/projects", self.list_projects_for_endpoint)
        router.add("GET", EP + "/endpoint_groups", self.list_endpoint_groups)
        router.add("POST", EP + "/endpoint_groups", self.create_endpoint_group)
        group = EP + "/endpoint_groups/{group_id}"
        router.add("GET", group, self.get_endpoint_group)
        router.add("HEAD", group, self.check_endpoint_group)
        router.add("PATCH", group, self.update_endpoint_group)
        router.add("DELETE", group, self.delete_endpoint_group)
        router.add("GET", group + "/projects", self.list_projects_for_endpoint_group)
        router.add("GET", group + "/endpoints", self.list_endpoints_for_endpoint_group)
        router.add("PUT", group + "/projects/{project_id}", self.add_endpoint_group_to_project)
        router.add("GET", group + "/projects/{project_id}", self.get_endpoint_group_in_project)
        router.add("HEAD", group + "/projects/{project_id}", self.get_endpoint_group_in_project)
        router.add("DELETE", group + "/projects/{project_id}", self.remove_endpoint_group_from_project)
        router.add("GET", EP + "/projects/{project_id}/endpoint_groups", self.list_endpoint_groups_for_project)

    # -- views ---------------------------------------------------------------
    def _group(self, req: Request, g: dict[str, Any]) -> dict[str, Any]:
        return {**g, "links": self_link(self.base(req), f"OS-EP-FILTER/endpoint_groups/{g['id']}")}

    def _endpoints(self, req: Request, items: list[dict[str, Any]]) -> Any:
        base = self.base(req)
        docs = [{**e, "links": self_link(base, f"endpoints/{e['id']}")} for e in items]
        return self.collection(req, "endpoints", docs, "")

    def _projects(self, req: Request, items: list[dict[str, Any]]) -> Any:
        base = self.base(req)
        return self.collection(req, "projects", [project_doc(base, p) for p in items], "")

    # -- project <-> endpoint ----------------------------------------------
    def add_endpoint_to_project(self, req: Request, project_id: str, endpoint_id: str) -> Any:
        self.authorize(req, "add_endpoint_to_project")
        self.svc.add_endpoint_to_project(project_id, endpoint_id)

    def check_endpoint_in_project(self, req: Request, project_id: str, endpoint_id: str) -> Any:
        self.authorize(req, "check_endpoint_in_project")
        self.svc.check_endpoint_in_project(project_id, endpoint_id)

    def remove_endpoint_from_project(self, req: Request, project_id: str, endpoint_id: str) -> Any:
        self.authorize(req, "remove_endpoint_from_project")
        self.svc.remove_endpoint_from_project(project_id, endpoint_id)

    def list_endpoints_for_project(self, req: Request, project_id: str) -> Any:
        self.authorize(req, "list_endpoints_for_project")
        return self._endpoints(req, self.svc.list_endpoints_for_project(project_id))

    def list_projects_for_endpoint(self, req: Request, endpoint_id: str) -> Any:
        self.authorize(req, "list_projects_for_endpoint")
        return self._projects(req, self.svc.list_projects_for_endpoint(endpoint_id))

    # -- endpoint groups -----------------------------------------------------
    def list_endpoint_groups(self, req: Request) -> Any:
        self.authorize(req, "list_endpoint_groups")
        items = self.svc.list_endpoint_groups({"name": req.GET.get("name")})
        return self.collection(req, "endpoint_groups", [self._group(req, g) for g in items], "")

    def create_endpoint_group(self, req: Request) -> Any:
        self.authorize(req, "create_endpoint_group")
        data = self.body(req, entity("endpoint_group", ENDPOINT_GROUP, ["name", "filters"]))["endpoint_group"]
        return 201, {"endpoint_group": self._group(req, self.svc.create_endpoint_group(data))}

    def get_endpoint_group(self, req: Request, group_id: str) -> Any:
        self.authorize(req, "get_endpoint_group")
        return {"endpoint_group": self._group(req, self.svc.get_endpoint_group(group_id))}

    def check_endpoint_group(self, req: Request, group_id: str) -> Any:
        self.authorize(req, "get_endpoint_group")
        self.svc.get_endpoint_group(group_id)
        return webob.Response(status=200)

    def update_endpoint_group(self, req: Request, group_id: str) -> Any:
        self.authorize(req, "update_endpoint_group")
        changes = self.body(req, entity("endpoint_group", ENDPOINT_GROUP))["endpoint_group"]
        return {"endpoint_group": self._group(req, self.svc.update_endpoint_group(group_id, changes))}

    def delete_endpoint_group(self, req: Request, group_id: str) -> Any:
        self.authorize(req, "delete_endpoint_group")
        self.svc.delete_endpoint_group(group_id)

    def list_projects_for_endpoint_group(self, req: Request, group_id: str) -> Any:
        self.authorize(req, "list_projects_associated_with_endpoint_group")
        return self._projects(req, self.svc.list_projects_for_endpoint_group(group_id))

    def list_endpoints_for_endpoint_group(self, req: Request, group_id: str) -> Any:
        self.authorize(req, "list_endpoints_associated_with_endpoint_group")
        return self._endpoints(req, self.svc.list_endpoints_for_endpoint_group(group_id))

    def add_endpoint_group_to_project(self, req: Request, group_id: str, project_id: str) -> Any:
        self.authorize(req, "add_endpoint_group_to_project")
        self.svc.add_endpoint_group_to_project(group_id, project_id)

    def get_endpoint_group_in_project(self, req: Request, group_id: str, project_id: str) -> Any:
        self.authorize(req, "get_endpoint_group_in_project")
        project = self.svc.get_endpoint_group_in_project(group_id, project_id)
        return {"project": project_doc(self.base(req), project)}

    def remove_endpoint_group_from_project(self, req: Request, group_id: str, project_id: str) -> Any:
        self.authorize(req, "remove_endpoint_group_from_project")
        self.svc.remove_endpoint_group_from_project(group_id, project_id)

    def list_endpoint_groups_for_project(self, req: Request, project_id: str) -> Any:
        self.authorize(req, "list_endpoint_groups_for_project")
        items = self.svc.list_endpoint_groups_for_project(project_id)
        return self.collection(req, "endpoint_groups", [self._group(req, g) for g in items], "")
