"""The ``object-store`` API frontend plugin: OpenStack Object Storage v1 under ``/object-store``."""

from __future__ import annotations

from typing import Any

from cumulo.interfaces.api import APIFrontend, WSGIApp


class ObjectStoreFrontend(APIFrontend):
    """OpenStack Object Storage API v1 (Swift-compatible): accounts, containers, objects, /info."""

    interface_version = "1.0"
    service_type = "object-store"
    service_name = "swift"
    path_prefix = "/object-store"
    requires_auth = True

    def build_app(self, services: Any) -> WSGIApp:
        from cumulo_api_object.app import build

        return build(services)

    def endpoint_url(self, base_url: str) -> str:
        return base_url.rstrip("/") + "/object-store/v1/AUTH_$(project_id)s"
