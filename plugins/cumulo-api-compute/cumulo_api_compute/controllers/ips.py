"""Addresses of a server: ``GET /servers/{server_id}/ips``."""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Request
from cumulo_api_compute import policies, views
from cumulo_api_compute.controllers.base import Controller, Route


class IPsController(Controller):
    """A server's addresses by network (version and address only)."""

    def routes(self) -> list[Route]:
        return [("GET", "/servers/{server_id}/ips", self.index)]

    def index(self, req: Request, server_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        inst = self.compute.get_server(req.context, server_id)
        return {"addresses": {k: [{"version": a["version"], "addr": a["addr"]} for a in vals]
                              for k, vals in views.addresses(inst.get("ports") or []).items()}}
