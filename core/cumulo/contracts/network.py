"""The network area's contract: what ``hub.network`` shares with other areas and frontends.

The network service (``cumulo_service_network``) raises the errors below,
all :class:`NetworkError` and named like Neutron's (the Networking API
renders the class name as the fault ``type``). Other areas and frontends read
the area through typed, protocol-neutral records: the port bound to a server
(:class:`InstancePort`, with its :class:`FixedIP` and :class:`FloatingIP`
addresses), a :class:`NetworkSummary`, a :class:`SecurityGroup` with its
:class:`SecurityGroupRule` entries. :class:`NetworkService` is what the
compute area (and any frontend that manages servers) may call; the service
implements it. The Networking API frontend keeps using the service's
Neutron-shaped dict methods, which are not part of this contract.

Neither side imports the other: both import this module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Literal, Protocol, TypeAlias, runtime_checkable

from cumulo import exception
from cumulo.context import RequestContext

#: Version of this contract ("MAJOR.MINOR"): a new record field with a default,
#: error or method is a minor change, a removed or renamed one a major change.
CONTRACT_VERSION = "1.3"  # 1.1: FixedIP carries its subnet's prefix, gateway, DNS, DHCP; 1.2: attach/detach one port;
# 1.3: security groups and their rules managed, floating IPs allocated, associated and released (the Compute
# API's proxies)

__all__ = [
    "AUTO", "CONTRACT_VERSION", "NONE", "Direction", "Ethertype", "FixedIP", "FloatingIP", "InstancePort",
    "NetworkError", "NetworkRequest", "NetworkService", "NetworkSummary", "RequestedNetwork", "SecurityGroup",
    "SecurityGroupRule",
    # errors
    "AddressPairAndPortSecurityRequired", "AutoAllocationFailure", "BadRequest",
    "ExternalGatewayForFloatingIPNotFound", "FlatNetworkInUse", "FloatingIPNotFound",
    "FloatingIPPortAlreadyAssociated", "GatewayConflictWithAllocationPools", "GatewayIpInUse", "InvalidInput",
    "InvalidIpForNetwork", "InvalidIpForSubnet", "IpAddressAlreadyAllocated", "IpAddressGenerationFailure",
    "L3PortInUse", "MacAddressInUse", "NetworkAmbiguous", "NetworkInUse", "NetworkNotFound", "OverQuota",
    "PolicyNotAuthorized", "PortInUse", "PortNotFound", "PortSecurityAndIPRequiredForSecurityGroups",
    "PortSecurityPortHasSecurityGroup", "RouterExternalGatewayInUseByFloatingIp", "RouterInUse",
    "RouterInterfaceInUseByFloatingIP", "RouterInterfaceNotFound", "RouterInterfaceNotFoundForSubnet",
    "RouterNotFound", "SecurityGroupAmbiguous", "SecurityGroupCannotRemoveDefault", "SecurityGroupInUse",
    "SecurityGroupNotFound", "SecurityGroupRuleExists", "SecurityGroupRuleNotFound", "SubnetInUse",
    "SubnetNotFound", "SubnetPoolInUse", "SubnetPoolNotFound", "TagNotFound", "VlanIdInUse",
]

# -- records -----------------------------------------------------------------------------------

#: Which way a security group rule lets traffic through, seen from the port.
Direction: TypeAlias = Literal["ingress", "egress"]
#: The IP version a security group rule applies to.
Ethertype: TypeAlias = Literal["IPv4", "IPv6"]

#: A server's network request: pick or build the project's network ("auto"), no network at all ("none").
AUTO: Literal["auto"] = "auto"
NONE: Literal["none"] = "none"


@dataclasses.dataclass(frozen=True)
class RequestedNetwork:
    """One network a new server asks for: a network (optionally with a fixed IP on it) or an existing port.

    Give ``port_id`` to plug in a port the user made (its network is the
    port's), or ``network_id`` for a new port there, with ``fixed_ip`` when the
    user chose the address.
    """

    network_id: str | None = None
    port_id: str | None = None
    fixed_ip: str | None = None


#: What a server asks for: :data:`AUTO`, :data:`NONE` or the networks and ports, in order.
NetworkRequest: TypeAlias = Literal["auto", "none"] | Sequence[RequestedNetwork]


@dataclasses.dataclass(frozen=True)
class FixedIP:
    """An address a port holds on one of its network's subnets, with what a guest needs to configure it.

    ``prefixlen``, ``gateway``, ``dns_nameservers`` and ``dhcp`` are the subnet's (contract 1.1;
    None/empty when the subnet is unknown).
    """

    ip_address: str
    subnet_id: str
    version: int  # 4 or 6
    prefixlen: int | None = None
    gateway: str | None = None
    dns_nameservers: tuple[str, ...] = ()
    dhcp: bool = True


@dataclasses.dataclass(frozen=True)
class FloatingIP:
    """An address of an external network, NATed to a port's fixed IP when associated."""

    id: str
    floating_ip_address: str
    floating_network_id: str
    project_id: str
    fixed_ip_address: str | None = None
    port_id: str | None = None
    router_id: str | None = None
    #: "ACTIVE" when associated with a port, "DOWN" otherwise (Neutron's values).
    status: str = "DOWN"

    @property
    def associated(self) -> bool:
        """Whether the address reaches a port."""
        return self.port_id is not None


@dataclasses.dataclass(frozen=True)
class InstancePort:
    """A port bound to a server: what a hypervisor plugs and what the server's addresses are.

    ``vif_type`` and ``vif_details`` are what the ``[network] driver`` says
    the host must plug (``"unbound"`` and empty for a port bound to no host);
    ``mtu`` is the network's. ``security_groups`` are group ids.
    """

    id: str
    network_id: str
    mac_address: str
    fixed_ips: tuple[FixedIP, ...] = ()
    security_groups: tuple[str, ...] = ()
    floating_ips: tuple[FloatingIP, ...] = ()
    network_name: str = ""
    instance_uuid: str = ""
    host: str = ""
    status: str = "DOWN"
    port_security_enabled: bool = True
    mtu: int | None = None
    vif_type: str = "unbound"
    # Not hashed (a mapping is not hashable); compared like every other field.
    vif_details: Mapping[str, str] = dataclasses.field(default_factory=dict, hash=False)

    def addresses(self, version: int | None = None) -> tuple[str, ...]:
        """The fixed IP addresses, of one IP version when ``version`` is given."""
        return tuple(ip.ip_address for ip in self.fixed_ips if version is None or ip.version == version)


@dataclasses.dataclass(frozen=True)
class NetworkSummary:
    """A network as another area sees it: identity, reach and subnets (not its provider details)."""

    id: str
    name: str
    project_id: str
    status: str
    admin_state_up: bool = True
    shared: bool = False
    #: A ``router:external`` network: where floating IPs and router gateways come from.
    external: bool = False
    #: The external network auto-allocated topologies use.
    is_default: bool = False
    mtu: int = 1500
    port_security_enabled: bool = True
    subnet_ids: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class SecurityGroupRule:
    """One rule of a security group: traffic it allows in one direction.

    ``protocol`` is a name (``"tcp"``) or an IP protocol number as text, None
    for any; for ICMP the port range holds the type and code. The peer is
    ``remote_ip_prefix`` or the ports of ``remote_group_id`` (neither: any).
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
    description: str = ""
    project_id: str = ""


@dataclasses.dataclass(frozen=True)
class SecurityGroup:
    """A project's security group with its rules."""

    id: str
    name: str
    project_id: str
    description: str = ""
    stateful: bool = True
    rules: tuple[SecurityGroupRule, ...] = ()


# -- the service ---------------------------------------------------------------------------------


@runtime_checkable
class NetworkService(Protocol):
    """What other areas call on ``hub.network`` for servers, with the records above.

    Every method takes the caller's :class:`~cumulo.context.RequestContext`;
    what the caller may see and change is the service's to decide (a
    project's own and shared resources, everything for an administrator).
    Errors are :class:`NetworkError` or the kernel's
    :mod:`cumulo.exception` types named in each method.
    """

    def validate_networks(self, ctx: RequestContext, requested_networks: NetworkRequest | None,
                          num_instances: int = 1) -> int:
        """Check a server create's networks before the server exists; nothing is created.

        ``None`` is "the project's one network if it has exactly one, none if it
        has none"; with several it is as ambiguous as :data:`AUTO`. Returns how
        many instances fit (``num_instances``).

        :raises cumulo.exception.Invalid: a network without a subnet, a bad fixed IP, one port or fixed IP
            for several instances.
        :raises NetworkNotFound: an unknown (or another project's) network.
        :raises PortNotFound: an unknown port.
        :raises PortInUse: the port is attached to another device.
        :raises NetworkAmbiguous: :data:`AUTO` or ``None`` with several usable networks.
        :raises AutoAllocationFailure: :data:`AUTO` would build a topology but there is no default
            external network.
        :raises cumulo.exception.QuotaExceeded: not enough ports left in the project's quota.
        """
        ...

    def validate_security_groups(self, ctx: RequestContext, security_groups: Sequence[str] | None) -> list[str]:
        """Check a server create's security groups (names or ids); return their ids. Read only.

        ``"default"`` is always valid for a project (the group is created on first use).

        :raises SecurityGroupNotFound: no such group the caller can see.
        :raises SecurityGroupAmbiguous: a name two of the project's groups share.
        """
        ...

    def allocate_instance_ports(self, ctx: RequestContext, instance_uuid: str, host: str,
                                requested_networks: NetworkRequest | None,
                                security_groups: Sequence[str] | None = None,
                                availability_zone: str = "nova") -> list[InstancePort]:
        """Create (or bind the user's) ports for a server on ``host``; return the server's ports.

        New ports join ``security_groups`` (default: the project's ``default``
        group) unless their network disables port security. :data:`AUTO`
        builds the project's auto-allocated topology when it has no network.
        On failure everything done so far is undone before the error propagates.

        :raises: what :meth:`validate_networks` and :meth:`validate_security_groups` raise, and
            :class:`IpAddressGenerationFailure` when a network has no free address left.
        """
        ...

    def attach_instance_port(self, ctx: RequestContext, instance_uuid: str, host: str,
                             requested: RequestedNetwork, availability_zone: str = "nova") -> InstancePort:
        """Give a running server one more port on ``host`` (contract 1.2): the interface it hot-plugs.

        With ``requested.port_id`` the user's port is bound to the server (its
        security groups stay its own); with ``requested.network_id`` a new port
        is made there (on ``requested.fixed_ip`` when given) in the project's
        ``default`` group unless the network disables port security. The port
        made here is deleted by :meth:`detach_instance_port` and
        :meth:`deallocate_for_instance`; the user's is only unbound. Returns the
        port with its addresses.

        :raises cumulo.exception.Invalid: neither a port nor a network, a network without a subnet,
            a malformed fixed IP.
        :raises NetworkNotFound: an unknown (or another project's) network.
        :raises PortNotFound: an unknown (or another project's) port.
        :raises PortInUse: the port is attached to a device already.
        :raises InvalidIpForNetwork: the fixed IP is on none of the network's subnets.
        :raises cumulo.exception.Conflict: the fixed IP is taken, or the port is still bound to a host.
        :raises IpAddressGenerationFailure: the network has no free address left.
        :raises cumulo.exception.QuotaExceeded: no port left in the project's quota.
        """
        ...

    def detach_instance_port(self, ctx: RequestContext, instance_uuid: str, port_id: str) -> None:
        """Take one port from a server (contract 1.2): delete it if it was made for the server, else unbind it.

        :raises PortNotFound: ``port_id`` is not a port of that server.
        """
        ...

    def deallocate_for_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Delete the ports made for the server and unbind the user's ones (floating IPs are disassociated).

        Idempotent: a server without ports is not an error.
        """
        ...

    def instance_ports(self, ctx: RequestContext, instance_uuid: str) -> list[InstancePort]:
        """The server's ports (oldest first) with their addresses, groups and floating IPs; [] when none."""
        ...

    def instance_security_groups(self, ctx: RequestContext, instance_uuid: str) -> list[SecurityGroup]:
        """The security groups of the server's ports, by name."""
        ...

    def add_security_group_to_instance(self, ctx: RequestContext, instance_uuid: str, group: str) -> None:
        """Add a group (name or id) to every port of the server.

        :raises cumulo.exception.NotFound: the server has no port the caller can see.
        :raises SecurityGroupNotFound: no such group.
        :raises SecurityGroupAmbiguous: the name is shared by two groups.
        :raises cumulo.exception.Invalid: the group is already on the server, or a port disables port security.
        """
        ...

    def remove_security_group_from_instance(self, ctx: RequestContext, instance_uuid: str, group: str) -> None:
        """Remove a group (name or id) from the server's ports.

        :raises cumulo.exception.NotFound: the server has no port the caller can see.
        :raises SecurityGroupNotFound: no such group.
        :raises cumulo.exception.Invalid: the group is not on the server.
        """
        ...

    def instance_by_address(self, ctx: RequestContext, address: str, network_id: str | None = None) -> str | None:
        """The server (uuid) whose port holds fixed IP ``address``: how the metadata service knows its caller.

        Only ports bound to a server count. Without ``network_id`` an address
        several servers hold (overlapping project networks) answers None, as
        does an unknown or malformed address; IPv4-mapped IPv6 addresses are
        read as IPv4.

        :raises PolicyNotAuthorized: ``ctx`` is not an administrator's.
        """
        ...

    def network_summaries(self, ctx: RequestContext) -> list[NetworkSummary]:
        """The networks the caller can see (its own, shared and external ones), oldest first."""
        ...

    def floating_ips(self, ctx: RequestContext) -> list[FloatingIP]:
        """The caller's project's floating IPs (every project's for an administrator), oldest first."""
        ...

    # -- 1.3: what the Compute API's legacy proxies manage -------------------------------------

    def project_security_groups(self, ctx: RequestContext) -> list[SecurityGroup]:
        """The caller's project's security groups (every project's for an administrator), oldest first.

        The project's ``default`` group is made first when it has none.
        """
        ...

    def security_group(self, ctx: RequestContext, group_id: str) -> SecurityGroup:
        """One group with its rules. :raises SecurityGroupNotFound: no such group the caller can see."""
        ...

    def add_security_group(self, ctx: RequestContext, name: str, description: str = "") -> SecurityGroup:
        """A new group of the caller's project (egress allowed, as every new group).

        :raises cumulo.exception.Conflict: ``name`` is ``default``.
        :raises OverQuota: the project has its quota of groups.
        """
        ...

    def edit_security_group(self, ctx: RequestContext, group_id: str, name: str | None = None,
                            description: str | None = None) -> SecurityGroup:
        """Rename a group or change its description.

        :raises SecurityGroupNotFound: no such group the caller can see.
        :raises cumulo.exception.Conflict: renaming the default group, or naming another one ``default``.
        """
        ...

    def drop_security_group(self, ctx: RequestContext, group_id: str) -> None:
        """Delete a group and its rules.

        :raises SecurityGroupNotFound: no such group the caller can see.
        :raises SecurityGroupCannotRemoveDefault: the project's default group (for a non-administrator).
        :raises SecurityGroupInUse: ports are members of it.
        """
        ...

    def add_security_group_rule(self, ctx: RequestContext, group_id: str, *, direction: Direction = "ingress",
                                ethertype: Ethertype = "IPv4", protocol: str | None = None,
                                port_range_min: int | None = None, port_range_max: int | None = None,
                                remote_ip_prefix: str | None = None,
                                remote_group_id: str | None = None) -> SecurityGroupRule:
        """A new rule of group ``group_id``.

        :raises SecurityGroupNotFound: no such group (or remote group) the caller can see.
        :raises InvalidInput: a bad protocol, port range or prefix.
        :raises SecurityGroupRuleExists: the group has the same rule.
        """
        ...

    def drop_security_group_rule(self, ctx: RequestContext, rule_id: str) -> None:
        """Delete a rule. :raises SecurityGroupRuleNotFound: no such rule the caller can see."""
        ...

    def floating_ip(self, ctx: RequestContext, fip_id: str) -> FloatingIP:
        """One floating IP. :raises FloatingIPNotFound: no such floating IP the caller can see."""
        ...

    def allocate_floating_ip(self, ctx: RequestContext, network: str | None = None) -> FloatingIP:
        """A new floating IP of the caller's project from external network ``network`` (id or name).

        None is the default external network.

        :raises NetworkNotFound: no such external network.
        :raises IpAddressGenerationFailure: the network has no free address.
        :raises OverQuota: the project has its quota of floating IPs.
        """
        ...

    def associate_floating_ip(self, ctx: RequestContext, fip_id: str, port_id: str,
                              fixed_ip: str | None = None) -> FloatingIP:
        """NAT the floating IP to a fixed IPv4 address of ``port_id`` (it leaves any other port).

        :raises FloatingIPNotFound: no such floating IP.
        :raises PortNotFound: no such port.
        :raises BadRequest: the port has no (or not that) IPv4 address.
        :raises ExternalGatewayForFloatingIPNotFound: no router joins the port's subnet to the floating IP's network.
        """
        ...

    def disassociate_floating_ip(self, ctx: RequestContext, fip_id: str) -> FloatingIP:
        """Take the floating IP off its port. :raises FloatingIPNotFound: no such floating IP."""
        ...

    def release_floating_ip(self, ctx: RequestContext, fip_id: str) -> None:
        """Give the floating IP back. :raises FloatingIPNotFound: no such floating IP the caller can see."""
        ...


# -- errors --------------------------------------------------------------------------------------


class NetworkError(exception.CumuloError):
    """Base of the network area's errors; each is also the kernel error that gives its status.

    ``NetworkNotFound`` is a :class:`cumulo.exception.NotFound` (404),
    ``NetworkInUse`` a :class:`cumulo.exception.Conflict` (409)... The class
    name is Neutron's exception name.
    """


class NetworkNotFound(NetworkError, exception.NotFound):
    msg_fmt = "Network %(id)s could not be found."


class SubnetNotFound(NetworkError, exception.NotFound):
    msg_fmt = "Subnet %(id)s could not be found."


class SubnetPoolNotFound(NetworkError, exception.NotFound):
    msg_fmt = "Subnet pool %(id)s could not be found."


class PortNotFound(NetworkError, exception.NotFound):
    msg_fmt = "Port %(id)s could not be found."


class RouterNotFound(NetworkError, exception.NotFound):
    msg_fmt = "Router %(id)s could not be found."


class FloatingIPNotFound(NetworkError, exception.NotFound):
    msg_fmt = "Floating IP %(id)s could not be found."


class SecurityGroupNotFound(NetworkError, exception.NotFound):
    msg_fmt = "Security group %(id)s does not exist."


class SecurityGroupRuleNotFound(NetworkError, exception.NotFound):
    msg_fmt = "Security group rule %(id)s does not exist."


class TagNotFound(NetworkError, exception.NotFound):
    msg_fmt = "Tag %(tag)s could not be found for %(resource)s %(id)s."


class RouterInterfaceNotFoundForSubnet(NetworkError, exception.NotFound):
    msg_fmt = "Router %(router_id)s has no interface on subnet %(subnet_id)s."


class RouterInterfaceNotFound(NetworkError, exception.NotFound):
    msg_fmt = "Router %(router_id)s does not have an interface with id %(port_id)s."


class ExternalGatewayForFloatingIPNotFound(NetworkError, exception.NotFound):
    msg_fmt = ("External network %(external_network_id)s is not reachable from subnet %(subnet_id)s. "
               "Therefore, cannot associate Port %(port_id)s with a Floating IP.")


class BadRequest(NetworkError, exception.Invalid):
    msg_fmt = "%(reason)s"


class InvalidInput(NetworkError, exception.Invalid):
    msg_fmt = "Invalid input for operation: %(error_message)s."


class InvalidIpForNetwork(NetworkError, exception.Invalid):
    msg_fmt = "IP address %(ip_address)s is not a valid IP for any of the subnets on the specified network."


class InvalidIpForSubnet(NetworkError, exception.Invalid):
    msg_fmt = "IP address %(ip_address)s is not a valid IP for the specified subnet."


class PolicyNotAuthorized(NetworkError, exception.Forbidden):
    msg_fmt = "(rule:%(action)s) is disallowed by policy."


class NetworkInUse(NetworkError, exception.Conflict):
    msg_fmt = ("Unable to complete operation on network %(net_id)s. "
               "There are one or more ports still in use on the network.")


class SubnetInUse(NetworkError, exception.Conflict):
    msg_fmt = ("Unable to complete operation on subnet %(subnet_id)s: "
               "One or more ports have an IP allocation from this subnet.")


class SubnetPoolInUse(NetworkError, exception.Conflict):
    msg_fmt = "Unable to complete operation on subnet pool %(subnet_pool_id)s: %(reason)s"


class PortInUse(NetworkError, exception.Conflict):
    msg_fmt = ("Unable to complete operation on port %(port_id)s for network %(net_id)s. "
               "Port already has an attached device %(device_id)s.")


class L3PortInUse(NetworkError, exception.Conflict):
    msg_fmt = ("Port %(port_id)s cannot be deleted directly via the port API: "
               "has device owner %(device_owner)s.")


class RouterInUse(NetworkError, exception.Conflict):
    msg_fmt = "Router %(router_id)s %(reason)s"


class RouterInterfaceInUseByFloatingIP(NetworkError, exception.Conflict):
    msg_fmt = ("Router interface for subnet %(subnet_id)s on router %(router_id)s cannot be deleted, "
               "as it is required by one or more floating IPs.")


class RouterExternalGatewayInUseByFloatingIp(NetworkError, exception.Conflict):
    msg_fmt = ("Gateway cannot be updated for router %(router_id)s, since a gateway to external network "
               "%(net_id)s is required by one or more floating IPs.")


class IpAddressGenerationFailure(NetworkError, exception.Conflict):
    msg_fmt = "No more IP addresses available on network %(net_id)s."


class IpAddressAlreadyAllocated(NetworkError, exception.Conflict):
    msg_fmt = "IP address %(ip)s already allocated in subnet %(subnet_id)s"


class MacAddressInUse(NetworkError, exception.Conflict):
    msg_fmt = "Unable to complete operation for network %(net_id)s. The mac address %(mac)s is in use."


class FloatingIPPortAlreadyAssociated(NetworkError, exception.Conflict):
    msg_fmt = ("Cannot associate floating IP %(floating_ip_address)s (%(fip_id)s) with port %(port_id)s "
               "using fixed IP %(fixed_ip)s, as that fixed IP already has a floating IP on external network "
               "%(net_id)s.")


class SecurityGroupInUse(NetworkError, exception.Conflict):
    msg_fmt = "Security Group %(id)s %(reason)s."


class SecurityGroupCannotRemoveDefault(NetworkError, exception.Conflict):
    msg_fmt = "Removing default security group not allowed."


class SecurityGroupRuleExists(NetworkError, exception.Conflict):
    msg_fmt = "Security group rule already exists. Rule id is %(rule_id)s."


class PortSecurityAndIPRequiredForSecurityGroups(NetworkError, exception.Invalid):
    msg_fmt = "Port security must be enabled and port must have an IP address in order to use security groups."


class AddressPairAndPortSecurityRequired(NetworkError, exception.Conflict):
    msg_fmt = "Port Security must be enabled in order to have allowed address pairs on a port."


class FlatNetworkInUse(NetworkError, exception.Conflict):
    msg_fmt = "Unable to create the flat network. Physical network %(physical_network)s is in use."


class VlanIdInUse(NetworkError, exception.Conflict):
    msg_fmt = ("Unable to create the network. The VLAN %(vlan_id)s on physical network "
               "%(physical_network)s is in use.")


class OverQuota(NetworkError, exception.Conflict):
    msg_fmt = "Quota exceeded for resources: ['%(overs)s']."


class AutoAllocationFailure(NetworkError, exception.Conflict):
    msg_fmt = "Deployment error: %(reason)s"


class NetworkAmbiguous(NetworkError, exception.Conflict):
    msg_fmt = "Multiple possible networks found, use a Network ID to be more specific."


class SecurityGroupAmbiguous(NetworkError, exception.Conflict):
    msg_fmt = "Multiple security groups named '%(name)s' exist; use its ID."


class GatewayConflictWithAllocationPools(NetworkError, exception.Conflict):
    msg_fmt = "Gateway ip %(ip_address)s conflicts with allocation pool %(pool)s."


class GatewayIpInUse(NetworkError, exception.Conflict):
    msg_fmt = "IP address %(ip_address)s is the gateway of subnet %(subnet_id)s and cannot be used by this port."


class PortSecurityPortHasSecurityGroup(NetworkError, exception.Conflict):
    msg_fmt = ("Port has security group associated. Cannot disable port security or ip address until "
               "security group is removed.")
