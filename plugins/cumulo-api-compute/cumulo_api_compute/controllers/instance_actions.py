"""Instance actions: ``/servers/{server_id}/os-instance-actions`` and ``.../{request_id}``."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Request
from cumulo_api_compute import policies, views
from cumulo_api_compute.controllers.base import Controller, Route
from cumulo_api_compute.views import v


class InstanceActionsController(Controller):
    """The record of what was done to a server (paged by request id from 2.58)."""

    def routes(self) -> list[Route]:
        return [("GET", "/servers/{server_id}/os-instance-actions", self.index),
                ("GET", "/servers/{server_id}/os-instance-actions/{request_id}", self.show)]

    def index(self, req: Request, server_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        ver = self.ver(req)
        actions = self.compute.list_instance_actions(req.context, server_id)
        limit = req.int_param("limit", None, minimum=0) if ver >= v("2.58") else None
        marker = req.GET.get("marker") if ver >= v("2.58") else None
        if marker is not None:
            idx = next((i for i, a in enumerate(actions) if a["request_id"] == marker), None)
            if idx is None:
                raise exception.Invalid(reason=f"Marker {marker} could not be found.")
            actions = actions[idx + 1:]
        if limit is not None:
            actions = actions[:limit]
        return {"instanceActions": [views.instance_action(a, ver, req.context.is_admin) for a in actions]}

    def show(self, req: Request, server_id: str, request_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        a = self.compute.get_instance_action(req.context, server_id, request_id)
        return {"instanceAction": views.instance_action(a, self.ver(req), req.context.is_admin, events=True)}
