"""Availability zones: ``GET /os-availability-zone`` and ``/os-availability-zone/detail`` (administrators)."""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Request
from cumulo_api_compute import policies, views
from cumulo_api_compute.controllers.base import Controller, Route


class AvailabilityZonesController(Controller):
    """The zones, and in detail their hosts and services."""

    def routes(self) -> list[Route]:
        return [("GET", "/os-availability-zone", self.index),
                ("GET", "/os-availability-zone/detail", self.detail)]

    def index(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"availabilityZoneInfo": self.compute.availability_zones(req.context)}

    def detail(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        zones = self.compute.availability_zones(req.context, detail=True)
        return {"availabilityZoneInfo": [views.availability_zone(z) for z in zones]}
