"""Network drivers (``cumulo.network``), interface 3.2: realise the network model on hosts.

This package is all a driver author needs: :class:`NetworkDriver`, the
records it is handed (:mod:`.records`: :class:`Network` with its
:class:`Subnet` entries, :class:`Port`, :class:`Router`, :class:`FloatingIP`,
:class:`SecurityGroup`, the whole :class:`Model`), the :class:`VifBinding`
it returns, and :class:`NetworkDriverError`.

When. The network area owns the model (networks, subnets, ports, routers,
floating IPs, security groups, IPAM) in its database and calls the driver
*after* each change is committed, with the resource as a record built once
for that change. A model-only driver does nothing; a data-plane driver builds
bridges, namespaces, NAT, DHCP and firewall rules. What arrives where:

* :meth:`NetworkDriver.network_changed`: a network, and every change of its
  subnets (as the network's ``update``, with all its subnets).
* :meth:`NetworkDriver.port_changed`: a port, including its binding to a host
  and a change of its security groups (``update``).
* :meth:`NetworkDriver.router_changed`: a router, its gateway, interfaces,
  routes, and the floating IPs it NATs (``update`` when one is associated or
  released).
* :meth:`NetworkDriver.floatingip_changed`: a floating IP created, associated
  or dissociated, deleted.
* :meth:`NetworkDriver.security_group_changed`: a group, its rules, its members.
* :meth:`NetworkDriver.sync`: the whole model, when the area starts.

Idempotence. Every method may be called again for the same state (a restart
re-plays the model through ``sync``; a change may be replayed), and a
``delete`` of something the driver does not know is not an error. A
``delete`` carries the resource as it was last committed.

Errors. Raise :class:`NetworkDriverError` (any exception is treated alike):
the area logs it and reports it on the resource (``status: ERROR`` on the
network, port, router or floating IP); the model stays as committed and no
call is retried by itself (the next change or ``sync`` is).

Threads. The area calls the driver from its request threads: calls for
different resources may run at the same time; a driver guards what it shares.

Construction. ``cls(ctx)`` with a :class:`~cumulo.interfaces.base.PluginContext`
(``ctx.host``, ``ctx.conf``); options through
:meth:`~cumulo.interfaces.base.Plugin.list_opts`, checked by
:meth:`~cumulo.interfaces.base.Plugin.validate_config`.

DHCP ports. A driver that serves DHCP from an address of the network (dnsmasq
on a port, as Neutron's DHCP agent) sets :attr:`NetworkDriver.dhcp_ports`:
the area then keeps one ``network:dhcp`` port per network that has a subnet
with ``enable_dhcp`` (a fixed IP on each such subnet, shown in port lists as
Neutron shows it), and hands it as :attr:`Network.dhcp_port`.

Version history: 2.0 is built as ``cls(ctx)``; 3.0 hands typed records instead of the API dicts (with
``Model`` for ``sync``) and ``port_binding_vif`` returns a :class:`VifBinding`; 3.1 (this) adds
:attr:`NetworkDriver.dhcp_ports` and :attr:`Network.dhcp_port`.
"""

from __future__ import annotations

import abc
from typing import ClassVar

from cumulo.interfaces.base import DriverError, Plugin
from cumulo.interfaces.network.records import (
    ACTIONS,
    VIF_TYPE_BINDING_FAILED,
    VIF_TYPE_BRIDGE,
    VIF_TYPE_TAP,
    VIF_TYPE_UNBOUND,
    Action,
    AllocationPool,
    AllowedAddressPair,
    Direction,
    Ethertype,
    FixedIP,
    FloatingIP,
    HostRoute,
    InterfaceIP,
    Model,
    Network,
    Port,
    Route,
    Router,
    RouterInterface,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    VifBinding,
    VifDetail,
)

#: The agent roles a driver may name in :meth:`NetworkDriver.agent_roles`.
AGENT_ROLES: tuple[str, ...] = ("l2", "dhcp", "l3", "metadata")

__all__ = [
    "ACTIONS", "AGENT_ROLES", "VIF_TYPE_BINDING_FAILED", "VIF_TYPE_BRIDGE", "VIF_TYPE_TAP", "VIF_TYPE_UNBOUND", "Action",
    "AllocationPool", "AllowedAddressPair", "Direction", "Ethertype", "FixedIP", "FloatingIP", "HostRoute",
    "InterfaceIP", "Model", "Network", "NetworkDriver", "NetworkDriverError", "Port", "Route", "Router",
    "RouterInterface", "SecurityGroup", "SecurityGroupRule", "Subnet", "VifBinding", "VifDetail",
]


class NetworkDriverError(DriverError):
    """The data plane could not realise a change; the message is logged with the resource."""

    error_code: ClassVar[str] = "network.error"


class NetworkDriver(Plugin):
    """Realises the network model on hosts (see the module docstring for when each method is called).

    ``action`` is always one of :data:`ACTIONS`. The records are
    :mod:`cumulo.interfaces.network.records`.
    """

    INTERFACE_VERSION = "3.2"  # 3.0: typed records, VifBinding, Model for sync; 3.1: DHCP ports; 3.2: agent_roles

    #: Whether the area keeps a ``network:dhcp`` port on every network with a DHCP subnet
    #: (handed as :attr:`Network.dhcp_port`). A driver without its own DHCP server leaves it off.
    dhcp_ports: ClassVar[bool] = False

    #: Network types this driver can realise ("flat", "vlan", "local", "vxlan"); the area
    #: refuses to create a network of another type.
    supported_network_types: frozenset[str] = frozenset({"flat", "vlan", "local"})

    @abc.abstractmethod
    def network_changed(self, action: Action, network: Network) -> None:
        """A network was created, updated (its attributes or subnets) or deleted.

        ``network.subnets`` are all its subnets as committed: a driver
        (re)configures DHCP for those with ``enable_dhcp`` and forgets the others.

        :raises NetworkDriverError: the data plane failed; the network is marked ``ERROR``.
        """

    @abc.abstractmethod
    def port_changed(self, action: Action, port: Port) -> None:
        """A port was created, updated (bound to ``port.host``, addresses, groups, address pairs) or deleted.

        :raises NetworkDriverError: the data plane failed; the port is marked ``ERROR``.
        """

    @abc.abstractmethod
    def router_changed(self, action: Action, router: Router) -> None:
        """A router was created, updated (gateway, interfaces, routes, NATed floating IPs) or deleted.

        :raises NetworkDriverError: the data plane failed; the router is marked ``ERROR``.
        """

    @abc.abstractmethod
    def floatingip_changed(self, action: Action, fip: FloatingIP) -> None:
        """A floating IP was created, associated with or dissociated from a fixed IP, or deleted.

        The router that NATs it is told too (``router_changed``), with all its
        floating IPs; a driver may realise NAT in either call.

        :raises NetworkDriverError: the data plane failed; the floating IP is marked ``ERROR``.
        """

    @abc.abstractmethod
    def security_group_changed(self, action: Action, group: SecurityGroup) -> None:
        """A group, its rules or its members changed: the firewall rules of its member ports.

        Rules of other groups whose ``remote_group_id`` is this group follow
        ``group.port_ids``.

        :raises NetworkDriverError: the data plane failed (logged; a group has no status).
        """

    def sync(self, model: Model) -> None:
        """Bring the data plane in line with the whole model (when the area starts).

        Anything the driver realised that is not in ``model`` should be removed.
        The default does nothing (a driver that keeps no state).

        :raises NetworkDriverError: the data plane failed (logged; the area starts anyway).
        """

    def agent_roles(self) -> tuple[str, ...]:
        """The Neutron agents this driver stands for on its host (``/v2.0/agents`` lists them).

        Any of :data:`AGENT_ROLES`: ``"l2"`` (it plugs ports into networks), ``"dhcp"`` (it serves
        DHCP), ``"l3"`` (it routes and NATs), ``"metadata"`` (it proxies the metadata service). The
        default is none: a driver that realises nothing plays no agent's part.
        """
        return ()

    def port_binding_vif(self, port: Port, host: str) -> VifBinding:
        """How the hypervisor plugs ``port`` on ``host``: shown as its ``binding:vif_type``/``binding:vif_details``.

        ``port`` is the port as recorded (its own ``vif_type`` not yet filled
        in). Must be cheap (called whenever a bound port is rendered) and must
        not change the data plane. The default says ``bridge`` with no details.

        :raises NetworkDriverError: the driver cannot plug ports on ``host``; the area logs it and
            shows the port as :data:`VIF_TYPE_BINDING_FAILED` (Neutron's ``binding_failed``).
        """
        return VifBinding(vif_type=VIF_TYPE_BRIDGE)
