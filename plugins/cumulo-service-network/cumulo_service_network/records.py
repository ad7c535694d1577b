"""The contract's records (:mod:`cumulo.contracts.network`) from the service's API views.

A leaf module: the components render a resource once, as the API dict
(:mod:`.views`), and the typed methods of the contract turn those dicts into
records here, so the two never disagree. It imports the contract only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import netaddr

from cumulo.contracts.network import (
    FixedIP,
    FloatingIP,
    InstancePort,
    NetworkSummary,
    SecurityGroup,
    SecurityGroupRule,
)


def fixed_ip(view: Mapping[str, Any], subnets: Mapping[str, Mapping[str, Any]] | None = None) -> FixedIP:
    """A port's fixed IP view; with the subnets' views (by id), their prefix, gateway, DNS and DHCP too."""
    address = str(view["ip_address"])
    version = view.get("version") or netaddr.IPAddress(address).version
    subnet_id = str(view.get("subnet_id") or "")
    subnet = (subnets or {}).get(subnet_id)
    if subnet is None:
        return FixedIP(ip_address=address, subnet_id=subnet_id, version=int(version))
    return FixedIP(ip_address=address, subnet_id=subnet_id, version=int(version),
                   prefixlen=netaddr.IPNetwork(subnet["cidr"]).prefixlen, gateway=subnet.get("gateway_ip") or None,
                   dns_nameservers=tuple(subnet.get("dns_nameservers") or ()),
                   dhcp=bool(subnet.get("enable_dhcp", True)))


def floating_ip(view: Mapping[str, Any]) -> FloatingIP:
    return FloatingIP(id=view["id"], floating_ip_address=view["floating_ip_address"],
                      floating_network_id=view["floating_network_id"], project_id=view.get("project_id") or "",
                      fixed_ip_address=view.get("fixed_ip_address"), port_id=view.get("port_id"),
                      router_id=view.get("router_id"), status=view.get("status") or "DOWN")


def instance_port(view: Mapping[str, Any], network: Mapping[str, Any] | None,
                  floating: Iterable[Mapping[str, Any]],
                  subnets: Mapping[str, Mapping[str, Any]] | None = None) -> InstancePort:
    """A port view, its network's view (None when gone), the floating IP views that reach it, and its subnets."""
    details = view.get("binding:vif_details") or {}
    return InstancePort(
        id=view["id"], network_id=view["network_id"], mac_address=view["mac_address"],
        fixed_ips=tuple(fixed_ip(ip, subnets) for ip in view.get("fixed_ips") or ()),
        security_groups=tuple(view.get("security_groups") or ()),
        floating_ips=tuple(floating_ip(f) for f in floating),
        network_name=(network or {}).get("name") or "", instance_uuid=view.get("device_id") or "",
        host=view.get("binding:host_id") or "", status=view.get("status") or "DOWN",
        port_security_enabled=bool(view.get("port_security_enabled", True)),
        mtu=(network or {}).get("mtu"), vif_type=view.get("binding:vif_type") or "unbound",
        vif_details={str(k): str(v) for k, v in details.items()})


def network_summary(view: Mapping[str, Any]) -> NetworkSummary:
    return NetworkSummary(id=view["id"], name=view.get("name") or "", project_id=view.get("project_id") or "",
                          status=view.get("status") or "ACTIVE", admin_state_up=bool(view.get("admin_state_up")),
                          shared=bool(view.get("shared")), external=bool(view.get("router:external")),
                          is_default=bool(view.get("is_default")), mtu=int(view.get("mtu") or 1500),
                          port_security_enabled=bool(view.get("port_security_enabled", True)),
                          subnet_ids=tuple(view.get("subnets") or ()))


def security_group_rule(view: Mapping[str, Any]) -> SecurityGroupRule:
    return SecurityGroupRule(id=view["id"], security_group_id=view["security_group_id"],
                             direction=view["direction"], ethertype=view["ethertype"],
                             protocol=view.get("protocol"), port_range_min=view.get("port_range_min"),
                             port_range_max=view.get("port_range_max"),
                             remote_ip_prefix=view.get("remote_ip_prefix"),
                             remote_group_id=view.get("remote_group_id"), description=view.get("description") or "",
                             project_id=view.get("project_id") or "")


def security_group(view: Mapping[str, Any]) -> SecurityGroup:
    return SecurityGroup(id=view["id"], name=view.get("name") or "", project_id=view.get("project_id") or "",
                         description=view.get("description") or "", stateful=bool(view.get("stateful", True)),
                         rules=tuple(security_group_rule(r) for r in view.get("security_group_rules") or ()))
