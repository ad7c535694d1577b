"""Version discovery: ``GET /`` (300, the versions) and ``GET /v3`` (this version)."""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller

API_VERSION = "v3.14"
UPDATED = "2020-04-07T00:00:00Z"
MEDIA_TYPES = [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]


class Versions(Controller):
    """The version documents; they need no token."""

    def add_routes(self, router: Router) -> None:
        """``/``, ``/v3`` and ``/v3/``."""
        router.add("GET", "/", self.versions)
        router.add("GET", "/v3", self.version)
        router.add("GET", "/v3/", self.version)

    def version_doc(self, req: Request) -> dict[str, Any]:
        """The v3 version document."""
        return {"id": API_VERSION, "status": "stable", "updated": UPDATED, "media-types": MEDIA_TYPES,
                "links": [{"rel": "self", "href": self.base(req) + "/"}]}

    def versions(self, req: Request) -> Any:
        return 300, {"versions": {"values": [self.version_doc(req)]}}

    def version(self, req: Request) -> Any:
        return {"version": self.version_doc(req)}
