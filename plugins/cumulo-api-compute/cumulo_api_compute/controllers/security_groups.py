"""Security groups of a server: ``GET /servers/{server_id}/os-security-groups`` and the
``addSecurityGroup`` / ``removeSecurityGroup`` server actions."""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Request, validate
from cumulo_api_compute import policies, schemas, views
from cumulo_api_compute.controllers.base import Controller, Route, ServerAction


class ServerSecurityGroupsController(Controller):
    """The security groups a server's ports are in."""

    def routes(self) -> list[Route]:
        return [("GET", "/servers/{server_id}/os-security-groups", self.index)]

    def actions(self) -> dict[str, ServerAction]:
        return {"addSecurityGroup": self._add, "removeSecurityGroup": self._remove}

    def index(self, req: Request, server_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"security_groups": views.server_security_groups(self.compute.security_groups(req.context, server_id))}

    def _add(self, req: Request, sid: str, arg: Any) -> Any:
        validate(arg, schemas.SECURITY_GROUP_ACTION)
        self.compute.add_security_group(req.context, sid, arg["name"])
        return 202, None

    def _remove(self, req: Request, sid: str, arg: Any) -> Any:
        validate(arg, schemas.SECURITY_GROUP_ACTION)
        self.compute.remove_security_group(req.context, sid, arg["name"])
        return 202, None
