"""The names of what the driver makes, derived from resource ids (so ``sync`` finds them again).

Linux interface names hold at most 15 characters: the prefixes below plus the
first 11 characters of the resource id, as Neutron's Linux bridge agent names them.
Every port has a ``tap`` device on its network's bridge: a server's tap or the
bridge end of a veth whose other end (``qr-``, ``qg-``, ``ns-``) is in a namespace.
"""

from __future__ import annotations

IFNAME_MAX = 15
ID_CHARS = 11

BRIDGE_PREFIX = "brq"
TAP_PREFIX = "tap"
VXLAN_PREFIX = "vxlan-"
ROUTER_INTERFACE_PREFIX = "qr-"
ROUTER_GATEWAY_PREFIX = "qg-"
DHCP_INTERFACE_PREFIX = "ns-"
OUTSIDE_PREFIX = "cxg"  # the outside end of an external network's gateway veth

ROUTER_NS_PREFIX = "qrouter-"
DHCP_NS_PREFIX = "qdhcp-"


def _short(resource_id: str) -> str:
    return resource_id[:ID_CHARS]


def bridge(network_id: str) -> str:
    """The bridge of a network on every host."""
    return BRIDGE_PREFIX + _short(network_id)


def tap(port_id: str) -> str:
    """A port's device on its network's bridge."""
    return TAP_PREFIX + _short(port_id)


def vxlan(segmentation_id: int) -> str:
    """The VXLAN device of VNI ``segmentation_id``."""
    return f"{VXLAN_PREFIX}{segmentation_id}"[:IFNAME_MAX]


def router_interface(port_id: str) -> str:
    return ROUTER_INTERFACE_PREFIX + _short(port_id)


def router_gateway(port_id: str) -> str:
    return ROUTER_GATEWAY_PREFIX + _short(port_id)


def dhcp_interface(port_id: str) -> str:
    return DHCP_INTERFACE_PREFIX + _short(port_id)


def outside(network_id: str) -> str:
    """The outside end of the veth that gives an unmapped external network its gateway address."""
    return OUTSIDE_PREFIX + _short(network_id)


def router_namespace(router_id: str) -> str:
    return ROUTER_NS_PREFIX + router_id


def dhcp_namespace(network_id: str) -> str:
    return DHCP_NS_PREFIX + network_id


def id_prefix(name: str, prefix: str) -> str | None:
    """The id (or id prefix) a name made with ``prefix`` carries; None when it is not one of ours."""
    return name[len(prefix):] if name.startswith(prefix) and len(name) > len(prefix) else None
