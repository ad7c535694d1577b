"""Catalog services: ``/v3/services``."""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.schemas import SERVICE, entity


class Services(Controller):
    """Service CRUD (the catalog's entries; their URLs are endpoints)."""

    def add_routes(self, router: Router) -> None:
        """``/v3/services`` and ``/v3/services/{service_id}``."""
        self.add_crud(router, "/v3/services", "service_id", "service")

    def _service(self, req: Request, s: dict[str, Any]) -> dict[str, Any]:
        return {**s, "links": self.link(req, f"services/{s['id']}")}

    def list_services(self, req: Request) -> Any:
        self.authorize(req, "list_services")
        items = self.svc.list_services({"type": req.GET.get("type"), "name": req.GET.get("name")})
        return self.collection(req, "services", [self._service(req, s) for s in items], "services")

    def create_service(self, req: Request) -> Any:
        self.authorize(req, "create_service")
        data = self.body(req, entity("service", SERVICE, ["type"]))["service"]
        return 201, {"service": self._service(req, self.svc.create_service(data))}

    def get_service(self, req: Request, service_id: str) -> Any:
        self.authorize(req, "get_service")
        return {"service": self._service(req, self.svc.get_service(service_id))}

    def update_service(self, req: Request, service_id: str) -> Any:
        self.authorize(req, "update_service")
        changes = self.body(req, entity("service", SERVICE))["service"]
        return {"service": self._service(req, self.svc.update_service(service_id, changes))}

    def delete_service(self, req: Request, service_id: str) -> Any:
        self.authorize(req, "delete_service")
        self.svc.delete_service(service_id)
