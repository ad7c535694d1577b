"""Host aggregates (administrators): ``/os-aggregates``, ``/os-aggregates/{agg_id}`` and its
``add_host`` / ``remove_host`` / ``set_metadata`` actions."""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Request
from cumulo_api_compute import policies, schemas, views
from cumulo_api_compute.controllers.base import Controller, Route


class AggregatesController(Controller):
    """Groups of hosts, with metadata and an optional availability zone."""

    def routes(self) -> list[Route]:
        return [("GET", "/os-aggregates", self.index),
                ("POST", "/os-aggregates", self.create),
                ("GET", "/os-aggregates/{agg_id}", self.show),
                ("PUT", "/os-aggregates/{agg_id}", self.update),
                ("DELETE", "/os-aggregates/{agg_id}", self.delete),
                ("POST", "/os-aggregates/{agg_id}/action", self.action)]

    def index(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        return {"aggregates": [views.aggregate(a, self.ver(req)) for a in self.compute.list_aggregates(req.context)]}

    def create(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        a = self.body(req, schemas.AGGREGATE_CREATE)["aggregate"]
        agg = self.compute.create_aggregate(req.context, a["name"], a.get("availability_zone"))
        out = views.aggregate(agg, self.ver(req))
        # As Nova: a new aggregate is shown without its (empty) hosts and metadata.
        return {"aggregate": {k: val for k, val in out.items() if k not in ("hosts", "metadata")}}

    def show(self, req: Request, agg_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        return {"aggregate": views.aggregate(self.compute.get_aggregate(req.context, agg_id), self.ver(req))}

    def update(self, req: Request, agg_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        a = self.body(req, schemas.AGGREGATE_UPDATE)["aggregate"]
        agg = self.compute.update_aggregate(req.context, agg_id, a.get("name"), a.get("availability_zone"))
        return {"aggregate": views.aggregate(agg, self.ver(req))}

    def delete(self, req: Request, agg_id: str) -> Any:
        self.authorize(req, policies.ADMIN)
        self.compute.delete_aggregate(req.context, agg_id)
        return 200, None

    def action(self, req: Request, agg_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        body = self.body(req, schemas.AGGREGATE_ACTION)
        if "add_host" in body:
            agg = self.compute.aggregate_add_host(req.context, agg_id, body["add_host"]["host"])
        elif "remove_host" in body:
            agg = self.compute.aggregate_remove_host(req.context, agg_id, body["remove_host"]["host"])
        else:
            agg = self.compute.set_aggregate_metadata(req.context, agg_id, body["set_metadata"]["metadata"])
        return {"aggregate": views.aggregate(agg, self.ver(req))}
