"""Networking errors, named like Neutron's (the API renders the class name as the fault ``type``)."""

from __future__ import annotations

from cumulo import exception


class NetworkNotFound(exception.NotFound):
    msg_fmt = "Network %(id)s could not be found."


class SubnetNotFound(exception.NotFound):
    msg_fmt = "Subnet %(id)s could not be found."


class SubnetPoolNotFound(exception.NotFound):
    msg_fmt = "Subnet pool %(id)s could not be found."


class PortNotFound(exception.NotFound):
    msg_fmt = "Port %(id)s could not be found."


class RouterNotFound(exception.NotFound):
    msg_fmt = "Router %(id)s could not be found."


class FloatingIPNotFound(exception.NotFound):
    msg_fmt = "Floating IP %(id)s could not be found."


class SecurityGroupNotFound(exception.NotFound):
    msg_fmt = "Security group %(id)s does not exist."


class SecurityGroupRuleNotFound(exception.NotFound):
    msg_fmt = "Security group rule %(id)s does not exist."


class TagNotFound(exception.NotFound):
    msg_fmt = "Tag %(tag)s could not be found for %(resource)s %(id)s."


class RouterInterfaceNotFoundForSubnet(exception.NotFound):
    msg_fmt = "Router %(router_id)s has no interface on subnet %(subnet_id)s."


class RouterInterfaceNotFound(exception.NotFound):
    msg_fmt = "Router %(router_id)s does not have an interface with id %(port_id)s."


class ExternalGatewayForFloatingIPNotFound(exception.NotFound):
    msg_fmt = ("External network %(external_network_id)s is not reachable from subnet %(subnet_id)s. "
               "Therefore, cannot associate Port %(port_id)s with a Floating IP.")


class BadRequest(exception.Invalid):
    msg_fmt = "%(reason)s"


class InvalidInput(exception.Invalid):
    msg_fmt = "Invalid input for operation: %(error_message)s."


class InvalidIpForNetwork(exception.Invalid):
    msg_fmt = "IP address %(ip_address)s is not a valid IP for any of the subnets on the specified network."


class InvalidIpForSubnet(exception.Invalid):
    msg_fmt = "IP address %(ip_address)s is not a valid IP for the specified subnet."


class PolicyNotAuthorized(exception.Forbidden):
    msg_fmt = "(rule:%(action)s) is disallowed by policy."


class NetworkInUse(exception.Conflict):
    msg_fmt = ("Unable to complete operation on network %(net_id)s. "
               "There are one or more ports still in use on the network.")


class SubnetInUse(exception.Conflict):
    msg_fmt = ("Unable to complete operation on subnet %(subnet_id)s: "
               "One or more ports have an IP allocation from this subnet.")


class SubnetPoolInUse(exception.Conflict):
    msg_fmt = "Unable to complete operation on subnet pool %(subnet_pool_id)s: %(reason)s"


class PortInUse(exception.Conflict):
    msg_fmt = ("Unable to complete operation on port %(port_id)s for network %(net_id)s. "
               "Port already has an attached device %(device_id)s.")


class L3PortInUse(exception.Conflict):
    msg_fmt = ("Port %(port_id)s cannot be deleted directly via the port API: "
               "has device owner %(device_owner)s.")


class RouterInUse(exception.Conflict):
    msg_fmt = "Router %(router_id)s %(reason)s"


class RouterInterfaceInUseByFloatingIP(exception.Conflict):
    msg_fmt = ("Router interface for subnet %(subnet_id)s on router %(router_id)s cannot be deleted, "
               "as it is required by one or more floating IPs.")


class RouterExternalGatewayInUseByFloatingIp(exception.Conflict):
    msg_fmt = ("Gateway cannot be updated for router %(router_id)s, since a gateway to external network "
               "%(net_id)s is required by one or more floating IPs.")


class IpAddressGenerationFailure(exception.Conflict):
    msg_fmt = "No more IP addresses available on network %(net_id)s."


class IpAddressAlreadyAllocated(exception.Conflict):
    msg_fmt = "IP address %(ip)s already allocated in subnet %(subnet_id)s"


class MacAddressInUse(exception.Conflict):
    msg_fmt = "Unable to complete operation for network %(net_id)s. The mac address %(mac)s is in use."


class FloatingIPPortAlreadyAssociated(exception.Conflict):
    msg_fmt = ("Cannot associate floating IP %(floating_ip_address)s (%(fip_id)s) with port %(port_id)s "
               "using fixed IP %(fixed_ip)s, as that fixed IP already has a floating IP on external network "
               "%(net_id)s.")


class SecurityGroupInUse(exception.Conflict):
    msg_fmt = "Security Group %(id)s %(reason)s."


class SecurityGroupCannotRemoveDefault(exception.Conflict):
    msg_fmt = "Removing default security group not allowed."


class SecurityGroupRuleExists(exception.Conflict):
    msg_fmt = "Security group rule already exists. Rule id is %(rule_id)s."


class PortSecurityAndIPRequiredForSecurityGroups(exception.Invalid):
    msg_fmt = "Port security must be enabled and port must have an IP address in order to use security groups."


class AddressPairAndPortSecurityRequired(exception.Conflict):
    msg_fmt = "Port Security must be enabled in order to have allowed address pairs on a port."


class FlatNetworkInUse(exception.Conflict):
    msg_fmt = "Unable to create the flat network. Physical network %(physical_network)s is in use."


class VlanIdInUse(exception.Conflict):
    msg_fmt = ("Unable to create the network. The VLAN %(vlan_id)s on physical network "
               "%(physical_network)s is in use.")


class OverQuota(exception.Conflict):
    msg_fmt = "Quota exceeded for resources: ['%(overs)s']."


class AutoAllocationFailure(exception.Conflict):
    msg_fmt = "Deployment error: %(reason)s"


class NetworkAmbiguous(exception.Conflict):
    msg_fmt = "Multiple possible networks found, use a Network ID to be more specific."


class SecurityGroupAmbiguous(exception.Conflict):
    msg_fmt = "Multiple security groups named '%(name)s' exist; use its ID."


class GatewayConflictWithAllocationPools(exception.Conflict):
    msg_fmt = "Gateway ip %(ip_address)s conflicts with allocation pool %(pool)s."


class GatewayIpInUse(exception.Conflict):
    msg_fmt = "IP address %(ip_address)s is the gateway of subnet %(subnet_id)s and cannot be used by this port."


class PortSecurityPortHasSecurityGroup(exception.Conflict):
    msg_fmt = ("Port has security group associated. Cannot disable port security or ip address until "
               "security group is removed.")
