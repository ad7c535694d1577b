"""The records a network driver is handed and returns (:mod:`cumulo.interfaces.network`).

Every record is a frozen dataclass holding tuples and read-only mappings: a
driver reads it and never changes it (``dataclasses.replace`` makes a changed
copy). The network area builds them from its database once per committed
change, so a driver never sees a database row or a REST body. Addresses,
prefixes and MAC addresses are the canonical text the Networking API shows
(``"10.0.0.5"``, ``"10.0.0.0/24"``, ``"fa:16:3e:12:34:56"``, lower case).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from typing import Literal, TypeAlias

__all__ = [
    "ACTIONS", "VIF_TYPE_BINDING_FAILED", "VIF_TYPE_BRIDGE", "VIF_TYPE_TAP", "VIF_TYPE_UNBOUND", "Action",
    "AllocationPool", "AllowedAddressPair", "Direction", "Ethertype", "FixedIP", "FloatingIP", "HostRoute",
    "InterfaceIP", "Model", "Network", "Port", "Route", "Router", "RouterInterface", "SecurityGroup",
    "SecurityGroupRule", "Subnet", "VifBinding", "VifDetail",
]

#: What happened to a resource; every ``*_changed`` method receives one of :data:`ACTIONS`.
Action: TypeAlias = Literal["create", "update", "delete"]
ACTIONS: tuple[Action, ...] = ("create", "update", "delete")

#: Which way a security group rule lets traffic through, seen from the port.
Direction: TypeAlias = Literal["ingress", "egress"]
#: The IP version a security group rule applies to.
Ethertype: TypeAlias = Literal["IPv4", "IPv6"]

#: A value of :attr:`VifBinding.details` (JSON scalars: the API shows them as ``binding:vif_details``).
VifDetail: TypeAlias = str | int | bool

#: The port's tap or veth is plugged into the Linux bridge ``details["bridge_name"]``.
VIF_TYPE_BRIDGE = "bridge"
#: The hypervisor creates a tap (``details["devname"]`` when given) and the driver plugs it.
VIF_TYPE_TAP = "tap"
#: A port bound to no host.
VIF_TYPE_UNBOUND = "unbound"
#: The driver could not say how to plug the port on its host (it raised).
VIF_TYPE_BINDING_FAILED = "binding_failed"

_NO_DETAILS: Mapping[str, VifDetail] = {}


def _prefixlen(cidr: str) -> int:
    return ipaddress.ip_network(cidr, strict=False).prefixlen


# -- networks and subnets ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class HostRoute:
    """A route a subnet's DHCP server hands to its hosts (option 121): ``destination`` CIDR via ``nexthop``."""

    destination: str
    nexthop: str


@dataclasses.dataclass(frozen=True)
class AllocationPool:
    """A range of a subnet's addresses IPAM hands out, ``start`` to ``end`` inclusive."""

    start: str
    end: str


@dataclasses.dataclass(frozen=True)
class Subnet:
    """An IP range of a network, with what its DHCP server serves.

    ``gateway_ip`` is None for a subnet without a gateway. ``enable_dhcp``
    says whether the driver runs a DHCP server for it (the default external
    subnet has none). ``ipv6_ra_mode``/``ipv6_address_mode`` are
    ``slaac``/``dhcpv6-stateful``/``dhcpv6-stateless`` or None.
    """

    id: str
    network_id: str
    cidr: str
    ip_version: int  # 4 or 6
    gateway_ip: str | None = None
    enable_dhcp: bool = True
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[HostRoute, ...] = ()
    allocation_pools: tuple[AllocationPool, ...] = ()
    name: str = ""
    ipv6_ra_mode: str | None = None
    ipv6_address_mode: str | None = None

    @property
    def prefixlen(self) -> int:
        """The prefix length of :attr:`cidr`."""
        return _prefixlen(self.cidr)


@dataclasses.dataclass(frozen=True)
class Network:
    """An L2 segment and its subnets (a subnet change arrives as the network's ``update``).

    How to realise it: ``network_type`` is ``flat``, ``vlan``, ``local`` or
    ``vxlan`` (one of the driver's ``supported_network_types``);
    ``physical_network`` names the provider network a ``flat``/``vlan`` one is
    on (the driver maps it to an interface), ``segmentation_id`` is the VLAN
    id or VNI (None for ``flat``/``local``). ``external`` marks a network
    routers use as their gateway (the NAT side) and floating IPs come from.
    """

    id: str
    name: str
    project_id: str
    network_type: str
    physical_network: str | None = None
    segmentation_id: int | None = None
    mtu: int = 1500
    external: bool = False
    admin_state_up: bool = True
    shared: bool = False
    port_security_enabled: bool = True
    subnets: tuple[Subnet, ...] = ()
    #: The network's ``network:dhcp`` port (one fixed IP on each DHCP subnet), kept by the area
    #: for a driver with :attr:`~cumulo.interfaces.network.NetworkDriver.dhcp_ports`; else None.
    dhcp_port: Port | None = None

    def subnet(self, subnet_id: str) -> Subnet | None:
        """One of :attr:`subnets` by id, None when the network has no such subnet."""
        return next((s for s in self.subnets if s.id == subnet_id), None)


# -- ports ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FixedIP:
    """An address a port holds on one of its network's subnets."""

    subnet_id: str
    ip_address: str

    @property
    def version(self) -> int:
        """4 or 6."""
        return ipaddress.ip_address(self.ip_address).version


@dataclasses.dataclass(frozen=True)
class AllowedAddressPair:
    """Traffic a port may also send (anti-spoofing): from ``ip_address`` (an address or a CIDR).

    ``mac_address`` None means the port's own MAC address.
    """

    ip_address: str
    mac_address: str | None = None


@dataclasses.dataclass(frozen=True)
class VifBinding:
    """How the hypervisor plugs a port on a host: what :meth:`NetworkDriver.port_binding_vif` returns.

    ``vif_type`` is :data:`VIF_TYPE_BRIDGE` (``details["bridge_name"]``: the
    Linux bridge the driver made for the port's network) or
    :data:`VIF_TYPE_TAP` (the driver plugs the tap itself), or another
    Neutron VIF type (``ovs``, ``other``...) the hypervisor may know. The
    Networking API shows them as the port's ``binding:vif_type`` and
    ``binding:vif_details``.
    """

    vif_type: str
    # Not hashed (a mapping is not hashable); compared like every other field.
    details: Mapping[str, VifDetail] = dataclasses.field(default_factory=lambda: _NO_DETAILS, hash=False)


@dataclasses.dataclass(frozen=True)
class Port:
    """A port of a network: a server's interface, a router's interface or gateway, a DHCP or floating IP port.

    ``device_owner`` says what it is: ``compute:<zone>`` (a server's, whose id
    is ``device_id``), ``network:router_interface``,
    ``network:router_gateway``, ``network:floatingip``, ``network:dhcp``.
    ``host`` is the host it is bound to (``binding:host_id``; empty when
    unbound; binding arrives as an ``update``), and ``vif_type``/``vif_details``
    what this driver's :meth:`NetworkDriver.port_binding_vif` said for it
    (:data:`VIF_TYPE_UNBOUND` and empty when unbound).
    Filtering: with ``port_security_enabled`` the port's traffic is that of its
    ``security_group_ids`` (ingress denied unless a rule allows it) and it may
    send only from its MAC and fixed IPs plus ``allowed_address_pairs``;
    without, nothing is filtered.
    """

    id: str
    network_id: str
    mac_address: str
    project_id: str = ""
    fixed_ips: tuple[FixedIP, ...] = ()
    device_owner: str = ""
    device_id: str = ""
    host: str = ""
    security_group_ids: tuple[str, ...] = ()
    port_security_enabled: bool = True
    allowed_address_pairs: tuple[AllowedAddressPair, ...] = ()
    admin_state_up: bool = True
    vif_type: str = VIF_TYPE_UNBOUND
    # Not hashed (a mapping is not hashable); compared like every other field.
    vif_details: Mapping[str, VifDetail] = dataclasses.field(default_factory=lambda: _NO_DETAILS, hash=False)

    @property
    def bound(self) -> bool:
        """Whether the port is bound to a host."""
        return bool(self.host)

    def addresses(self, version: int | None = None) -> tuple[str, ...]:
        """The fixed IP addresses, of one IP version when ``version`` is given."""
        return tuple(ip.ip_address for ip in self.fixed_ips if version is None or ip.version == version)


# -- routers and floating IPs --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class InterfaceIP:
    """An address of a router's port, with its subnet's prefix (what to put on the namespace's interface)."""

    subnet_id: str
    ip_address: str
    cidr: str

    @property
    def prefixlen(self) -> int:
        """The prefix length of :attr:`cidr`."""
        return _prefixlen(self.cidr)


@dataclasses.dataclass(frozen=True)
class RouterInterface:
    """A router's port on a network: an interface on a tenant subnet, or the gateway on the external network."""

    port_id: str
    network_id: str
    mac_address: str
    fixed_ips: tuple[InterfaceIP, ...] = ()


@dataclasses.dataclass(frozen=True)
class Route:
    """An extra route of a router: ``destination`` CIDR via ``nexthop``."""

    destination: str
    nexthop: str


@dataclasses.dataclass(frozen=True)
class FloatingIP:
    """An address of an external network, NATed to a port's fixed IP through a router when associated.

    ``port_id``, ``fixed_ip_address`` and ``router_id`` are all set (associated)
    or all None. The driver realises it as a DNAT/SNAT pair in ``router_id``'s
    router, the address on that router's gateway.
    """

    id: str
    floating_ip_address: str
    floating_network_id: str
    project_id: str = ""
    port_id: str | None = None
    fixed_ip_address: str | None = None
    router_id: str | None = None

    @property
    def associated(self) -> bool:
        """Whether the address reaches a port."""
        return self.port_id is not None


@dataclasses.dataclass(frozen=True)
class Router:
    """A router: interfaces on tenant subnets, a gateway on an external network, SNAT and floating IPs.

    ``external_network_id`` is None without a gateway; ``gateway`` is its
    port on that network (its ``fixed_ips`` the external fixed IPs). With
    ``enable_snat`` the interfaces' subnets reach the outside through SNAT to
    the gateway's address. ``floating_ips`` are the associated floating IPs
    this router NATs (a floating IP change also arrives as the router's ``update``).
    """

    id: str
    project_id: str
    name: str = ""
    admin_state_up: bool = True
    external_network_id: str | None = None
    gateway: RouterInterface | None = None
    enable_snat: bool = True
    routes: tuple[Route, ...] = ()
    interfaces: tuple[RouterInterface, ...] = ()
    floating_ips: tuple[FloatingIP, ...] = ()


# -- security groups -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SecurityGroupRule:
    """One rule of a security group: traffic it allows in one direction (everything else is dropped).

    ``protocol`` is a name (``"tcp"``, ``"udp"``, ``"icmp"``, ``"ipv6-icmp"``) or
    an IP protocol number as text, None for any; the port range is inclusive,
    None for any; for ICMP ``port_range_min`` is the type and
    ``port_range_max`` the code. The peer is ``remote_ip_prefix`` or the
    fixed IPs (and address pairs) of the member ports of ``remote_group_id``;
    neither: any.
    """

    id: str
    security_group_id: str
    direction: Direction
    ethertype: Ethertype
    protocol: str | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None


@dataclasses.dataclass(frozen=True)
class SecurityGroup:
    """A security group: its rules and the ports that are its members.

    ``stateful`` groups allow the replies of allowed connections (conntrack);
    a group change (rules, membership) arrives as its ``update``, and a
    membership change also as the member port's ``update``.
    """

    id: str
    name: str
    project_id: str
    stateful: bool = True
    rules: tuple[SecurityGroupRule, ...] = ()
    port_ids: tuple[str, ...] = ()


# -- the whole model -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Model:
    """Everything the network area holds, as :meth:`NetworkDriver.sync` receives it."""

    networks: tuple[Network, ...] = ()
    ports: tuple[Port, ...] = ()
    routers: tuple[Router, ...] = ()
    floating_ips: tuple[FloatingIP, ...] = ()
    security_groups: tuple[SecurityGroup, ...] = ()
