"""Addresses of a server: ``GET /servers/{server_id}/ips`` and ``/ips/{network_label}``."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Request
from cumulo_api_compute import policies, views
from cumulo_api_compute.controllers.base import Controller, Route


class IPsController(Controller):
    """A server's addresses by network (version and address only)."""

    def routes(self) -> list[Route]:
        return [("GET", "/servers/{server_id}/ips", self.index),
                ("GET", "/servers/{server_id}/ips/{network_label}", self.show)]

    def _addresses(self, req: Request, server_id: str) -> dict[str, list[dict[str, Any]]]:
        self.authorize(req, policies.READER)
        inst = self.compute.get_server(req.context, server_id)
        return views.addresses(inst.get("ports") or [], extended=False)

    def index(self, req: Request, server_id: str) -> dict[str, Any]:
        return {"addresses": self._addresses(req, server_id)}

    def show(self, req: Request, server_id: str, network_label: str) -> dict[str, Any]:
        """``{label: [addresses]}``; 404 when the server has no address on that network (as Nova)."""
        addresses = self._addresses(req, server_id)
        if network_label not in addresses:
            raise exception.NotFound(f"Instance is not a member of specified network {network_label}.")
        return {network_label: addresses[network_label]}
