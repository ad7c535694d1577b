"""Flavor extra specs: ``/flavors/{flavor_id}/os-extra_specs`` and ``.../os-extra_specs/{key}``."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Request
from cumulo_api_compute import policies, schemas
from cumulo_api_compute.controllers.base import Controller, Route


class FlavorExtraSpecsController(Controller):
    """A flavor's extra specs (values stored as strings); reading for everyone, writing for administrators."""

    def routes(self) -> list[Route]:
        return [("GET", "/flavors/{flavor_id}/os-extra_specs", self.index),
                ("POST", "/flavors/{flavor_id}/os-extra_specs", self.create),
                ("GET", "/flavors/{flavor_id}/os-extra_specs/{key}", self.show),
                ("PUT", "/flavors/{flavor_id}/os-extra_specs/{key}", self.update),
                ("DELETE", "/flavors/{flavor_id}/os-extra_specs/{key}", self.delete)]

    def index(self, req: Request, flavor_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"extra_specs": self.compute.get_extra_specs(req.context, flavor_id)}

    def create(self, req: Request, flavor_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        specs = self.body(req, schemas.EXTRA_SPECS)["extra_specs"]
        return {"extra_specs": self.compute.set_extra_specs(req.context, flavor_id,
                                                            {k: str(x) for k, x in specs.items()})}

    def show(self, req: Request, flavor_id: str, key: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        specs = self.compute.get_extra_specs(req.context, flavor_id)
        if key not in specs:
            raise exception.NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
        return {key: specs[key]}

    def update(self, req: Request, flavor_id: str, key: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        body = self.body(req, schemas.EXTRA_SPEC_ITEM)
        if list(body) != [key]:
            raise exception.Invalid(reason="Request body and URI mismatch")
        self.compute.set_extra_specs(req.context, flavor_id, {key: str(body[key])})
        return {key: str(body[key])}

    def delete(self, req: Request, flavor_id: str, key: str) -> Any:
        self.authorize(req, policies.ADMIN)
        self.compute.delete_extra_spec(req.context, flavor_id, key)
        return 200, None  # Nova's status for this delete (Tempest's schema checks it)
