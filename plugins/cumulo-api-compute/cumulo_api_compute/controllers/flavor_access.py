"""Flavor access (private flavors): ``GET /flavors/{flavor_id}/os-flavor-access`` and the
``addTenantAccess`` / ``removeTenantAccess`` flavor actions."""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Request
from cumulo_api_compute import policies, schemas
from cumulo_api_compute.controllers.base import Controller, Route


class FlavorAccessController(Controller):
    """Which projects may use a private flavor (administrators only)."""

    def routes(self) -> list[Route]:
        return [("POST", "/flavors/{flavor_id}/action", self.action),
                ("GET", "/flavors/{flavor_id}/os-flavor-access", self.index)]

    def action(self, req: Request, flavor_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        body = self.body(req, schemas.FLAVOR_ACTION)
        if "addTenantAccess" in body:
            access = self.compute.add_flavor_access(req.context, flavor_id, body["addTenantAccess"]["tenant"])
        else:
            access = self.compute.remove_flavor_access(req.context, flavor_id, body["removeTenantAccess"]["tenant"])
        return {"flavor_access": access}

    def index(self, req: Request, flavor_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        return {"flavor_access": self.compute.flavor_access(req.context, flavor_id)}
