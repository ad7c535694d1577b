"""Regions: ``/v3/regions`` (a region may also be created at its own URL with ``PUT``)."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.schemas import REGION, entity


class Regions(Controller):
    """Region CRUD; a region's id never changes."""

    def add_routes(self, router: Router) -> None:
        """``/v3/regions`` and ``/v3/regions/{region_id}`` (with ``PUT``)."""
        self.add_crud(router, "/v3/regions", "region_id", "region")
        router.add("PUT", "/v3/regions/{region_id}", self.put_region)

    def _region(self, req: Request, r: dict[str, Any]) -> dict[str, Any]:
        return {**r, "links": self.link(req, f"regions/{r['id']}")}

    def list_regions(self, req: Request) -> Any:
        self.authorize(req, "list_regions")
        items = self.svc.list_regions({"parent_region_id": req.GET.get("parent_region_id")})
        return self.collection(req, "regions", [self._region(req, r) for r in items], "regions")

    def create_region(self, req: Request) -> Any:
        self.authorize(req, "create_region")
        data = self.body(req, entity("region", REGION))["region"]
        return 201, {"region": self._region(req, self.svc.create_region(data))}

    def put_region(self, req: Request, region_id: str) -> Any:
        self.authorize(req, "create_region")
        data = self.body(req, entity("region", REGION))["region"]
        if data.get("id") not in (None, region_id):
            raise exception.ValidationError(field="region.id", reason="does not match the URL")
        return 201, {"region": self._region(req, self.svc.create_region({**data, "id": region_id}))}

    def get_region(self, req: Request, region_id: str) -> Any:
        self.authorize(req, "get_region")
        return {"region": self._region(req, self.svc.get_region(region_id))}

    def update_region(self, req: Request, region_id: str) -> Any:
        self.authorize(req, "update_region")
        changes = self.body(req, entity("region", REGION))["region"]
        if changes.get("id") not in (None, region_id):
            raise exception.ValidationError(field="region.id", reason="cannot be changed")
        return {"region": self._region(req, self.svc.update_region(region_id, changes))}

    def delete_region(self, req: Request, region_id: str) -> Any:
        self.authorize(req, "delete_region")
        self.svc.delete_region(region_id)
