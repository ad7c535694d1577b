"""Network drivers (``cumulo.network``): act on the data plane for model changes.

The kernel's network service owns the model (networks, subnets, ports,
routers, floating IPs, security groups, IPAM) in the database and calls the
driver *after* each change is committed, with the resource as a dict. A
model-only driver does nothing; a data-plane driver builds bridges,
namespaces, NAT, DHCP and firewall rules. A driver error is reported on the
resource (``status: ERROR``) and logged; the model stays as committed.

Every method is idempotent: the service may call it again for the same state
(on restart it re-plays the current model through ``sync``), and a ``delete``
of something the driver does not know is not an error.

The dicts are the Networking v2.0 API views (the same keys clients see) plus
what a data plane needs:

* network: the view plus ``subnet_details`` (the subnet views: ``cidr``,
  ``gateway_ip``, ``allocation_pools``, ``dns_nameservers``, ``host_routes``,
  ``enable_dhcp``, ``ip_version``...). Provider attributes say how to realise
  it: ``provider:network_type`` (flat/vlan/local/vxlan),
  ``provider:physical_network``, ``provider:segmentation_id``; ``router:external``
  marks the network routers use as their gateway (NAT side). Subnet changes
  arrive as a network ``update``.
* port: the view: ``network_id``, ``mac_address``, ``fixed_ips``
  ``[{subnet_id, ip_address}]``, ``device_owner`` (``compute:<az>`` for servers,
  ``network:router_interface``/``network:router_gateway``/``network:floatingip``),
  ``device_id``, ``binding:host_id`` (the host to plug it on; binding is an
  ``update``), ``security_groups`` (ids), ``port_security_enabled``,
  ``allowed_address_pairs``, ``admin_state_up``.
* router: the view (``external_gateway_info`` with ``enable_snat`` and
  ``external_fixed_ips``, ``routes``) plus ``interfaces``
  ``[{port_id, network_id, mac_address, fixed_ips: [{subnet_id, ip_address, cidr}]}]``,
  ``gateway_port`` (a port view or None) and ``floatingips`` (the floating IP
  views NATed by this router).
* floatingip: the view: ``floating_ip_address``, ``floating_network_id``,
  ``fixed_ip_address``/``port_id`` (None when not associated), ``router_id``.
* security group: the view with ``security_group_rules`` (``direction``,
  ``ethertype``, ``protocol``, ``port_range_min``/``max``, ``remote_ip_prefix``,
  ``remote_group_id``) plus ``port_ids`` (its member ports).

``action`` is always one of "create", "update", "delete".
"""

from __future__ import annotations

import abc
from typing import Any

from cumulo.interfaces.base import Plugin

Resource = dict[str, Any]


class NetworkDriver(Plugin):
    """Realises the network model on hosts. See the module docstring for the resource dicts."""

    INTERFACE_VERSION = "2.0"  # 2.0: built as cls(ctx)

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
        """Bring the data plane in line with the whole model (at service start).

        ``model`` has the keys ``networks``, ``ports``, ``routers``, ``floatingips`` and
        ``security_groups``, each a list of the dicts described above; anything the
        driver realised that is not in it should be removed.
        """

    def port_binding_vif(self, port: Resource, host: str) -> dict[str, Any]:
        """VIF details the hypervisor needs to plug ``port`` on ``host``.

        Shown as the port's ``binding:vif_type``/``binding:vif_details``; must be cheap
        (called when ports are rendered) and must not change the data plane.
        """
        return {"vif_type": "bridge", "vif_details": {}}
