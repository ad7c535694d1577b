"""The network proxies ``/os-networks`` and ``/os-tenant-networks`` (reading, below 2.36), as Nova has them
with Neutron: a network is its id and its name (``label``); the nova-network fields are null.

Cumulo reads the networks the caller can see through the network contract
(:meth:`cumulo.contracts.network.NetworkService.network_summaries`).
"""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.contracts import network as net
from cumulo.wsgi import Request
from cumulo_api_compute import policies
from cumulo_api_compute.controllers.base import Controller, Route
from cumulo_api_compute.views import v

#: What ``os-networks`` shows of a network (Nova's nova-network fields, null for Neutron's but ``id``, ``label``).
FIELDS = ("id", "cidr", "netmask", "gateway", "broadcast", "dns1", "dns2", "cidr_v6", "gateway_v6", "label",
          "netmask_v6")
#: ... and what it adds for an administrator.
ADMIN_FIELDS = ("created_at", "updated_at", "deleted_at", "deleted", "injected", "bridge", "vlan",
                "vpn_public_address", "vpn_public_port", "vpn_private_address", "dhcp_start", "project_id", "host",
                "bridge_interface", "multi_host", "priority", "rxtx_base", "mtu", "dhcp_server", "enable_dhcp",
                "share_address")


class NetworksController(Controller):
    """``/os-networks[/{network_id}]`` and ``/os-tenant-networks[/{network_id}]``."""

    def routes(self) -> list[Route]:
        return [("GET", "/os-networks", self.index),
                ("GET", "/os-networks/{network_id}", self.show),
                ("GET", "/os-tenant-networks", self.tenant_index),
                ("GET", "/os-tenant-networks/{network_id}", self.tenant_show)]

    def _networks(self, req: Request, rule: str) -> list[net.NetworkSummary]:
        """The networks the caller can see.

        :raises Forbidden: the policy refuses.
        :raises NotFound: microversion 2.36 or later, or no network service.
        """
        self.authorize(req, rule)
        if self.ver(req) >= v("2.36"):
            raise exception.NotFound("The network proxies are not available from microversion 2.36.")
        try:
            service: net.NetworkService = self.hub.network
        except LookupError:
            raise exception.NotFound("This cloud runs no network service.") from None
        return service.network_summaries(req.context)

    @staticmethod
    def _one(networks: list[net.NetworkSummary], network_id: str) -> net.NetworkSummary:
        for n in networks:
            if n.id == network_id:
                return n
        raise exception.NotFound(f"Network {network_id} could not be found.")

    @staticmethod
    def _view(req: Request, n: net.NetworkSummary) -> dict[str, Any]:
        fields = FIELDS + ADMIN_FIELDS if req.context.is_admin else FIELDS
        out: dict[str, Any] = dict.fromkeys(fields)
        out.update({"id": n.id, "label": n.name})
        return out

    @staticmethod
    def _tenant_view(n: net.NetworkSummary) -> dict[str, Any]:
        return {"id": n.id, "cidr": None, "label": n.name}

    def index(self, req: Request) -> dict[str, Any]:
        return {"networks": [self._view(req, n) for n in self._networks(req, policies.NETWORKS["list"])]}

    def show(self, req: Request, network_id: str) -> dict[str, Any]:
        return {"network": self._view(req, self._one(self._networks(req, policies.NETWORKS["view"]), network_id))}

    def tenant_index(self, req: Request) -> dict[str, Any]:
        return {"networks": [self._tenant_view(n) for n in self._networks(req, policies.TENANT_NETWORKS["list"])]}

    def tenant_show(self, req: Request, network_id: str) -> dict[str, Any]:
        networks = self._networks(req, policies.TENANT_NETWORKS["show"])
        return {"network": self._tenant_view(self._one(networks, network_id))}
