"""Catalog endpoints: ``/v3/endpoints``."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.schemas import ENDPOINT, entity


class Endpoints(Controller):
    """Endpoint CRUD; ``region`` (the v2-era name) is accepted for ``region_id``."""

    def add_routes(self, router: Router) -> None:
        """``/v3/endpoints`` and ``/v3/endpoints/{endpoint_id}``."""
        self.add_crud(router, "/v3/endpoints", "endpoint_id", "endpoint")

    def _endpoint(self, req: Request, e: dict[str, Any]) -> dict[str, Any]:
        return {**e, "links": self.link(req, f"endpoints/{e['id']}")}

    def _endpoint_data(self, data: dict[str, Any]) -> dict[str, Any]:
        """``region`` stands for ``region_id`` when that is absent; as Keystone does for v2-era
        clients, a region named that way is created when it does not exist."""
        legacy = data.pop("region", None)
        if data.get("region_id") is None and legacy is not None:
            data["region_id"] = legacy
            try:
                self.svc.get_region(legacy)
            except exception.NotFound:
                try:
                    self.svc.create_region({"id": legacy})
                except exception.Conflict:
                    pass  # made meanwhile by another request
        return data

    def list_endpoints(self, req: Request) -> Any:
        self.authorize(req, "list_endpoints")
        items = self.svc.list_endpoints({"service_id": req.GET.get("service_id"),
                                         "interface": req.GET.get("interface"),
                                         "region_id": req.GET.get("region_id") or req.GET.get("region")})
        return self.collection(req, "endpoints", [self._endpoint(req, e) for e in items], "endpoints")

    def create_endpoint(self, req: Request) -> Any:
        self.authorize(req, "create_endpoint")
        schema = entity("endpoint", ENDPOINT, ["service_id", "interface", "url"])
        data = self._endpoint_data(self.body(req, schema)["endpoint"])
        return 201, {"endpoint": self._endpoint(req, self.svc.create_endpoint(data))}

    def get_endpoint(self, req: Request, endpoint_id: str) -> Any:
        self.authorize(req, "get_endpoint")
        return {"endpoint": self._endpoint(req, self.svc.get_endpoint(endpoint_id))}

    def update_endpoint(self, req: Request, endpoint_id: str) -> Any:
        self.authorize(req, "update_endpoint")
        changes = self._endpoint_data(self.body(req, entity("endpoint", ENDPOINT))["endpoint"])
        return {"endpoint": self._endpoint(req, self.svc.update_endpoint(endpoint_id, changes))}

    def delete_endpoint(self, req: Request, endpoint_id: str) -> Any:
        self.authorize(req, "delete_endpoint")
        self.svc.delete_endpoint(endpoint_id)
