"""Network drivers (``cumulo.network``): act on the data plane for model changes.

The kernel's network service owns the model (networks, subnets, ports,
routers, floating IPs, security groups, IPAM) in the database and calls the
driver *after* each change is committed, with the resource as a dict. A
model-only driver does nothing; a data-plane driver builds bridges,
namespaces, NAT, DHCP and firewall rules. A driver error is reported on the
resource (``status: ERROR``) and logged; the model stays as committed.

Every method is idempotent: the service may call it again for the same state
(on restart it re-plays the current model through ``sync``).
"""

from __future__ import annotations

import abc
from typing import Any

from cumulo.interfaces.base import Plugin

Resource = dict[str, Any]


class NetworkDriver(Plugin):
    INTERFACE_VERSION = "1.0"

    #: Network types this driver can realise ("flat", "vlan", "local", "vxlan").
    supported_network_types: frozenset[str] = frozenset({"flat", "vlan", "local"})

    @abc.abstractmethod
    def network_changed(self, action: str, network: Resource) -> None:
        """``action`` is "create", "update" or "delete"; ``network`` includes its subnets."""

    @abc.abstractmethod
    def port_changed(self, action: str, port: Resource) -> None:
        """A port was created, updated (incl. bound to ``binding:host_id``) or deleted."""

    @abc.abstractmethod
    def router_changed(self, action: str, router: Resource) -> None:
        """Router created/updated/deleted, gateway set/cleared, interfaces added/removed."""

    @abc.abstractmethod
    def floatingip_changed(self, action: str, floatingip: Resource) -> None:
        """A floating IP was created, (dis)associated with a fixed IP, or deleted: NAT rules."""

    @abc.abstractmethod
    def security_group_changed(self, action: str, group: Resource) -> None:
        """A group or its rules changed: the firewall rules of its member ports."""

    def sync(self, model: dict[str, list[Resource]]) -> None:
        """Bring the data plane in line with the whole model (at service start)."""

    def port_binding_vif(self, port: Resource, host: str) -> dict[str, Any]:
        """VIF details the hypervisor needs to plug ``port`` on ``host``."""
        return {"vif_type": "bridge", "vif_details": {}}
