"""What is attached to a server, read-only: ``os-interface`` (its ports), ``os-volume_attachments``
(always empty: Cumulo has no block storage) and ``os-server-password`` (always empty).

None checks a policy of its own: what the caller may see is the compute service's
``get_server`` to decide.
"""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Request
from cumulo_api_compute.controllers.base import Controller, Route


class InterfacesController(Controller):
    """``GET /servers/{server_id}/os-interface``: the server's ports."""

    def routes(self) -> list[Route]:
        return [("GET", "/servers/{server_id}/os-interface", self.index)]

    def index(self, req: Request, server_id: str) -> dict[str, Any]:
        inst = self.compute.get_server(req.context, server_id)
        return {"interfaceAttachments": [
            {"port_id": p.get("id"), "net_id": p.get("network_id"), "mac_addr": p.get("mac_address"),
             "port_state": p.get("status", "ACTIVE"),
             "fixed_ips": [{"subnet_id": ip.get("subnet_id"), "ip_address": ip.get("ip_address")}
                           for ip in p.get("fixed_ips") or []]} for p in inst.get("ports") or []]}


class VolumeAttachmentsController(Controller):
    """``GET /servers/{server_id}/os-volume_attachments``: none."""

    def routes(self) -> list[Route]:
        return [("GET", "/servers/{server_id}/os-volume_attachments", self.index)]

    def index(self, req: Request, server_id: str) -> dict[str, Any]:
        self.compute.get_server(req.context, server_id)
        return {"volumeAttachments": []}


class ServerPasswordController(Controller):
    """``GET /servers/{server_id}/os-server-password``: no encrypted password is kept."""

    def routes(self) -> list[Route]:
        return [("GET", "/servers/{server_id}/os-server-password", self.show)]

    def show(self, req: Request, server_id: str) -> dict[str, Any]:
        self.compute.get_server(req.context, server_id)
        return {"password": ""}
