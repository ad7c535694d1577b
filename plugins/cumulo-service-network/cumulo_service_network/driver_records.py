"""The network driver's records (:mod:`cumulo.interfaces.network.records`) from the service's rows.

One function per resource kind, taking a session and rows and making the
queries the records need in bulk (a list of ports costs the same few queries
as one). :class:`.dataplane.DataPlane` builds each change's record here once;
:mod:`.views` asks :func:`binding` how a bound port is plugged. A leaf module:
it imports the models, :mod:`.common` and the driver interface only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import orm

import cumulo_service_network.common as c
import cumulo_service_network.models as models
from cumulo.interfaces.network import (
    VIF_TYPE_BINDING_FAILED,
    VIF_TYPE_UNBOUND,
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
    NetworkDriver,
    Port,
    Route,
    Router,
    RouterInterface,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    VifBinding,
)

LOG = logging.getLogger(__name__)

UNBOUND = VifBinding(vif_type=VIF_TYPE_UNBOUND)


def _ids(rows: Iterable[Any]) -> list[str]:
    return [r.id for r in rows]


# -- networks ------------------------------------------------------------------------------------


def subnet(row: models.Subnet) -> Subnet:
    return Subnet(id=row.id, network_id=row.network_id, cidr=row.cidr, ip_version=row.ip_version,
                  gateway_ip=row.gateway_ip, enable_dhcp=row.enable_dhcp,
                  dns_nameservers=tuple(row.dns_nameservers or ()),
                  host_routes=tuple(HostRoute(destination=r["destination"], nexthop=r["nexthop"])
                                    for r in row.host_routes or ()),
                  allocation_pools=tuple(AllocationPool(start=p["start"], end=p["end"])
                                         for p in row.allocation_pools or ()),
                  name=row.name, ipv6_ra_mode=row.ipv6_ra_mode, ipv6_address_mode=row.ipv6_address_mode)


def networks(s: orm.Session, rows: Sequence[models.Network]) -> list[Network]:
    """Networks with all their subnets (oldest first)."""
    subnets: dict[str, list[Subnet]] = {n.id: [] for n in rows}
    for (row,) in c.in_chunks(s, lambda ch: sa.select(models.Subnet).where(models.Subnet.network_id.in_(ch))
                              .order_by(models.Subnet.created_at, models.Subnet.id), _ids(rows)):
        subnets[row.network_id].append(subnet(row))
    dhcp_rows = [row for (row,) in c.in_chunks(s, lambda ch: sa.select(models.Port).where(
        models.Port.network_id.in_(ch), models.Port.device_owner == c.DEVICE_OWNER_DHCP), _ids(rows))]
    ips = fixed_ips_by_port(s, _ids(dhcp_rows))
    dhcp = {p.network_id: port(p, ips[p.id], ()) for p in dhcp_rows}  # unbound, in no group
    return [Network(id=n.id, name=n.name, project_id=n.project_id, network_type=n.network_type,
                    physical_network=n.physical_network, segmentation_id=n.segmentation_id, mtu=n.mtu,
                    external=n.external, admin_state_up=n.admin_state_up, shared=n.shared,
                    port_security_enabled=n.port_security_enabled, subnets=tuple(subnets[n.id]),
                    dhcp_port=dhcp.get(n.id))
            for n in rows]


# -- ports ---------------------------------------------------------------------------------------


def port(row: models.Port, fixed_ips: Iterable[FixedIP], security_group_ids: Iterable[str],
         vif: VifBinding = UNBOUND) -> Port:
    """A port row with its addresses and groups; ``vif`` is how it is bound (unbound by default)."""
    return Port(id=row.id, network_id=row.network_id, mac_address=row.mac_address, project_id=row.project_id,
                fixed_ips=tuple(fixed_ips), device_owner=row.device_owner, device_id=row.device_id,
                host=row.binding_host_id, security_group_ids=tuple(sorted(security_group_ids)),
                port_security_enabled=row.port_security_enabled,
                allowed_address_pairs=tuple(AllowedAddressPair(ip_address=p["ip_address"],
                                                               mac_address=p.get("mac_address"))
                                            for p in row.allowed_address_pairs or ()),
                admin_state_up=row.admin_state_up, vif_type=vif.vif_type, vif_details=vif.details)


def binding(driver: NetworkDriver, row: models.Port, fixed_ips: Iterable[FixedIP],
            security_group_ids: Iterable[str]) -> VifBinding:
    """How the driver plugs a port on its host; :data:`UNBOUND` for a port bound to no host.

    A driver that raises is logged and the port shown as ``binding_failed``, so
    one bad binding does not fail every listing of ports.
    """
    if not row.binding_host_id:
        return UNBOUND
    try:
        return driver.port_binding_vif(port(row, fixed_ips, security_group_ids), row.binding_host_id)
    except Exception:
        LOG.exception("Network driver could not bind port %s on host %s", row.id, row.binding_host_id)
        return VifBinding(vif_type=VIF_TYPE_BINDING_FAILED)


def fixed_ips_by_port(s: orm.Session, port_ids: list[str]) -> dict[str, list[FixedIP]]:
    """The ports' fixed IPs in allocation order."""
    out: dict[str, list[FixedIP]] = {i: [] for i in port_ids}
    for pid, sid, ip in c.in_chunks(s, lambda ch: sa.select(
            models.IPAllocation.port_id, models.IPAllocation.subnet_id, models.IPAllocation.ip_address)
            .where(models.IPAllocation.port_id.in_(ch)).order_by(models.IPAllocation.id), port_ids):
        out[pid].append(FixedIP(subnet_id=sid, ip_address=ip))
    return out


def groups_by_port(s: orm.Session, port_ids: list[str]) -> dict[str, list[str]]:
    """The ports' security group ids."""
    out: dict[str, list[str]] = {i: [] for i in port_ids}
    for pid, gid in c.in_chunks(s, lambda ch: sa.select(
            models.PortSecurityGroup.port_id, models.PortSecurityGroup.security_group_id)
            .where(models.PortSecurityGroup.port_id.in_(ch)), port_ids):
        out[pid].append(gid)
    return out


def ports(s: orm.Session, rows: Sequence[models.Port], driver: NetworkDriver) -> list[Port]:
    """Ports with their addresses, groups and binding (the driver's :meth:`~NetworkDriver.port_binding_vif`)."""
    ids = _ids(rows)
    ips, groups = fixed_ips_by_port(s, ids), groups_by_port(s, ids)
    return [port(p, ips[p.id], groups[p.id], binding(driver, p, ips[p.id], groups[p.id])) for p in rows]


# -- routers and floating IPs --------------------------------------------------------------------


def floating_ip(row: models.FloatingIP) -> FloatingIP:
    return FloatingIP(id=row.id, floating_ip_address=row.floating_ip_address,
                      floating_network_id=row.floating_network_id, project_id=row.project_id,
                      port_id=row.fixed_port_id, fixed_ip_address=row.fixed_ip_address, router_id=row.router_id)


def _interface(p: Port, cidrs: Mapping[str, str]) -> RouterInterface:
    return RouterInterface(port_id=p.id, network_id=p.network_id, mac_address=p.mac_address,
                           fixed_ips=tuple(InterfaceIP(subnet_id=ip.subnet_id, ip_address=ip.ip_address,
                                                       cidr=cidrs[ip.subnet_id])
                                           for ip in p.fixed_ips if ip.subnet_id in cidrs))


def routers(s: orm.Session, rows: Sequence[models.Router], driver: NetworkDriver) -> list[Router]:
    """Routers with their interfaces, gateway port and the floating IPs they NAT."""
    ids = _ids(rows)
    owned: dict[str, list[Port]] = {i: [] for i in ids}
    port_rows = [p for (p,) in c.in_chunks(s, lambda ch: sa.select(models.Port).where(
        models.Port.device_id.in_(ch), models.Port.device_owner.in_([c.DEVICE_OWNER_ROUTER_INTF,
                                                                     c.DEVICE_OWNER_ROUTER_GW]))
        .order_by(models.Port.created_at, models.Port.id), ids)]
    router_ports = {p.id: p for p in ports(s, port_rows, driver)}
    for row in port_rows:
        owned[row.device_id].append(router_ports[row.id])
    wanted = {ip.subnet_id for p in router_ports.values() for ip in p.fixed_ips}
    cidrs = {sid: cidr for sid, cidr in s.execute(sa.select(models.Subnet.id, models.Subnet.cidr).where(
        models.Subnet.id.in_(wanted or {""})))}
    fips: dict[str, list[FloatingIP]] = {i: [] for i in ids}
    for (f,) in c.in_chunks(s, lambda ch: sa.select(models.FloatingIP).where(models.FloatingIP.router_id.in_(ch))
                            .order_by(models.FloatingIP.created_at, models.FloatingIP.id), ids):
        fips[cast(str, f.router_id)].append(floating_ip(f))
    out = []
    for r in rows:
        mine = owned[r.id]
        gateway = next((p for p in mine if p.device_owner == c.DEVICE_OWNER_ROUTER_GW and p.id == r.gw_port_id),
                       None)
        out.append(Router(id=r.id, project_id=r.project_id, name=r.name, admin_state_up=r.admin_state_up,
                          external_network_id=r.gw_network_id,
                          gateway=_interface(gateway, cidrs) if gateway is not None else None,
                          enable_snat=r.enable_snat,
                          routes=tuple(Route(destination=x["destination"], nexthop=x["nexthop"])
                                       for x in r.routes or ()),
                          interfaces=tuple(_interface(p, cidrs) for p in mine
                                           if p.device_owner == c.DEVICE_OWNER_ROUTER_INTF),
                          floating_ips=tuple(fips[r.id])))
    return out


# -- security groups -----------------------------------------------------------------------------


def security_groups(s: orm.Session, rows: Sequence[models.SecurityGroup]) -> list[SecurityGroup]:
    """Groups with their rules (oldest first) and member port ids."""
    ids = _ids(rows)
    rules: dict[str, list[SecurityGroupRule]] = {i: [] for i in ids}
    for (r,) in c.in_chunks(s, lambda ch: sa.select(models.SecurityGroupRule).where(
            models.SecurityGroupRule.security_group_id.in_(ch)).order_by(models.SecurityGroupRule.created_at,
                                                                         models.SecurityGroupRule.id), ids):
        rules[r.security_group_id].append(SecurityGroupRule(
            id=r.id, security_group_id=r.security_group_id, direction=cast(Direction, r.direction),
            ethertype=cast(Ethertype, r.ethertype), protocol=r.protocol, port_range_min=r.port_range_min,
            port_range_max=r.port_range_max, remote_ip_prefix=r.remote_ip_prefix,
            remote_group_id=r.remote_group_id))
    members: dict[str, list[str]] = {i: [] for i in ids}
    for pid, gid in c.in_chunks(s, lambda ch: sa.select(
            models.PortSecurityGroup.port_id, models.PortSecurityGroup.security_group_id)
            .where(models.PortSecurityGroup.security_group_id.in_(ch)), ids):
        members[gid].append(pid)
    return [SecurityGroup(id=g.id, name=g.name, project_id=g.project_id, stateful=g.stateful,
                          rules=tuple(rules[g.id]), port_ids=tuple(sorted(members[g.id]))) for g in rows]


# -- the whole model -----------------------------------------------------------------------------


def model(s: orm.Session, driver: NetworkDriver) -> Model:
    """Everything, oldest first in each kind: what :meth:`NetworkDriver.sync` receives."""
    def rows(cls: Any) -> list[Any]:
        return list(s.execute(sa.select(cls).order_by(cls.created_at, cls.id)).scalars())

    return Model(networks=tuple(networks(s, rows(models.Network))), ports=tuple(ports(s, rows(models.Port), driver)),
                 routers=tuple(routers(s, rows(models.Router), driver)),
                 floating_ips=tuple(floating_ip(f) for f in rows(models.FloatingIP)),
                 security_groups=tuple(security_groups(s, rows(models.SecurityGroup))))
