"""Networks, subnets, subnet pools and ports (with IPAM): the :class:`Core` component.

Depends on :class:`.dataplane.DataPlane`, :class:`.quotas.Quotas` and
:class:`.secgroups.SecurityGroups` (a new port joins its project's default
group), given to it by the service; on no other component.
"""

from __future__ import annotations

import random
import time
from typing import Any

import netaddr
import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy import exc, orm

import cumulo.services.network.common as c
import cumulo.services.network.exceptions as nexc
import cumulo.services.network.ipam as ipam
import cumulo.services.network.views as views
from cumulo import db
from cumulo.context import RequestContext
from cumulo.db.models import network as models
from cumulo.services.network.common import random_mac
from cumulo.services.network.dataplane import DataPlane
from cumulo.services.network.quotas import Quotas
from cumulo.services.network.secgroups import SecurityGroups

NETWORK_ATTRS = ("name", "description", "admin_state_up", "shared", "router:external", "is_default",
                 "provider:network_type", "provider:physical_network", "provider:segmentation_id", "mtu",
                 "port_security_enabled", "project_id", "tenant_id", "availability_zone_hints")
SUBNET_ATTRS = ("name", "description", "network_id", "ip_version", "cidr", "gateway_ip", "enable_dhcp",
                "dns_nameservers", "host_routes", "allocation_pools", "ipv6_ra_mode", "ipv6_address_mode",
                "subnetpool_id", "prefixlen", "use_default_subnetpool", "project_id", "tenant_id", "service_types",
                "segment_id")
SUBNETPOOL_ATTRS = ("name", "description", "prefixes", "default_prefixlen", "min_prefixlen", "max_prefixlen",
                    "shared", "is_default", "project_id", "tenant_id", "address_scope_id", "default_quota")
PORT_ATTRS = ("name", "description", "network_id", "admin_state_up", "mac_address", "fixed_ips", "device_id",
              "device_owner", "security_groups", "port_security_enabled", "allowed_address_pairs",
              "binding:host_id", "binding:profile", "binding:vnic_type", "project_id", "tenant_id")
IPV6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")
ADMIN_PORT_ATTRS = ("binding:host_id", "binding:profile")


#: Whole-transaction retries of a port create (random MAC collision, InnoDB deadlock on the IP index).
RETRIES = 20


def _retryable(err: BaseException) -> bool:
    """A collision or a lost transaction: running the port create again is safe.

    InnoDB answers contention on a unique index with a deadlock that rolls the
    whole transaction back, savepoints included (so the savepoint rollback then
    fails with "SAVEPOINT ... does not exist").
    """
    text = str(getattr(err, "orig", err)).lower()
    return db.is_duplicate(err) or db.is_retryable(err) or "savepoint" in text


class Core:
    """Networks, subnets, subnet pools, ports and IP availability."""

    #: What ``hub.network`` offers of this component.
    API = ("list_networks", "get_network", "create_network", "update_network", "delete_network",
           "list_subnets", "get_subnet", "create_subnet", "update_subnet", "delete_subnet",
           "list_subnetpools", "get_subnetpool", "create_subnetpool", "update_subnetpool", "delete_subnetpool",
           "list_ports", "get_port", "create_port", "update_port", "delete_port",
           "list_network_ip_availabilities", "get_network_ip_availability")

    def __init__(self, conf: cfg.ConfigOpts, dataplane: DataPlane, quotas: Quotas,
                 security_groups: SecurityGroups) -> None:
        self.conf, self.dataplane = conf, dataplane
        self.quotas, self.security_groups = quotas, security_groups

    # ----------------------------------------------------------------- networks
    def list_networks(self, ctx: RequestContext) -> list[dict[str, Any]]:
        with db.reader() as s:
            q = sa.select(models.Network)
            if not ctx.is_admin:
                q = q.where(sa.or_(models.Network.project_id == (ctx.project_id or ""),
                                   models.Network.shared.is_(True), models.Network.external.is_(True)))
            return views.network_views(s, list(s.execute(q.order_by(models.Network.created_at)).scalars()))

    def get_network(self, ctx: RequestContext, network_id: str) -> dict[str, Any]:
        with db.reader() as s:
            return views.network_views(s, [c.get_network(s, ctx, network_id)])[0]

    def _provider(self, s: orm.Session, body: dict[str, Any], net: models.Network) -> None:
        ntype = body.get("provider:network_type")
        physnet = body.get("provider:physical_network")
        seg = body.get("provider:segmentation_id")
        if ntype is None and physnet is None and seg is None:
            net.network_type = self.conf.network.tenant_network_type
            return
        ntype = c.to_str(ntype or "flat", "provider:network_type")
        if ntype not in ("flat", "vlan", "local", "vxlan"):
            raise nexc.InvalidInput(error_message=f"network_type value '{ntype}' not supported")
        if ntype not in self.dataplane.driver.supported_network_types:
            raise nexc.InvalidInput(error_message=f"network_type '{ntype}' is not supported by the "
                                                  f"{self.conf.network.driver} network driver")
        physnet = c.to_str(physnet, "provider:physical_network", 64, allow_none=True)
        if ntype in ("flat", "vlan") and not physnet:
            raise nexc.InvalidInput(error_message=f"physical_network required for {ntype} provider network")
        if ntype in ("local", "vxlan") and physnet:
            raise nexc.InvalidInput(error_message=f"physical_network not allowed for {ntype} provider network")
        if ntype == "vlan":
            seg = c.to_int(seg, "provider:segmentation_id", 1, 4094)
            if s.execute(sa.select(models.Network.id).where(
                    models.Network.network_type == "vlan", models.Network.physical_network == physnet,
                    models.Network.segmentation_id == seg)).first():
                raise nexc.VlanIdInUse(vlan_id=seg, physical_network=physnet)
        elif ntype == "vxlan":
            seg = c.to_int(seg, "provider:segmentation_id", 1, 2**24 - 1)
        elif seg is not None:
            raise nexc.InvalidInput(error_message=f"segmentation_id not allowed for {ntype} provider network")
        if ntype == "flat" and s.execute(sa.select(models.Network.id).where(
                models.Network.network_type == "flat", models.Network.physical_network == physnet)).first():
            raise nexc.FlatNetworkInUse(physical_network=physnet)
        net.network_type, net.physical_network, net.segmentation_id = ntype, physnet, seg

    def create_network(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        body = c.check_keys(body, "network", NETWORK_ATTRS)
        project = c.owner_project(ctx, body)
        for admin_only in ("provider:network_type", "provider:physical_network", "provider:segmentation_id",
                           "router:external", "is_default"):
            if admin_only in body and body[admin_only] not in (None, False):
                c.require_admin(ctx, f"create_network:{admin_only}")
        if c.to_bool(body.get("shared", False), "shared"):
            c.require_admin(ctx, "create_network:shared")
        with db.transaction() as s:
            self.quotas.check(s, project, "network", 1)
            net = models.Network(project_id=project, name=c.to_str(body.get("name"), "name"),
                                 description=c.to_str(body.get("description"), "description"),
                                 admin_state_up=c.to_bool(body.get("admin_state_up", True), "admin_state_up"),
                                 shared=c.to_bool(body.get("shared", False), "shared"),
                                 external=c.to_bool(body.get("router:external", False), "router:external"),
                                 is_default=c.to_bool(body.get("is_default", False), "is_default"),
                                 mtu=c.to_int(body.get("mtu", 1500), "mtu", 68, 9216),
                                 port_security_enabled=c.to_bool(body.get("port_security_enabled", True),
                                                                 "port_security_enabled"),
                                 revision_number=0, status="ACTIVE")
            if net.is_default and not net.external:
                raise nexc.BadRequest(reason="Only an external network (router:external) can be the default.")
            self._provider(s, body, net)
            if net.is_default:
                self._clear_default(s)
            s.add(net)
            s.flush()
            view = views.network_views(s, [net])[0]
        self.dataplane.notify_network("create", net.id)
        return view

    def _clear_default(self, s: orm.Session) -> None:
        s.execute(sa.update(models.Network).where(models.Network.is_default.is_(True)).values(is_default=False))

    def update_network(self, ctx: RequestContext, network_id: str, body: dict[str, Any]) -> dict[str, Any]:
        body = c.check_keys(body, "network", ("name", "description", "admin_state_up", "shared", "router:external",
                                              "is_default", "mtu", "port_security_enabled"))
        with db.transaction() as s:
            net = c.get_network(s, ctx, network_id)
            if not c.is_owner(ctx, net.project_id):
                raise nexc.PolicyNotAuthorized(action="update_network")
            for key in ("shared", "router:external", "is_default"):
                if key in body:
                    c.require_admin(ctx, f"update_network:{key}")
            if "name" in body:
                net.name = c.to_str(body["name"], "name") or ""
            if "description" in body:
                net.description = c.to_str(body["description"], "description") or ""
            if "admin_state_up" in body:
                net.admin_state_up = c.to_bool(body["admin_state_up"], "admin_state_up")
            if "mtu" in body:
                net.mtu = c.to_int(body["mtu"], "mtu", 68, 9216) or 1500
            if "port_security_enabled" in body:
                net.port_security_enabled = c.to_bool(body["port_security_enabled"], "port_security_enabled")
            if "shared" in body:
                shared = c.to_bool(body["shared"], "shared")
                if net.shared and not shared and s.execute(sa.select(models.Port.id).where(
                        models.Port.network_id == net.id, models.Port.project_id != net.project_id,
                        models.Port.project_id != "")).first():
                    raise nexc.InvalidInput(error_message=f"Unable to reconfigure sharing settings for network "
                                                          f"{net.id}. Multiple tenants are using it.")
                net.shared = shared
            if "router:external" in body:
                external = c.to_bool(body["router:external"], "router:external")
                if net.external and not external and s.execute(sa.select(models.Router.id).where(
                        models.Router.gw_network_id == net.id)).first():
                    raise c.conflict(f"External network {net.id} cannot be updated to internal: "
                                        "it is the gateway of one or more routers.")
                net.external = external
                if not external:
                    net.is_default = False
            if "is_default" in body:
                default = c.to_bool(body["is_default"], "is_default")
                if default and not net.external:
                    raise nexc.BadRequest(reason="Only an external network (router:external) can be the default.")
                if default:
                    self._clear_default(s)
                net.is_default = default
            c.bump(net)
            s.flush()
            view = views.network_views(s, [net])[0]
        self.dataplane.notify_network("update", network_id)
        return view

    def delete_network(self, ctx: RequestContext, network_id: str) -> None:
        with db.transaction() as s:
            net = c.get_network(s, ctx, network_id)
            if not c.is_owner(ctx, net.project_id):
                raise nexc.PolicyNotAuthorized(action="delete_network")
            in_use = s.execute(sa.select(models.Port.id).where(
                models.Port.network_id == net.id, models.Port.device_owner != c.DEVICE_OWNER_DHCP)).first()
            if in_use:
                raise nexc.NetworkInUse(net_id=net.id)
            view = views.network_views(s, [net])[0]
            s.execute(sa.delete(models.Port).where(models.Port.network_id == net.id))
            subnet_ids = list(s.execute(sa.select(models.Subnet.id).where(models.Subnet.network_id == net.id))
                              .scalars())
            s.execute(sa.delete(models.Tag).where(models.Tag.resource_id.in_(subnet_ids + [net.id])))
            s.execute(sa.delete(models.Subnet).where(models.Subnet.network_id == net.id))
            s.execute(sa.delete(models.AutoAllocatedTopology).where(
                models.AutoAllocatedTopology.network_id == net.id))
            s.delete(net)
        view["subnet_details"] = []
        self.dataplane.call("network_changed", "delete", view)

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

    # -------------------------------------------------------------------- ports
    def list_ports(self, ctx: RequestContext, device_id: str | None = None,
                   network_id: str | None = None) -> list[dict[str, Any]]:
        with db.reader() as s:
            q = sa.select(models.Port)
            if device_id is not None:
                q = q.where(models.Port.device_id == device_id)
            if network_id is not None:
                q = q.where(models.Port.network_id == network_id)
            if not ctx.is_admin:
                own_nets = sa.select(models.Network.id).where(models.Network.project_id == (ctx.project_id or ""))
                q = q.where(sa.or_(models.Port.project_id == (ctx.project_id or ""),
                                   models.Port.network_id.in_(own_nets)))
            return self.dataplane.port_views(s, list(s.execute(q.order_by(models.Port.created_at)).scalars()))

    def get_port(self, ctx: RequestContext, port_id: str) -> dict[str, Any]:
        with db.reader() as s:
            return self.dataplane.port_views(s, [c.get_port(s, ctx, port_id)])[0]

    @staticmethod
    def _mac(value: Any) -> str:
        try:
            if not isinstance(value, str):
                raise ValueError
            mac = netaddr.EUI(value)
            if mac.words[0] & 1:
                raise ValueError
            return str(mac).replace("-", ":").lower()
        except (ValueError, netaddr.AddrFormatError):
            raise nexc.InvalidInput(error_message=f"'{value}' is not a valid unicast MAC address") from None

    @staticmethod
    def _address_pairs(value: Any) -> list[dict[str, str]]:
        if not isinstance(value, list):
            raise nexc.InvalidInput(error_message="allowed_address_pairs must be a list")
        out = []
        for pair in value:
            if not isinstance(pair, dict) or "ip_address" not in pair or set(pair) - {"ip_address", "mac_address"}:
                raise nexc.InvalidInput(error_message=f"allowed address pair {pair!r} needs ip_address "
                                                      "(and optionally mac_address)")
            ip = pair["ip_address"]
            try:
                text = str(netaddr.IPNetwork(ip)) if "/" in str(ip) else str(netaddr.IPAddress(ip))
            except (ValueError, netaddr.AddrFormatError, TypeError):
                raise nexc.InvalidInput(error_message=f"'{ip}' is not a valid IP address or CIDR") from None
            item = {"ip_address": text}
            if pair.get("mac_address"):
                item["mac_address"] = Core._mac(pair["mac_address"])
            if item in out:
                raise nexc.InvalidInput(error_message=f"Duplicate address pair {pair!r}")
            out.append(item)
        return out

    def _port_security_groups(self, s: orm.Session, ctx: RequestContext, project: str, value: Any) -> list[str]:
        if value is None:
            return [self.security_groups.ensure_default(s, project)]
        if not isinstance(value, list):
            raise nexc.InvalidInput(error_message="security_groups must be a list of IDs")
        out = []
        for gid in value:
            group = s.get(models.SecurityGroup, gid) if isinstance(gid, str) else None
            if group is None or not (ctx.is_admin or group.project_id == project):
                raise nexc.SecurityGroupNotFound(id=gid)
            if group.id not in out:
                out.append(group.id)
        return out

    def create_port(self, ctx: RequestContext, body: dict[str, Any], *, _instance: bool = False) -> dict[str, Any]:
        """Create a port; retries the whole transaction when a random MAC collided."""
        body = c.check_keys(body, "port", PORT_ATTRS)
        for key in ADMIN_PORT_ATTRS:
            if body.get(key):
                c.require_admin(ctx, f"create_port:{key}")
        if "network_id" not in body:
            raise nexc.BadRequest(reason="Failed to parse request. Required attribute 'network_id' not specified")
        for attempt in range(RETRIES):
            try:
                view = self._create_port(ctx, body, _instance)
                break
            except exc.DBAPIError as err:
                if body.get("mac_address") and db.is_duplicate(err):
                    raise nexc.MacAddressInUse(net_id=body["network_id"], mac=body["mac_address"]) from None
                if attempt == RETRIES - 1 or not _retryable(err):
                    raise
                time.sleep(random.random() * min(0.01 * 2 ** attempt, 0.5))
        self.dataplane.call("port_changed", "create", view) or self.dataplane.set_status(models.Port, view["id"], "ERROR")
        return view

    def _create_port(self, ctx: RequestContext, body: dict[str, Any], instance: bool) -> dict[str, Any]:
        with db.transaction() as s:
            net = c.get_network(s, ctx, body["network_id"])
            project = c.owner_project(ctx, body)
            if not (c.is_owner(ctx, net.project_id) or net.shared):
                raise nexc.PolicyNotAuthorized(action=f"create_port on network {net.id} of another project")
            self.quotas.check(s, project, "port", 1)
            owner = c.to_str(body.get("device_owner"), "device_owner") or ""
            psec = c.to_bool(body.get("port_security_enabled", net.port_security_enabled), "port_security_enabled")
            mac = self._mac(body["mac_address"]) if body.get("mac_address") else random_mac()
            if body.get("mac_address") and s.execute(sa.select(models.Port.id).where(
                    models.Port.network_id == net.id, models.Port.mac_address == mac)).first():
                raise nexc.MacAddressInUse(net_id=net.id, mac=mac)
            host = c.to_str(body.get("binding:host_id"), "binding:host_id") or ""
            profile = body.get("binding:profile") or {}
            if not isinstance(profile, dict):
                raise nexc.InvalidInput(error_message="binding:profile must be an object")
            port = models.Port(project_id=project, network_id=net.id, name=c.to_str(body.get("name"), "name"),
                               description=c.to_str(body.get("description"), "description"), mac_address=mac,
                               admin_state_up=c.to_bool(body.get("admin_state_up", True), "admin_state_up"),
                               device_id=c.to_str(body.get("device_id"), "device_id") or "", device_owner=owner,
                               binding_host_id=host, binding_profile=profile,
                               binding_vnic_type=c.to_str(body.get("binding:vnic_type") or "normal",
                                                          "binding:vnic_type", 64),
                               port_security_enabled=psec, allowed_address_pairs=[], revision_number=0,
                               created_for_instance=instance)
            port.status = "ACTIVE" if host or owner.startswith("network:") else "DOWN"
            pairs = self._address_pairs(body.get("allowed_address_pairs") or [])
            if pairs and not psec:
                raise nexc.AddressPairAndPortSecurityRequired()
            port.allowed_address_pairs = pairs
            s.add(port)
            s.flush()
            # Only the network's owner (or an admin) may put a port on the gateway address.
            ipam.allocate_fixed_ips(s, port, body.get("fixed_ips"),
                               owner == c.DEVICE_OWNER_ROUTER_INTF and c.is_owner(ctx, net.project_id))
            groups: list[str] = []
            if owner.startswith("network:"):
                groups = []
            elif psec:
                groups = self._port_security_groups(s, ctx, project, body.get("security_groups"))
            elif body.get("security_groups"):
                raise nexc.PortSecurityAndIPRequiredForSecurityGroups()
            for gid in groups:
                s.add(models.PortSecurityGroup(port_id=port.id, security_group_id=gid))
            s.flush()
            return self.dataplane.port_views(s, [port])[0]

    def update_port(self, ctx: RequestContext, port_id: str, body: dict[str, Any]) -> dict[str, Any]:
        body = c.check_keys(body, "port", ("name", "description", "admin_state_up", "mac_address", "fixed_ips",
                                           "device_id", "device_owner", "security_groups", "port_security_enabled",
                                           "allowed_address_pairs", "binding:host_id", "binding:profile",
                                           "binding:vnic_type"))
        for key in ADMIN_PORT_ATTRS + ("mac_address",):
            if key in body:
                c.require_admin(ctx, f"update_port:{key}")
        with db.transaction() as s:
            port = c.get_port(s, ctx, port_id)
            if "name" in body:
                port.name = c.to_str(body["name"], "name") or ""
            if "description" in body:
                port.description = c.to_str(body["description"], "description") or ""
            if "admin_state_up" in body:
                port.admin_state_up = c.to_bool(body["admin_state_up"], "admin_state_up")
            if "device_id" in body:
                port.device_id = c.to_str(body["device_id"], "device_id") or ""
            if "device_owner" in body:
                port.device_owner = c.to_str(body["device_owner"], "device_owner") or ""
            if "binding:host_id" in body:
                port.binding_host_id = c.to_str(body["binding:host_id"], "binding:host_id") or ""
            if "binding:profile" in body:
                if not isinstance(body["binding:profile"] or {}, dict):
                    raise nexc.InvalidInput(error_message="binding:profile must be an object")
                port.binding_profile = body["binding:profile"] or {}
            if "binding:vnic_type" in body:
                port.binding_vnic_type = c.to_str(body["binding:vnic_type"], "binding:vnic_type", 64) or "normal"
            if "mac_address" in body:
                if port.binding_host_id:
                    raise c.conflict(f"Port {port.id} is bound to {port.binding_host_id}; "
                                        "its MAC address cannot change.")
                mac = self._mac(body["mac_address"])
                if mac != port.mac_address and s.execute(sa.select(models.Port.id).where(
                        models.Port.network_id == port.network_id, models.Port.mac_address == mac)).first():
                    raise nexc.MacAddressInUse(net_id=port.network_id, mac=mac)
                port.mac_address = mac
            if "port_security_enabled" in body:
                port.port_security_enabled = c.to_bool(body["port_security_enabled"], "port_security_enabled")
            if "allowed_address_pairs" in body:
                port.allowed_address_pairs = self._address_pairs(body["allowed_address_pairs"] or [])
            if port.allowed_address_pairs and not port.port_security_enabled:
                raise nexc.AddressPairAndPortSecurityRequired()
            if "security_groups" in body:
                groups = self._port_security_groups(s, ctx, port.project_id, body["security_groups"] or [])
                if groups and not port.port_security_enabled:
                    raise nexc.PortSecurityAndIPRequiredForSecurityGroups()
                s.execute(sa.delete(models.PortSecurityGroup).where(models.PortSecurityGroup.port_id == port.id))
                for gid in groups:
                    s.add(models.PortSecurityGroup(port_id=port.id, security_group_id=gid))
            elif "port_security_enabled" in body and not port.port_security_enabled:
                if s.execute(sa.select(models.PortSecurityGroup.port_id).where(
                        models.PortSecurityGroup.port_id == port.id)).first():
                    raise nexc.PortSecurityPortHasSecurityGroup()
            if "fixed_ips" in body:
                self._replace_fixed_ips(s, port, body["fixed_ips"])
            if not port.device_owner.startswith("network:"):
                port.status = "ACTIVE" if port.binding_host_id else "DOWN"
            c.bump(port)
            s.flush()
            view = self.dataplane.port_views(s, [port])[0]
        self.dataplane.call("port_changed", "update", view) or self.dataplane.set_status(models.Port, port_id, "ERROR")
        return view

    def _replace_fixed_ips(self, s: orm.Session, port: models.Port, fixed_ips: Any) -> None:
        if not isinstance(fixed_ips, list):
            raise nexc.InvalidInput(error_message="fixed_ips must be a list")
        current = list(s.execute(sa.select(models.IPAllocation).where(models.IPAllocation.port_id == port.id))
                       .scalars())
        keep, new = [], []
        for item in fixed_ips:
            match = next((a for a in current if isinstance(item, dict) and item.get("ip_address") == a.ip_address
                          and item.get("subnet_id", a.subnet_id) == a.subnet_id), None)
            (keep.append(match) if match else new.append(item))
        for alloc in current:
            if alloc not in keep:
                s.execute(sa.update(models.FloatingIP).where(
                    models.FloatingIP.fixed_port_id == port.id,
                    models.FloatingIP.fixed_ip_address == alloc.ip_address).values(
                    fixed_port_id=None, fixed_ip_address=None, router_id=None, status="DOWN"))
                s.delete(alloc)
        s.flush()
        if new:
            ipam.allocate_fixed_ips(s, port, new, port.device_owner == c.DEVICE_OWNER_ROUTER_INTF)

    def delete_port(self, ctx: RequestContext, port_id: str, *, _internal: bool = False) -> None:
        with db.transaction() as s:
            port = c.get_port(s, ctx, port_id)
            if not _internal and port.device_owner in c.SERVICE_OWNERS:
                raise nexc.L3PortInUse(port_id=port.id, device_owner=port.device_owner)
            view = self.dataplane.port_views(s, [port])[0]
            fips = list(s.execute(sa.select(models.FloatingIP.id).where(models.FloatingIP.fixed_port_id == port.id))
                        .scalars())
            s.execute(sa.update(models.FloatingIP).where(models.FloatingIP.fixed_port_id == port.id).values(
                fixed_port_id=None, fixed_ip_address=None, router_id=None, status="DOWN"))
            s.execute(sa.delete(models.IPAllocation).where(models.IPAllocation.port_id == port.id))
            s.execute(sa.delete(models.PortSecurityGroup).where(models.PortSecurityGroup.port_id == port.id))
            s.execute(sa.delete(models.Tag).where(models.Tag.resource_id == port.id))
            s.delete(port)
        self.dataplane.call("port_changed", "delete", view)
        for fip_id in fips:
            self.dataplane.notify_fip("update", fip_id)

    # ------------------------------------------------------ IP availability
    def _availability(self, s: orm.Session, net: models.Network) -> dict[str, Any]:
        subnets = []
        for sub in s.execute(sa.select(models.Subnet).where(models.Subnet.network_id == net.id)
                             .order_by(models.Subnet.created_at)).scalars():
            used = int(s.execute(sa.select(sa.func.count()).select_from(models.IPAllocation).where(
                models.IPAllocation.subnet_id == sub.id)).scalar() or 0)
            subnets.append({"subnet_id": sub.id, "subnet_name": sub.name, "cidr": sub.cidr,
                            "ip_version": sub.ip_version, "total_ips": ipam.pool_size(sub), "used_ips": used})
        return {"network_id": net.id, "network_name": net.name, "tenant_id": net.project_id,
                "project_id": net.project_id, "subnet_ip_availability": subnets,
                "total_ips": sum(x["total_ips"] for x in subnets), "used_ips": sum(x["used_ips"] for x in subnets)}

    def list_network_ip_availabilities(self, ctx: RequestContext) -> list[dict[str, Any]]:
        c.require_admin(ctx, "get_network_ip_availability")
        with db.transaction() as s:
            return [self._availability(s, n) for n in s.execute(
                sa.select(models.Network).order_by(models.Network.created_at)).scalars()]

    def get_network_ip_availability(self, ctx: RequestContext, network_id: str) -> dict[str, Any]:
        c.require_admin(ctx, "get_network_ip_availability")
        with db.transaction() as s:
            return self._availability(s, c.get_network(s, ctx, network_id))
