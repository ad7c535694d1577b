"""Server groups: ``/os-server-groups`` and ``/os-server-groups/{group_id}``."""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Request
from cumulo_api_compute import policies, schemas, views
from cumulo_api_compute.controllers.base import Controller, Route
from cumulo_api_compute.views import v


class ServerGroupsController(Controller):
    """(Anti-)affinity groups; one ``policy`` from 2.64, a ``policies`` list before."""

    def routes(self) -> list[Route]:
        return [("GET", "/os-server-groups", self.index),
                ("POST", "/os-server-groups", self.create),
                ("GET", "/os-server-groups/{group_id}", self.show),
                ("DELETE", "/os-server-groups/{group_id}", self.delete)]

    def index(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        all_projects = req.bool_param("all_projects", False)
        if all_projects:
            self.authorize(req, policies.ADMIN)
        groups = self.compute.list_server_groups(req.context, bool(all_projects))
        offset = req.int_param("offset", 0) or 0
        limit = req.int_param("limit", None, minimum=0)
        groups = groups[offset:offset + limit] if limit is not None else groups[offset:]
        return {"server_groups": [views.server_group(g, self.ver(req)) for g in groups]}

    def create(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.OWNER)
        ver = self.ver(req)
        g = self.body(req, schemas.server_group_create(ver))["server_group"]
        policy_name = g["policy"] if ver >= v("2.64") else g["policies"][0]
        group = self.compute.create_server_group(req.context, g["name"], policy_name, g.get("rules"))
        return {"server_group": views.server_group(group, ver)}

    def show(self, req: Request, group_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"server_group": views.server_group(self.compute.get_server_group(req.context, group_id),
                                                   self.ver(req))}

    def delete(self, req: Request, group_id: str) -> Any:
        self.authorize(req, policies.OWNER)
        self.compute.delete_server_group(req.context, group_id)
        return 204, None
