"""The ``network`` API frontend: Networking v2.0 under ``/network``."""

from __future__ import annotations

from typing import Any, ClassVar

from cumulo.interfaces.api import APIFrontend, WSGIApp


class NetworkFrontend(APIFrontend):
    """OpenStack Networking (Neutron) v2.0: networks, subnets, ports, routers, floating IPs,
    security groups, quotas, subnet pools, tags, auto-allocated topology."""

    interface_version = "1.0"
    service_type: ClassVar[str] = "network"
    service_name: ClassVar[str] = "neutron"
    path_prefix: ClassVar[str] = "/network"
    requires_auth: ClassVar[bool] = True

    def build_app(self, services: Any) -> WSGIApp:
        from cumulo_api_network.app import build

        return build(services)

    def endpoint_url(self, base_url: str) -> str:
        return base_url.rstrip("/") + self.path_prefix
