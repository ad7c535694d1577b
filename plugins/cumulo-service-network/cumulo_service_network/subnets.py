"""Subnets (CIDR, gateway, pools, DNS and host routes) and subnet pools: the :class:`Subnets` component.

Depends on :class:`.dataplane.DataPlane` and :class:`.quotas.Quotas`, given to
it by the service; addresses and pools are checked with :mod:`.ipam`.
"""

from __future__ import annotations

from typing import Any

import netaddr
import sqlalchemy as sa
from sqlalchemy import orm

import cumulo.contracts.network as nexc
import cumulo_service_network.common as c
import cumulo_service_network.dhcp_ports as dhcp_ports
import cumulo_service_network.ipam as ipam
import cumulo_service_network.models as models
import cumulo_service_network.views as views
from cumulo import db
from cumulo.context import RequestContext
from cumulo_service_network.dataplane import DataPlane
from cumulo_service_network.quotas import Quotas

SUBNET_ATTRS = ("name", "description", "network_id", "ip_version", "cidr", "gateway_ip", "enable_dhcp",
                "dns_nameservers", "host_routes", "allocation_pools", "ipv6_ra_mode", "ipv6_address_mode",
                "subnetpool_id", "prefixlen", "use_default_subnetpool", "project_id", "tenant_id", "service_types",
                "segment_id")
SUBNETPOOL_ATTRS = ("name", "description", "prefixes", "default_prefixlen", "min_prefixlen", "max_prefixlen",
                    "shared", "is_default", "project_id", "tenant_id", "address_scope_id", "default_quota")
IPV6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")


class Subnets:
    """Subnets and the subnet pools they may be carved from."""

    #: What ``hub.network`` offers of this component.
    API = ("list_subnets", "get_subnet", "create_subnet", "update_subnet", "delete_subnet",
           "list_subnetpools", "get_subnetpool", "create_subnetpool", "update_subnetpool", "delete_subnetpool")

    def __init__(self, dataplane: DataPlane, quotas: Quotas) -> None:
        self.dataplane, self.quotas = dataplane, quotas

    # ------------------------------------------------------------------ subnets
    def list_subnets(self, ctx: RequestContext) -> list[dict[str, Any]]:
        with db.reader() as s:
            q = sa.select(models.Subnet)
            if not ctx.is_admin:
                q = q.join(models.Network, models.Network.id == models.Subnet.network_id).where(sa.or_(
                    models.Subnet.project_id == (ctx.project_id or ""), models.Network.shared.is_(True),
                    models.Network.external.is_(True)))
            return views.subnet_views(s, list(s.execute(q.order_by(models.Subnet.created_at)).scalars()))

    def get_subnet(self, ctx: RequestContext, subnet_id: str) -> dict[str, Any]:
        with db.reader() as s:
            return views.subnet_views(s, [c.visible_subnet(s, ctx, subnet_id)])[0]

    @staticmethod
    def _dns(value: Any) -> list[str]:
        if not isinstance(value, list):
            raise nexc.InvalidInput(error_message="dns_nameservers must be a list of IP addresses")
        out = [str(ipam.parse_ip(v, "dns_nameservers")) for v in value]
        if len(set(out)) != len(out):
            raise nexc.InvalidInput(error_message=f"Duplicate nameserver in {value}")
        return out

    @staticmethod
    def _routes(value: Any, version: int) -> list[dict[str, str]]:
        if not isinstance(value, list):
            raise nexc.InvalidInput(error_message="host_routes must be a list of {destination, nexthop}")
        out = []
        for r in value:
            if not isinstance(r, dict) or set(r) != {"destination", "nexthop"}:
                raise nexc.InvalidInput(error_message=f"host route {r!r} must have exactly destination and nexthop")
            dest, hop = ipam.parse_cidr(r["destination"], "host route destination"), ipam.parse_ip(r["nexthop"],
                                                                                                    "nexthop")
            if dest.version != version or hop.version != version:
                raise nexc.InvalidInput(error_message=f"host route {r!r} does not match the subnet's IP version")
            item = {"destination": str(dest), "nexthop": str(hop)}
            if item in out:
                raise nexc.InvalidInput(error_message=f"Duplicate hostroute {r!r}")
            out.append(item)
        return out

    def _cidr_from_pool(self, s: orm.Session, ctx: RequestContext, body: dict[str, Any],
                        version: int) -> tuple[netaddr.IPNetwork, str]:
        if body.get("subnetpool_id"):
            pool = s.get(models.SubnetPool, body["subnetpool_id"]) if isinstance(body["subnetpool_id"], str) else None
            if pool is None or not (pool.shared or c.is_owner(ctx, pool.project_id)):
                raise nexc.SubnetPoolNotFound(id=body["subnetpool_id"])
        else:
            pool = s.execute(sa.select(models.SubnetPool).where(models.SubnetPool.is_default.is_(True),
                                                                models.SubnetPool.ip_version == version)).scalar()
            if pool is None:
                raise nexc.BadRequest(reason=f"No default subnetpool found for IPv{version}.")
        # Lock the pool row so two concurrent requests do not carve the same prefix (PostgreSQL/MariaDB).
        s.execute(sa.select(models.SubnetPool.id).where(models.SubnetPool.id == pool.id).with_for_update())
        prefixlen = c.to_int(body.get("prefixlen", pool.default_prefixlen), "prefixlen",
                             pool.min_prefixlen, pool.max_prefixlen) or 0  # never None: allow_none is off
        if body.get("cidr"):
            cidr = ipam.parse_cidr(body["cidr"])
            if not any(cidr in netaddr.IPNetwork(p) for p in pool.prefixes):
                raise nexc.BadRequest(reason=f"Cidr {cidr} is not within the prefixes of subnet pool {pool.id}.")
            return cidr, pool.id
        used = [netaddr.IPNetwork(x) for x in s.execute(sa.select(models.Subnet.cidr).where(
            models.Subnet.subnetpool_id == pool.id)).scalars()]
        for prefix in pool.prefixes:
            for candidate in netaddr.IPNetwork(prefix).subnet(prefixlen):
                if not any(candidate.first <= u.last and u.first <= candidate.last for u in used):
                    return candidate, pool.id
        raise c.conflict(f"Insufficient prefix space to allocate subnet size /{prefixlen} "
                            f"from subnet pool {pool.id}.")

    def create_subnet(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        body = c.check_keys(body, "subnet", SUBNET_ATTRS)
        if "network_id" not in body:
            raise nexc.BadRequest(reason="Failed to parse request. Required attribute 'network_id' not specified")
        with db.transaction() as s:
            net = c.get_network(s, ctx, body["network_id"])
            if not c.is_owner(ctx, net.project_id):
                raise nexc.PolicyNotAuthorized(action="create_subnet on a network of another project")
            project = c.owner_project(ctx, body) if (body.get("project_id") or body.get("tenant_id")) \
                else net.project_id if ctx.is_admin else c.owner_project(ctx, body)
            self.quotas.check(s, project, "subnet", 1)
            version = c.to_int(body.get("ip_version", 4), "ip_version")
            if version not in (4, 6):
                raise nexc.InvalidInput(error_message=f"{version} is not in [4, 6] for ip_version")
            pool_id = None
            if body.get("subnetpool_id") or c.to_bool(body.get("use_default_subnetpool", False),
                                                      "use_default_subnetpool"):
                cidr, pool_id = self._cidr_from_pool(s, ctx, body, version)
            elif body.get("cidr") is None:
                raise nexc.BadRequest(reason="Bad subnets request: a cidr must be specified in the absence of "
                                             "a subnet pool")
            else:
                cidr = ipam.parse_cidr(body["cidr"])
            if cidr.version != version:
                raise nexc.InvalidInput(error_message=f"Cidr {cidr} does not match ip_version {version}")
            if str(cidr.cidr) != str(cidr):
                raise nexc.InvalidInput(error_message=f"'{cidr}' isn't a recommended CIDR, '{cidr.cidr}' is "
                                                      "recommended")
            for other in s.execute(sa.select(models.Subnet).where(models.Subnet.network_id == net.id)).scalars():
                o = netaddr.IPNetwork(other.cidr)
                if o.version == cidr.version and o.first <= cidr.last and cidr.first <= o.last:
                    raise nexc.InvalidInput(error_message=f"Requested subnet with cidr: {cidr} for network: "
                                                          f"{net.id} overlaps with another subnet")
            if "gateway_ip" in body:
                gateway = body["gateway_ip"]
                if gateway is not None:
                    gw = ipam.parse_ip(gateway, "gateway_ip")
                    if gw.version != version or gw not in cidr or int(gw) in (
                            (cidr.first, cidr.last) if version == 4 and cidr.prefixlen < 31 else (cidr.first,)):
                        raise nexc.InvalidInput(error_message=f"Gateway {gw} is not a valid host address of "
                                                              f"subnet {cidr}")
                    gateway = str(gw)
            else:
                gateway = ipam.default_gateway(cidr)
            if body.get("allocation_pools") is not None:
                pools = ipam.validate_pools(cidr, body["allocation_pools"], gateway)
            else:
                pools = ipam.default_pools(cidr, gateway)
            ra_mode, addr_mode = body.get("ipv6_ra_mode"), body.get("ipv6_address_mode")
            for name, mode in (("ipv6_ra_mode", ra_mode), ("ipv6_address_mode", addr_mode)):
                if mode is not None and (version != 6 or mode not in IPV6_MODES):
                    raise nexc.InvalidInput(error_message=f"{name} '{mode}' is not valid for an IPv{version} "
                                                          f"subnet (choose from {', '.join(IPV6_MODES)})")
            if ra_mode and addr_mode and ra_mode != addr_mode:
                raise nexc.InvalidInput(error_message=f"ipv6_ra_mode set to '{ra_mode}' with ipv6_address_mode "
                                                      f"set to '{addr_mode}' is not valid")
            if addr_mode in ("slaac", "dhcpv6-stateless") and cidr.prefixlen != 64:
                raise nexc.InvalidInput(error_message="SLAAC and dhcpv6-stateless need a /64 subnet")
            sub = models.Subnet(project_id=project, network_id=net.id, name=c.to_str(body.get("name"), "name"),
                                description=c.to_str(body.get("description"), "description"),
                                ip_version=version, cidr=str(cidr), gateway_ip=gateway,
                                enable_dhcp=c.to_bool(body.get("enable_dhcp", True), "enable_dhcp"),
                                dns_nameservers=self._dns(body.get("dns_nameservers") or []),
                                host_routes=self._routes(body.get("host_routes") or [], version),
                                allocation_pools=pools, ipv6_ra_mode=ra_mode, ipv6_address_mode=addr_mode,
                                subnetpool_id=pool_id, revision_number=0)
            s.add(sub)
            s.flush()
            dhcp_ports.reconcile(s, self.dataplane.driver, net.id)
            view = views.subnet_views(s, [sub])[0]
        self.dataplane.notify_network("update", view["network_id"])
        return view

    def update_subnet(self, ctx: RequestContext, subnet_id: str, body: dict[str, Any]) -> dict[str, Any]:
        body = c.check_keys(body, "subnet", ("name", "description", "gateway_ip", "enable_dhcp", "dns_nameservers",
                                             "host_routes", "allocation_pools"))
        with db.transaction() as s:
            sub = c.visible_subnet(s, ctx, subnet_id)
            if not c.is_owner(ctx, sub.project_id):
                raise nexc.PolicyNotAuthorized(action="update_subnet")
            cidr = netaddr.IPNetwork(sub.cidr)
            if "name" in body:
                sub.name = c.to_str(body["name"], "name") or ""
            if "description" in body:
                sub.description = c.to_str(body["description"], "description") or ""
            if "enable_dhcp" in body:
                sub.enable_dhcp = c.to_bool(body["enable_dhcp"], "enable_dhcp")
            if "dns_nameservers" in body:
                sub.dns_nameservers = self._dns(body["dns_nameservers"] or [])
            if "host_routes" in body:
                sub.host_routes = self._routes(body["host_routes"] or [], sub.ip_version)
            gateway = sub.gateway_ip
            if "gateway_ip" in body:
                gateway = body["gateway_ip"]
                if gateway is not None:
                    gw = ipam.parse_ip(gateway, "gateway_ip")
                    if gw not in cidr:
                        raise nexc.InvalidInput(error_message=f"Gateway {gw} is not in subnet {cidr}")
                    gateway = str(gw)
                if sub.gateway_ip and gateway != sub.gateway_ip and s.execute(
                        sa.select(models.IPAllocation.id).join(models.Port).where(
                            models.IPAllocation.subnet_id == sub.id,
                            models.IPAllocation.ip_address == sub.gateway_ip,
                            models.Port.device_owner == c.DEVICE_OWNER_ROUTER_INTF)).first():
                    raise c.conflict(f"Gateway {sub.gateway_ip} of subnet {sub.id} is in use by a router "
                                        "interface; remove the interface first.")
            pools = body.get("allocation_pools", sub.allocation_pools)
            if pools is None:
                pools = ipam.default_pools(cidr, gateway)
            sub.allocation_pools = ipam.validate_pools(cidr, pools, gateway)
            sub.gateway_ip = gateway
            c.bump(sub)
            s.flush()
            dhcp_ports.reconcile(s, self.dataplane.driver, sub.network_id)
            view = views.subnet_views(s, [sub])[0]
        self.dataplane.notify_network("update", view["network_id"])
        return view

    def delete_subnet(self, ctx: RequestContext, subnet_id: str) -> None:
        with db.transaction() as s:
            sub = c.visible_subnet(s, ctx, subnet_id)
            if not c.is_owner(ctx, sub.project_id):
                raise nexc.PolicyNotAuthorized(action="delete_subnet")
            if s.execute(sa.select(models.IPAllocation.id).join(models.Port).where(
                    models.IPAllocation.subnet_id == sub.id,
                    models.Port.device_owner != c.DEVICE_OWNER_DHCP)).first():
                raise nexc.SubnetInUse(subnet_id=sub.id)
            network_id = sub.network_id
            s.execute(sa.delete(models.IPAllocation).where(models.IPAllocation.subnet_id == sub.id))
            s.execute(sa.delete(models.Tag).where(models.Tag.resource_id == sub.id))
            s.delete(sub)
            s.flush()
            dhcp_ports.reconcile(s, self.dataplane.driver, network_id)
        self.dataplane.notify_network("update", network_id)

    # -------------------------------------------------------------- subnetpools
    def list_subnetpools(self, ctx: RequestContext) -> list[dict[str, Any]]:
        with db.transaction() as s:
            q = sa.select(models.SubnetPool)
            if not ctx.is_admin:
                q = q.where(sa.or_(models.SubnetPool.project_id == (ctx.project_id or ""),
                                   models.SubnetPool.shared.is_(True)))
            return views.subnetpool_views(s, list(s.execute(q.order_by(models.SubnetPool.created_at)).scalars()))

    def _visible_pool(self, s: orm.Session, ctx: RequestContext, pool_id: Any) -> models.SubnetPool:
        pool = s.get(models.SubnetPool, pool_id) if isinstance(pool_id, str) else None
        if pool is None or not (pool.shared or c.is_owner(ctx, pool.project_id)):
            raise nexc.SubnetPoolNotFound(id=pool_id)
        return pool

    def get_subnetpool(self, ctx: RequestContext, pool_id: str) -> dict[str, Any]:
        with db.transaction() as s:
            return views.subnetpool_views(s, [self._visible_pool(s, ctx, pool_id)])[0]

    @staticmethod
    def _pool_prefixes(value: Any) -> tuple[list[str], int]:
        if not isinstance(value, list) or not value:
            raise nexc.InvalidInput(error_message="prefixes must be a non-empty list of CIDRs")
        nets = netaddr.cidr_merge([ipam.parse_cidr(p, "prefixes") for p in value])
        versions = {n.version for n in nets}
        if len(versions) != 1:
            raise nexc.InvalidInput(error_message="Cannot mix IPv4 and IPv6 prefixes in a subnet pool.")
        return [str(n) for n in nets], versions.pop()

    def create_subnetpool(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        body = c.check_keys(body, "subnetpool", SUBNETPOOL_ATTRS)
        project = c.owner_project(ctx, body)
        if c.to_bool(body.get("shared", False), "shared") or c.to_bool(body.get("is_default", False), "is_default"):
            c.require_admin(ctx, "create_subnetpool:shared/is_default")
        prefixes, version = self._pool_prefixes(body.get("prefixes"))
        maxlen = 32 if version == 4 else 128
        smallest = min(netaddr.IPNetwork(p).prefixlen for p in prefixes)
        minlen = c.to_int(body.get("min_prefixlen", smallest), "min_prefixlen", smallest, maxlen) or smallest
        maxp = c.to_int(body.get("max_prefixlen", maxlen), "max_prefixlen", minlen, maxlen) or maxlen
        default = c.to_int(body.get("default_prefixlen", minlen), "default_prefixlen", minlen, maxp) or minlen
        with db.transaction() as s:
            self.quotas.check(s, project, "subnetpool", 1)
            pool = models.SubnetPool(project_id=project, name=c.to_str(body.get("name"), "name"),
                                     description=c.to_str(body.get("description"), "description"),
                                     ip_version=version, prefixes=prefixes, default_prefixlen=default,
                                     min_prefixlen=minlen, max_prefixlen=maxp,
                                     shared=c.to_bool(body.get("shared", False), "shared"),
                                     is_default=c.to_bool(body.get("is_default", False), "is_default"),
                                     revision_number=0)
            if pool.is_default:
                s.execute(sa.update(models.SubnetPool).where(models.SubnetPool.ip_version == version)
                          .values(is_default=False))
            s.add(pool)
            s.flush()
            return views.subnetpool_views(s, [pool])[0]

    def update_subnetpool(self, ctx: RequestContext, pool_id: str, body: dict[str, Any]) -> dict[str, Any]:
        body = c.check_keys(body, "subnetpool", ("name", "description", "prefixes", "default_prefixlen",
                                                 "min_prefixlen", "max_prefixlen", "is_default"))
        with db.transaction() as s:
            pool = self._visible_pool(s, ctx, pool_id)
            if not c.is_owner(ctx, pool.project_id):
                raise nexc.PolicyNotAuthorized(action="update_subnetpool")
            if "name" in body:
                pool.name = c.to_str(body["name"], "name") or ""
            if "description" in body:
                pool.description = c.to_str(body["description"], "description") or ""
            if "prefixes" in body:
                prefixes, version = self._pool_prefixes(list(pool.prefixes) + list(body["prefixes"] or []))
                if version != pool.ip_version:
                    raise nexc.InvalidInput(error_message="prefixes must match the pool's IP version")
                pool.prefixes = prefixes
            for key in ("min_prefixlen", "max_prefixlen", "default_prefixlen"):
                if key in body:
                    setattr(pool, key, c.to_int(body[key], key, 0, 32 if pool.ip_version == 4 else 128))
            if not pool.min_prefixlen <= pool.default_prefixlen <= pool.max_prefixlen:
                raise nexc.InvalidInput(error_message="min_prefixlen <= default_prefixlen <= max_prefixlen "
                                                      "must hold")
            if "is_default" in body:
                c.require_admin(ctx, "update_subnetpool:is_default")
                if c.to_bool(body["is_default"], "is_default"):
                    s.execute(sa.update(models.SubnetPool).where(models.SubnetPool.ip_version == pool.ip_version)
                              .values(is_default=False))
                    pool.is_default = True
                else:
                    pool.is_default = False
            c.bump(pool)
            s.flush()
            return views.subnetpool_views(s, [pool])[0]

    def delete_subnetpool(self, ctx: RequestContext, pool_id: str) -> None:
        with db.transaction() as s:
            pool = self._visible_pool(s, ctx, pool_id)
            if not c.is_owner(ctx, pool.project_id):
                raise nexc.PolicyNotAuthorized(action="delete_subnetpool")
            if s.execute(sa.select(models.Subnet.id).where(models.Subnet.subnetpool_id == pool.id)).first():
                raise nexc.SubnetPoolInUse(subnet_pool_id=pool.id, reason="Subnets are allocated from it.")
            s.execute(sa.delete(models.Tag).where(models.Tag.resource_id == pool.id))
            s.delete(pool)
