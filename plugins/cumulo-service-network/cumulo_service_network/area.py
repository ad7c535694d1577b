"""The network area as a ``service`` plugin: what the hub builds as ``hub.network`` and what a node starts."""

from __future__ import annotations

from cumulo.interfaces.service import ModuleArea


class NetworkArea(ModuleArea):
    """Networking (``hub.network``): networks, subnets, ports, routers, floating IPs, security groups (Neutron v2)."""

    interface_version = "2.0"
    area = "network"
    requires = ("identity",)
    after = ()
    manager = "cumulo_service_network.manager:Service"
    starter = "cumulo_service_network.manager:start"
