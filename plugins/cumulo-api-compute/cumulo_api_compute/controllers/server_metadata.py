"""Server metadata: ``/servers/{server_id}/metadata`` and ``.../metadata/{key}``."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Request
from cumulo_api_compute import policies, schemas
from cumulo_api_compute.controllers.base import Controller, Route


class ServerMetadataController(Controller):
    """The key/value metadata of a server (``PUT`` replaces it all, ``POST`` merges)."""

    def routes(self) -> list[Route]:
        return [("GET", "/servers/{server_id}/metadata", self.index),
                (["PUT", "POST"], "/servers/{server_id}/metadata", self.update_all),
                ("GET", "/servers/{server_id}/metadata/{key}", self.show),
                ("PUT", "/servers/{server_id}/metadata/{key}", self.update),
                ("DELETE", "/servers/{server_id}/metadata/{key}", self.delete)]

    def index(self, req: Request, server_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"metadata": self.compute.get_metadata(req.context, server_id)}

    def update_all(self, req: Request, server_id: str) -> dict[str, Any]:
        self.authorize(req, policies.OWNER)
        md = self.body(req, schemas.METADATA_BODY)["metadata"]
        return {"metadata": self.compute.update_metadata(req.context, server_id, md, replace=req.method == "PUT")}

    def show(self, req: Request, server_id: str, key: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        md = self.compute.get_metadata(req.context, server_id)
        if key not in md:
            raise exception.NotFound(f"Metadata item was not found: {key}")
        return {"meta": {key: md[key]}}

    def update(self, req: Request, server_id: str, key: str) -> dict[str, Any]:
        self.authorize(req, policies.OWNER)
        meta = self.body(req, schemas.META_ITEM)["meta"]
        if list(meta) != [key]:
            raise exception.Invalid(reason="Request body and URI mismatch")
        self.compute.update_metadata(req.context, server_id, meta)
        return {"meta": meta}

    def delete(self, req: Request, server_id: str, key: str) -> Any:
        self.authorize(req, policies.OWNER)
        self.compute.delete_metadata(req.context, server_id, key)
        return 204, None
