"""The ``image`` API frontend plugin: OpenStack Image API v2 under ``/image``."""

from __future__ import annotations

from typing import Any

from cumulo.interfaces.api import APIFrontend, WSGIApp


class ImageFrontend(APIFrontend):
    """OpenStack Image API v2 (Glance-compatible): images, data, members, tags, discovery."""

    interface_version = "1.0"
    service_type = "image"
    service_name = "glance"
    path_prefix = "/image"
    requires_auth = True

    def build_app(self, services: Any) -> WSGIApp:
        from cumulo_api_image.app import build

        return build(services)

    def endpoint_url(self, base_url: str) -> str:
        return base_url.rstrip("/") + "/image"
