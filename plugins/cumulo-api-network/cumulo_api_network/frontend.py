"""The ``network`` API frontend: Networking v2.0 under ``/network``."""

from __future__ import annotations

from cumulo.interfaces.api import FactoryFrontend


class NetworkFrontend(FactoryFrontend):
    """OpenStack Networking (Neutron) v2.0: networks, subnets, ports, routers, floating IPs,
    security groups, quotas, subnet pools, tags, auto-allocated topology."""

    interface_version = "2.0"
    service_type = "network"
    service_name = "neutron"
    path_prefix = "/network"
    app_factory = "cumulo_api_network.app:build"
