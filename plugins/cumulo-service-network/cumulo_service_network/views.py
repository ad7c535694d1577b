"""API views of the network model: the dicts frontends return, built from rows.

Plain functions of a session and rows, shared by every component of the
network service. A leaf module: it imports the models,
:mod:`cumulo_service_network.common` and :mod:`cumulo_service_network.driver_records`
(for the port queries it shares and how the driver binds a port) only.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

import cumulo_service_network.common as c
import cumulo_service_network.driver_records as driver_records
import cumulo_service_network.models as models
from cumulo.interfaces.network import NetworkDriver


def network_views(session: orm.Session, nets: list[models.Network]) -> list[dict[str, Any]]:
    ids = [n.id for n in nets]
    subnets: dict[str, list[str]] = {i: [] for i in ids}
    for sid, nid in c.in_chunks(session, lambda ch: sa.select(models.Subnet.id, models.Subnet.network_id)
                                .where(models.Subnet.network_id.in_(ch)), ids):
        subnets[nid].append(sid)
    tags = c.tags_of(session, ids)
    out = []
    for n in nets:
        view = c.standard(n, tags[n.id])
        view.update({
            "admin_state_up": n.admin_state_up, "status": n.status, "subnets": sorted(subnets[n.id]),
            "shared": n.shared, "router:external": n.external, "is_default": n.is_default,
            "provider:network_type": n.network_type, "provider:physical_network": n.physical_network,
            "provider:segmentation_id": n.segmentation_id, "mtu": n.mtu,
            "port_security_enabled": n.port_security_enabled, "availability_zone_hints": [],
            "availability_zones": ["nova"], "ipv4_address_scope": None, "ipv6_address_scope": None,
            "l2_adjacency": True,
        })
        out.append(view)
    return out


def subnet_views(s: orm.Session, subnets: list[models.Subnet]) -> list[dict[str, Any]]:
    tags = c.tags_of(s, [x.id for x in subnets])
    out = []
    for sub in subnets:
        view = c.standard(sub, tags[sub.id])
        view.update({
            "network_id": sub.network_id, "ip_version": sub.ip_version, "cidr": sub.cidr,
            "gateway_ip": sub.gateway_ip, "enable_dhcp": sub.enable_dhcp,
            "dns_nameservers": list(sub.dns_nameservers or []), "host_routes": list(sub.host_routes or []),
            "allocation_pools": list(sub.allocation_pools or []), "ipv6_ra_mode": sub.ipv6_ra_mode,
            "ipv6_address_mode": sub.ipv6_address_mode, "subnetpool_id": sub.subnetpool_id,
            "service_types": [], "segment_id": None,
        })
        out.append(view)
    return out


def subnetpool_views(s: orm.Session, pools: list[models.SubnetPool]) -> list[dict[str, Any]]:
    tags = c.tags_of(s, [p.id for p in pools])
    out = []
    for p in pools:
        view = c.standard(p, tags[p.id])
        view.update({"ip_version": p.ip_version, "prefixes": list(p.prefixes),
                     "default_prefixlen": p.default_prefixlen, "min_prefixlen": p.min_prefixlen,
                     "max_prefixlen": p.max_prefixlen, "shared": p.shared, "is_default": p.is_default,
                     "address_scope_id": None, "default_quota": None})
        out.append(view)
    return out


def port_views(s: orm.Session, ports: list[models.Port], driver: NetworkDriver) -> list[dict[str, Any]]:
    """Port views; ``driver`` says how a bound port is plugged (``binding:vif_type``, ``binding:vif_details``)."""
    ids = [p.id for p in ports]
    ips = driver_records.fixed_ips_by_port(s, ids)
    sgs = driver_records.groups_by_port(s, ids)
    tags = c.tags_of(s, ids)
    out = []
    for p in ports:
        view = c.standard(p, tags[p.id])
        vif = driver_records.binding(driver, p, ips[p.id], sgs[p.id])
        view.update({
            "network_id": p.network_id, "mac_address": p.mac_address, "admin_state_up": p.admin_state_up,
            "status": p.status, "device_id": p.device_id, "device_owner": p.device_owner,
            "fixed_ips": [{"subnet_id": ip.subnet_id, "ip_address": ip.ip_address} for ip in ips[p.id]],
            "security_groups": sorted(sgs[p.id]),
            "allowed_address_pairs": list(p.allowed_address_pairs or []),
            "port_security_enabled": p.port_security_enabled, "binding:host_id": p.binding_host_id,
            "binding:vnic_type": p.binding_vnic_type, "binding:profile": dict(p.binding_profile or {}),
            "binding:vif_type": vif.vif_type, "binding:vif_details": dict(vif.details),
            "extra_dhcp_opts": [], "dns_name": "", "dns_assignment": [],
        })
        out.append(view)
    return out


def router_views(s: orm.Session, routers: list[models.Router]) -> list[dict[str, Any]]:
    tags = c.tags_of(s, [r.id for r in routers])
    out = []
    for r in routers:
        view = c.standard(r, tags[r.id])
        gw = None
        if r.gw_network_id:
            ips = [{"subnet_id": sid, "ip_address": ip} for sid, ip in s.execute(
                sa.select(models.IPAllocation.subnet_id, models.IPAllocation.ip_address)
                .where(models.IPAllocation.port_id == (r.gw_port_id or "")).order_by(models.IPAllocation.id))]
            gw = {"network_id": r.gw_network_id, "enable_snat": r.enable_snat, "external_fixed_ips": ips}
        view.update({"admin_state_up": r.admin_state_up, "status": r.status, "external_gateway_info": gw,
                     "routes": list(r.routes or []), "distributed": False, "ha": False,
                     "availability_zone_hints": [], "availability_zones": ["nova"], "flavor_id": None})
        out.append(view)
    return out


def fip_views(s: orm.Session, fips: list[models.FloatingIP]) -> list[dict[str, Any]]:
    tags = c.tags_of(s, [f.id for f in fips])
    out = []
    for f in fips:
        view = c.standard(f, tags[f.id])
        view.pop("name")
        view.update({"floating_network_id": f.floating_network_id, "floating_ip_address": f.floating_ip_address,
                     "fixed_ip_address": f.fixed_ip_address, "port_id": f.fixed_port_id,
                     "router_id": f.router_id, "status": "ACTIVE" if f.fixed_port_id else "DOWN",
                     "qos_policy_id": None, "port_forwardings": []})
        out.append(view)
    return out


def normalized_cidr(prefix: str | None) -> str | None:
    """A rule's remote_ip_prefix as the network it names (``10.2.3.124/24`` -> ``10.2.3.0/24``); None for none."""
    if not prefix:
        return None
    try:
        return str(ipaddress.ip_network(prefix, strict=False))
    except ValueError:
        return prefix


def rule_views(rules: list[models.SecurityGroupRule]) -> list[dict[str, Any]]:
    return [{"id": r.id, "security_group_id": r.security_group_id, "direction": r.direction,
             "ethertype": r.ethertype, "protocol": r.protocol, "port_range_min": r.port_range_min,
             "port_range_max": r.port_range_max, "remote_ip_prefix": r.remote_ip_prefix,
             "remote_group_id": r.remote_group_id, "remote_address_group_id": None,
             "normalized_cidr": normalized_cidr(r.remote_ip_prefix), "description": r.description, "tenant_id": r.project_id,
             "project_id": r.project_id, "created_at": c.timestamp(r.created_at),
             "updated_at": c.timestamp(r.updated_at or r.created_at), "revision_number": r.revision_number,
             "tags": []} for r in rules]


def sg_views(s: orm.Session, groups: list[models.SecurityGroup]) -> list[dict[str, Any]]:
    ids = [g.id for g in groups]
    rules: dict[str, list[models.SecurityGroupRule]] = {i: [] for i in ids}
    for (r,) in c.in_chunks(s, lambda ch: sa.select(models.SecurityGroupRule).where(
            models.SecurityGroupRule.security_group_id.in_(ch)).order_by(models.SecurityGroupRule.created_at), ids):
        rules[r.security_group_id].append(r)
    tags = c.tags_of(s, ids)
    out = []
    for g in groups:
        view = c.standard(g, tags[g.id])
        view.update({"stateful": g.stateful, "shared": False, "security_group_rules": rule_views(rules[g.id])})
        out.append(view)
    return out
