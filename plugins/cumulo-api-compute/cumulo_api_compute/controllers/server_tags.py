"""Server tags (microversion 2.26+): ``/servers/{server_id}/tags`` and ``.../tags/{tag}``."""

from __future__ import annotations

from typing import Any

import webob

from cumulo import exception
from cumulo.wsgi import Request, validate
from cumulo_api_compute import policies, schemas
from cumulo_api_compute.controllers.base import Controller, Route
from cumulo_api_compute.views import v


class ServerTagsController(Controller):
    """A server's tags; below 2.26 every tag URL is 404 (checked before the policy)."""

    def routes(self) -> list[Route]:
        return [("GET", "/servers/{server_id}/tags", self.index),
                ("PUT", "/servers/{server_id}/tags", self.update_all),
                ("DELETE", "/servers/{server_id}/tags", self.delete_all),
                ("GET", "/servers/{server_id}/tags/{tag}", self.show),
                ("PUT", "/servers/{server_id}/tags/{tag}", self.update),
                ("DELETE", "/servers/{server_id}/tags/{tag}", self.delete)]

    def _check_version(self, req: Request) -> None:
        if self.ver(req) < v("2.26"):
            raise exception.NotFound("Server tags need microversion 2.26 or later.")

    def index(self, req: Request, server_id: str) -> dict[str, Any]:
        self._check_version(req)
        self.authorize(req, policies.READER)
        return {"tags": self.compute.get_tags(req.context, server_id)}

    def update_all(self, req: Request, server_id: str) -> dict[str, Any]:
        self._check_version(req)
        self.authorize(req, policies.OWNER)
        tags = self.body(req, schemas.TAGS_BODY)["tags"]
        return {"tags": self.compute.set_tags(req.context, server_id, tags)}

    def delete_all(self, req: Request, server_id: str) -> Any:
        self._check_version(req)
        self.authorize(req, policies.OWNER)
        self.compute.delete_tags(req.context, server_id)
        return 204, None

    def show(self, req: Request, server_id: str, tag: str) -> Any:
        self._check_version(req)
        self.authorize(req, policies.READER)
        if tag not in self.compute.get_tags(req.context, server_id):
            raise exception.NotFound(f"Tag {tag} could not be found for server {server_id}.")
        return 204, None

    def update(self, req: Request, server_id: str, tag: str) -> Any:
        self._check_version(req)
        self.authorize(req, policies.OWNER)
        validate(tag, schemas.TAG)
        created = self.compute.add_tag(req.context, server_id, tag)
        loc = {"Location": f"{self.base(req)}/servers/{server_id}/tags/{tag}"}
        return webob.Response(status=201 if created else 204, headers=loc)

    def delete(self, req: Request, server_id: str, tag: str) -> Any:
        self._check_version(req)
        self.authorize(req, policies.OWNER)
        self.compute.delete_tag(req.context, server_id, tag)
        return 204, None
