"""``POST /os-server-external-events``: what other services (Neutron, Cinder) tell Nova about its servers.

As Nova: each event gets its own ``code`` (200 accepted, 404 no such server, 422 a server on no host
yet, with ``status: failed``); the answer is 200 when every event was accepted, 207 when only some
were, 404 when none was. Cumulo's areas call each other directly, so an accepted event needs no
further work: the compute service already knows what the event reports.
"""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Request
from cumulo_api_compute import policies
from cumulo_api_compute.controllers.base import Controller, Route
from cumulo_api_compute.views import v

#: The event names, with the microversion each appeared at.
EVENT_NAMES: dict[str, str] = {"network-changed": "2.1", "network-vif-plugged": "2.1",
                               "network-vif-unplugged": "2.1", "network-vif-deleted": "2.1",
                               "volume-extended": "2.51", "power-update": "2.76"}
STATUSES = ("failed", "completed", "in-progress")


def schema(names: list[str]) -> dict[str, Any]:
    """Nova's request body schema for the event names of a microversion."""
    return {"type": "object", "properties": {"events": {
        "type": "array", "minItems": 1, "items": {
            "type": "object", "properties": {
                "server_uuid": {"type": "string", "format": "uuid"},
                "name": {"type": "string", "enum": names},
                "status": {"type": "string", "enum": list(STATUSES)},
                "tag": {"type": "string", "maxLength": 255}},
            "required": ["server_uuid", "name"], "additionalProperties": False}}},
        "required": ["events"], "additionalProperties": False}


class ServerExternalEventsController(Controller):
    """``/os-server-external-events`` (services and administrators)."""

    def routes(self) -> list[Route]:
        return [("POST", "/os-server-external-events", self.create)]

    def create(self, req: Request) -> Any:
        self.authorize(req, policies.EXTERNAL_EVENTS)
        ver = self.ver(req)
        names = [n for n, since in EVENT_NAMES.items() if ver >= v(since)]
        events = self.body(req, schema(names))["events"]
        # The policy let the caller in: the servers of every project are its to tell about (as Nova's elevated
        # lookup); only whether each exists is shown.
        ctx = req.context.elevated()
        out, accepted = [], 0
        for event in events:
            item = {"server_uuid": event["server_uuid"], "name": event["name"],
                    "status": event.get("status", "completed")}
            if "tag" in event:
                item["tag"] = event["tag"]
            try:
                server = self.compute.get_server(ctx, event["server_uuid"])
            except exception.NotFound:
                item.update(code=404, status="failed")
            else:
                if server.get("host"):
                    item["code"] = 200
                    accepted += 1
                else:  # not on a host yet: nothing to deliver it to
                    item.update(code=422, status="failed")
            out.append(item)
        if not accepted:
            raise exception.NotFound("No instances found for any event")
        return (200 if accepted == len(out) else 207), {"events": out}
