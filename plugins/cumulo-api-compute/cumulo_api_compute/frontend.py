"""The ``compute`` and ``metadata`` API frontends."""

from __future__ import annotations

from typing import Any, ClassVar

from cumulo.interfaces.api import APIFrontend, WSGIApp


class ComputeFrontend(APIFrontend):
    """OpenStack Compute v2.1 with microversions (see :mod:`cumulo_api_compute.app`).

    The instance metadata service is mounted too, at ``/compute/metadata``.
    """

    interface_version = "1.0"
    service_type: ClassVar[str] = "compute"
    service_name: ClassVar[str] = "nova"
    path_prefix: ClassVar[str] = "/compute"
    requires_auth: ClassVar[bool] = True

    def build_app(self, services: Any) -> WSGIApp:
        from cumulo_api_compute.app import build

        return build(services)

    def endpoint_url(self, base_url: str) -> str:
        return base_url.rstrip("/") + "/compute/v2.1"


class MetadataFrontend(APIFrontend):
    """The instance metadata service on its own path (``/metadata``), for instances (no token)."""

    interface_version = "1.0"
    service_type: ClassVar[str] = "metadata"
    service_name: ClassVar[str] = "metadata"
    path_prefix: ClassVar[str] = "/metadata"
    requires_auth: ClassVar[bool] = False

    def build_app(self, services: Any) -> WSGIApp:
        from cumulo_api_compute.metadata import build

        return build(services)

    def endpoint_url(self, base_url: str) -> str:
        return base_url.rstrip("/") + "/metadata"
