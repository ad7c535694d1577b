"""``GET /extensions``: always empty (microversions replaced extensions)."""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Request
from cumulo_api_compute.controllers.base import Controller, Route


class ExtensionInfoController(Controller):
    """The legacy extension list, kept for old clients that still ask."""

    def routes(self) -> list[Route]:
        return [("GET", "/extensions", self.index)]

    def index(self, req: Request) -> dict[str, Any]:
        return {"extensions": []}
