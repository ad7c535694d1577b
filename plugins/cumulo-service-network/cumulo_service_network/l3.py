"""Routers (gateway, interfaces, routes) and floating IPs (NAT to a fixed IP through a router):
the :class:`L3` component.

Depends on :class:`.dataplane.DataPlane` and :class:`.quotas.Quotas` only; the
ports it makes (router interfaces and gateways, floating IPs) are allocated
with :func:`.ipam.allocate_fixed_ips`.
"""

from __future__ import annotations

from typing import Any

import netaddr
import sqlalchemy as sa
from sqlalchemy import orm

import cumulo.contracts.network as nexc
import cumulo_service_network.common as c
import cumulo_service_network.ipam as ipam
import cumulo_service_network.models as models
import cumulo_service_network.policies as policies
import cumulo_service_network.records as records
import cumulo_service_network.views as views
from cumulo import db
from cumulo.context import RequestContext
from cumulo.contracts.network import FloatingIP
from cumulo.db.models.base import new_id
from cumulo_service_network.dataplane import DataPlane
from cumulo_service_network.quotas import Quotas

ROUTER_ATTRS = ("name", "description", "admin_state_up", "external_gateway_info", "routes", "project_id",
                "tenant_id", "distributed", "ha", "availability_zone_hints")
FIP_ATTRS = ("floating_network_id", "floating_ip_address", "subnet_id", "port_id", "fixed_ip_address",
             "description", "project_id", "tenant_id", "dns_name", "dns_domain")


class L3:
    """Routers and floating IPs."""

    #: What ``hub.network`` offers of this component.
    API = ("list_routers", "get_router", "create_router", "update_router", "delete_router", "add_router_interface",
           "remove_router_interface", "list_floatingips", "get_floatingip", "create_floatingip", "update_floatingip",
           "delete_floatingip", "floating_ips")

    def __init__(self, dataplane: DataPlane, quotas: Quotas) -> None:
        self.dataplane, self.quotas = dataplane, quotas

    # ------------------------------------------------------------------ routers
    def list_routers(self, ctx: RequestContext) -> list[dict[str, Any]]:
        with db.reader() as s:
            q = sa.select(models.Router)
            if not ctx.is_admin:
                q = q.where(models.Router.project_id == (ctx.project_id or ""))
            return views.router_views(s, list(s.execute(q.order_by(models.Router.created_at)).scalars()))

    def get_router(self, ctx: RequestContext, router_id: str) -> dict[str, Any]:
        with db.reader() as s:
            return views.router_views(s, [c.get_owned(s, ctx, models.Router, router_id, nexc.RouterNotFound)])[0]

    def _set_gateway(self, s: orm.Session, ctx: RequestContext, router: models.Router, info: Any,
                     op: str) -> None:
        if info is not None and not isinstance(info, dict):
            raise nexc.InvalidInput(error_message="external_gateway_info must be an object or null")
        info = info or {}
        c.check_keys(info, "external_gateway_info", ("network_id", "enable_snat", "external_fixed_ips"))
        new_net = info.get("network_id")
        if router.gw_network_id and router.gw_network_id != new_net:
            if s.execute(sa.select(models.FloatingIP.id).where(models.FloatingIP.router_id == router.id)).first():
                raise nexc.RouterExternalGatewayInUseByFloatingIp(router_id=router.id, net_id=router.gw_network_id)
            if router.gw_port_id:
                s.execute(sa.delete(models.Port).where(models.Port.id == router.gw_port_id))
            router.gw_network_id, router.gw_port_id = None, None
        if "enable_snat" in info:
            policies.enforce(ctx, policies.ROUTER_GW_SNAT % op)
            router.enable_snat = c.to_bool(info["enable_snat"], "enable_snat")
        if not new_net:
            router.enable_snat = True
            return
        if router.gw_network_id == new_net and "external_fixed_ips" not in info:
            return
        net = c.get_network(s, ctx, new_net)
        if not net.external:
            raise nexc.BadRequest(reason=f"Bad router request: Network {net.id} is not an external network.")
        if router.gw_port_id:
            s.execute(sa.delete(models.Port).where(models.Port.id == router.gw_port_id))
            s.flush()
        port = models.Port(project_id="", network_id=net.id, name="", description="", mac_address=c.random_mac(),
                           admin_state_up=True, status="ACTIVE", device_id=router.id,
                           device_owner=c.DEVICE_OWNER_ROUTER_GW, binding_host_id="", binding_profile={},
                           binding_vnic_type="normal", port_security_enabled=False, allowed_address_pairs=[],
                           revision_number=0, created_for_instance=False)
        s.add(port)
        s.flush()
        fixed = info.get("external_fixed_ips")
        if fixed is not None and any(x.get("ip_address") for x in fixed if isinstance(x, dict)):
            policies.enforce(ctx, policies.ROUTER_GW_FIXED_IPS % op)
        ipam.allocate_fixed_ips(s, port, fixed or None, False)
        router.gw_network_id, router.gw_port_id = net.id, port.id

    def _routes_value(self, value: Any) -> list[dict[str, str]]:
        if not isinstance(value, list):
            raise nexc.InvalidInput(error_message="routes must be a list of {destination, nexthop}")
        out = []
        for r in value:
            if not isinstance(r, dict) or set(r) != {"destination", "nexthop"}:
                raise nexc.InvalidInput(error_message=f"route {r!r} must have exactly destination and nexthop")
            item = {"destination": str(ipam.parse_cidr(r["destination"], "destination")),
                    "nexthop": str(ipam.parse_ip(r["nexthop"], "nexthop"))}
            if item not in out:
                out.append(item)
        return out

    def create_router(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        body = c.check_keys(body, "router", ROUTER_ATTRS)
        project = c.owner_project(ctx, body)
        if c.to_bool(body.get("distributed", False), "distributed") or c.to_bool(body.get("ha", False), "ha"):
            raise nexc.BadRequest(reason="Distributed and HA routers are not supported.")
        with db.transaction() as s:
            self.quotas.check(s, project, "router", 1)
            router = models.Router(project_id=project, name=c.to_str(body.get("name"), "name"),
                                   description=c.to_str(body.get("description"), "description"),
                                   admin_state_up=c.to_bool(body.get("admin_state_up", True), "admin_state_up"),
                                   status="ACTIVE", enable_snat=True, routes=[], revision_number=0)
            s.add(router)
            s.flush()
            if body.get("external_gateway_info"):
                self._set_gateway(s, ctx, router, body["external_gateway_info"], "create")
            if body.get("routes"):
                router.routes = self._routes_value(body["routes"])
            s.flush()
            view = views.router_views(s, [router])[0]
        self.dataplane.notify_router("create", view["id"])
        return view

    def update_router(self, ctx: RequestContext, router_id: str, body: dict[str, Any]) -> dict[str, Any]:
        body = c.check_keys(body, "router", ("name", "description", "admin_state_up", "external_gateway_info",
                                             "routes"))
        with db.transaction() as s:
            router = c.get_owned(s, ctx, models.Router, router_id, nexc.RouterNotFound)
            if "name" in body:
                router.name = c.to_str(body["name"], "name") or ""
            if "description" in body:
                router.description = c.to_str(body["description"], "description") or ""
            if "admin_state_up" in body:
                router.admin_state_up = c.to_bool(body["admin_state_up"], "admin_state_up")
            if "external_gateway_info" in body:
                self._set_gateway(s, ctx, router, body["external_gateway_info"], "update")
            if "routes" in body:
                router.routes = self._routes_value(body["routes"] or [])
            c.bump(router)
            s.flush()
            view = views.router_views(s, [router])[0]
        self.dataplane.notify_router("update", router_id)
        return view

    def delete_router(self, ctx: RequestContext, router_id: str) -> None:
        with db.transaction() as s:
            router = c.get_owned(s, ctx, models.Router, router_id, nexc.RouterNotFound)
            if s.execute(sa.select(models.Port.id).where(models.Port.device_id == router.id,
                                                         models.Port.device_owner == c.DEVICE_OWNER_ROUTER_INTF)).first():
                raise nexc.RouterInUse(router_id=router.id, reason="still has ports (interfaces); remove them with "
                                                                   "'router remove subnet/port' first.")
            if s.execute(sa.select(models.FloatingIP.id).where(models.FloatingIP.router_id == router.id)).first():
                raise nexc.RouterInUse(router_id=router.id, reason="is used by associated floating IPs.")
        record = self.dataplane.router_record(router_id)
        with db.transaction() as s:
            router = s.get(models.Router, router_id)
            if router is None:
                return
            if router.gw_port_id:
                s.execute(sa.delete(models.Port).where(models.Port.id == router.gw_port_id))
            s.execute(sa.update(models.AutoAllocatedTopology).where(
                models.AutoAllocatedTopology.router_id == router.id).values(router_id=None))
            s.execute(sa.delete(models.Tag).where(models.Tag.resource_id == router.id))
            s.delete(router)
        self.dataplane.notify_router("delete", router_id, record)

    def _router_subnet_overlap(self, s: orm.Session, router: models.Router, sub: models.Subnet) -> None:
        new = netaddr.IPNetwork(sub.cidr)
        rows = s.execute(sa.select(models.Subnet).join(
            models.IPAllocation, models.IPAllocation.subnet_id == models.Subnet.id).join(
            models.Port, models.Port.id == models.IPAllocation.port_id).where(
            models.Port.device_id == router.id, models.Port.device_owner == c.DEVICE_OWNER_ROUTER_INTF)).scalars()
        for other in rows:
            if other.id == sub.id:
                raise nexc.BadRequest(reason=f"Bad router request: Router already has a port on subnet {sub.id}.")
            o = netaddr.IPNetwork(other.cidr)
            if o.version == new.version and o.first <= new.last and new.first <= o.last:
                raise nexc.BadRequest(reason=f"Bad router request: Cidr {new} of subnet {sub.id} overlaps with cidr "
                                             f"{o} of subnet {other.id}.")

    def add_router_interface(self, ctx: RequestContext, router_id: str, body: Any) -> dict[str, Any]:
        body = c.check_keys(body, "router interface", ("subnet_id", "port_id"))
        if bool(body.get("subnet_id")) == bool(body.get("port_id")):
            raise nexc.BadRequest(reason="Bad router request: Either subnet_id or port_id must be specified "
                                         "(not both).")
        with db.transaction() as s:
            router = c.get_owned(s, ctx, models.Router, router_id, nexc.RouterNotFound)
            if body.get("subnet_id"):
                sub = c.visible_subnet(s, ctx, body["subnet_id"])
                if not sub.gateway_ip:
                    raise nexc.BadRequest(reason=f"Bad router request: Subnet {sub.id} does not have a gateway IP.")
                self._router_subnet_overlap(s, router, sub)
                port_id = self._add_interface_port(s, router, sub)
                subnet_ids = [sub.id]
                network_id = sub.network_id
            else:
                port = c.get_port(s, ctx, body["port_id"])
                if port.device_id:
                    raise nexc.PortInUse(port_id=port.id, net_id=port.network_id, device_id=port.device_id)
                allocs = list(s.execute(sa.select(models.IPAllocation).where(
                    models.IPAllocation.port_id == port.id)).scalars())
                if not allocs:
                    raise nexc.BadRequest(reason=f"Bad router request: Router port {port.id} must have at least "
                                                 "one fixed IP.")
                for a in allocs:
                    allocated = s.get(models.Subnet, a.subnet_id)
                    assert allocated is not None  # allocations are deleted with their subnet
                    self._router_subnet_overlap(s, router, allocated)
                port.device_id, port.device_owner, port.status = router.id, c.DEVICE_OWNER_ROUTER_INTF, "ACTIVE"
                s.execute(sa.delete(models.PortSecurityGroup).where(models.PortSecurityGroup.port_id == port.id))
                port_id, subnet_ids, network_id = port.id, [a.subnet_id for a in allocs], port.network_id
            c.bump(router)
        self.dataplane.notify_router("update", router_id)
        return {"id": router_id, "tenant_id": router.project_id, "project_id": router.project_id,
                "port_id": port_id, "subnet_id": subnet_ids[0], "subnet_ids": subnet_ids, "network_id": network_id}

    def _add_interface_port(self, s: orm.Session, router: models.Router, sub: models.Subnet) -> str:
        port = models.Port(project_id=router.project_id, network_id=sub.network_id, name="", description="",
                           mac_address=c.random_mac(), admin_state_up=True, status="ACTIVE", device_id=router.id,
                           device_owner=c.DEVICE_OWNER_ROUTER_INTF, binding_host_id="", binding_profile={},
                           binding_vnic_type="normal", port_security_enabled=False, allowed_address_pairs=[],
                           revision_number=0, created_for_instance=False)
        s.add(port)
        s.flush()
        assert sub.gateway_ip
        ipam.allocate_specific(s, port.id, sub, sub.gateway_ip)
        return port.id

    def remove_router_interface(self, ctx: RequestContext, router_id: str, body: Any) -> dict[str, Any]:
        body = c.check_keys(body, "router interface", ("subnet_id", "port_id"))
        if not body.get("subnet_id") and not body.get("port_id"):
            raise nexc.BadRequest(reason="Bad router request: Either subnet_id or port_id must be specified.")
        for key in ("subnet_id", "port_id"):
            if body.get(key) is not None:
                c.to_id(body[key], key)
        with db.transaction() as s:
            router = c.get_owned(s, ctx, models.Router, router_id, nexc.RouterNotFound)
            q = sa.select(models.Port).where(models.Port.device_id == router.id,
                                             models.Port.device_owner == c.DEVICE_OWNER_ROUTER_INTF)
            if body.get("port_id"):
                port = s.execute(q.where(models.Port.id == body["port_id"])).scalar()
                if port is None:
                    raise nexc.RouterInterfaceNotFound(router_id=router.id, port_id=body["port_id"])
            else:
                port = s.execute(q.join(models.IPAllocation, models.IPAllocation.port_id == models.Port.id).where(
                    models.IPAllocation.subnet_id == body["subnet_id"])).scalar()
                if port is None:
                    raise nexc.RouterInterfaceNotFoundForSubnet(router_id=router.id, subnet_id=body["subnet_id"])
            subnet_ids = list(s.execute(sa.select(models.IPAllocation.subnet_id).where(
                models.IPAllocation.port_id == port.id)).scalars())
            for sid in subnet_ids:
                in_use = s.execute(sa.select(models.FloatingIP.id).join(
                    models.IPAllocation, models.IPAllocation.port_id == models.FloatingIP.fixed_port_id).where(
                    models.FloatingIP.router_id == router.id, models.IPAllocation.subnet_id == sid)).first()
                if in_use:
                    raise nexc.RouterInterfaceInUseByFloatingIP(router_id=router.id, subnet_id=sid)
            result = {"id": router.id, "tenant_id": router.project_id, "project_id": router.project_id,
                      "port_id": port.id, "subnet_id": subnet_ids[0] if subnet_ids else None,
                      "subnet_ids": subnet_ids, "network_id": port.network_id}
            s.execute(sa.delete(models.IPAllocation).where(models.IPAllocation.port_id == port.id))
            s.delete(port)
            c.bump(router)
        self.dataplane.notify_router("update", router_id)
        return result

    # ------------------------------------------------------------- floating IPs
    def list_floatingips(self, ctx: RequestContext) -> list[dict[str, Any]]:
        with db.reader() as s:
            q = sa.select(models.FloatingIP)
            if not ctx.is_admin:
                q = q.where(models.FloatingIP.project_id == (ctx.project_id or ""))
            return views.fip_views(s, list(s.execute(q.order_by(models.FloatingIP.created_at)).scalars()))

    def floating_ips(self, ctx: RequestContext) -> list[FloatingIP]:
        """:meth:`list_floatingips` as the contract's records."""
        return [records.floating_ip(f) for f in self.list_floatingips(ctx)]

    def get_floatingip(self, ctx: RequestContext, fip_id: str) -> dict[str, Any]:
        with db.reader() as s:
            return views.fip_views(s, [c.get_owned(s, ctx, models.FloatingIP, fip_id, nexc.FloatingIPNotFound)])[0]

    def _associate(self, s: orm.Session, ctx: RequestContext, fip: models.FloatingIP, port_id: Any,
                   fixed_ip: Any) -> None:
        if port_id is None:
            fip.fixed_port_id = fip.fixed_ip_address = fip.router_id = None
            return
        port = c.get_port(s, ctx, port_id)
        allocs = [(a.subnet_id, a.ip_address) for a in s.execute(sa.select(models.IPAllocation).where(
            models.IPAllocation.port_id == port.id)).scalars() if netaddr.IPAddress(a.ip_address).version == 4]
        if fixed_ip is not None:
            fixed_ip = str(ipam.parse_ip(fixed_ip, "fixed_ip_address"))
            allocs = [a for a in allocs if a[1] == fixed_ip]
            if not allocs:
                raise nexc.BadRequest(reason=f"Bad floatingip request: Port {port.id} does not have fixed ip "
                                             f"{fixed_ip}.")
        if not allocs:
            raise nexc.BadRequest(reason=f"Bad floatingip request: Port {port.id} does not have any IPv4 fixed "
                                         "address.")
        if len(allocs) > 1:
            raise nexc.BadRequest(reason=f"Port {port.id} has multiple fixed IPv4 addresses. Must provide a "
                                         "specific IPv4 address when assigning a floating IP.")
        subnet_id, ip = allocs[0]
        router_id = s.execute(sa.select(models.Router.id).join(
            models.Port, models.Port.device_id == models.Router.id).join(
            models.IPAllocation, models.IPAllocation.port_id == models.Port.id).where(
            models.Router.gw_network_id == fip.floating_network_id,
            models.Port.device_owner == c.DEVICE_OWNER_ROUTER_INTF,
            models.IPAllocation.subnet_id == subnet_id)).scalar()
        if router_id is None:
            raise nexc.ExternalGatewayForFloatingIPNotFound(external_network_id=fip.floating_network_id,
                                                            subnet_id=subnet_id, port_id=port.id)
        other = s.execute(sa.select(models.FloatingIP).where(
            models.FloatingIP.fixed_port_id == port.id, models.FloatingIP.fixed_ip_address == ip,
            models.FloatingIP.floating_network_id == fip.floating_network_id,
            models.FloatingIP.id != fip.id)).scalar()
        if other is not None:
            raise nexc.FloatingIPPortAlreadyAssociated(floating_ip_address=other.floating_ip_address,
                                                       fip_id=other.id, port_id=port.id, fixed_ip=ip,
                                                       net_id=fip.floating_network_id)
        fip.fixed_port_id, fip.fixed_ip_address, fip.router_id = port.id, ip, router_id

    def create_floatingip(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        body = c.check_keys(body, "floatingip", FIP_ATTRS)
        if not body.get("floating_network_id"):
            raise nexc.BadRequest(reason="Failed to parse request. Required attribute 'floating_network_id' "
                                         "not specified")
        project = c.owner_project(ctx, body)
        if body.get("floating_ip_address"):
            policies.enforce(ctx, policies.CREATE_FIP_ADDRESS)
        with db.transaction() as s:
            net = c.get_network(s, ctx, body["floating_network_id"])
            if not net.external:
                raise nexc.BadRequest(reason=f"Bad floatingip request: Network {net.id} is not a valid external "
                                             "network.")
            self.quotas.check(s, project, "floatingip", 1)
            fip_id = new_id()
            port = models.Port(project_id="", network_id=net.id, name="", description="", mac_address=c.random_mac(),
                               admin_state_up=True, status="ACTIVE", device_id=fip_id,
                               device_owner=c.DEVICE_OWNER_FLOATINGIP, binding_host_id="", binding_profile={},
                               binding_vnic_type="normal", port_security_enabled=False, allowed_address_pairs=[],
                               revision_number=0, created_for_instance=False)
            s.add(port)
            s.flush()
            fixed: list[dict[str, str]] | None = None
            if body.get("floating_ip_address"):
                fixed = [{"ip_address": body["floating_ip_address"]}]
                if body.get("subnet_id"):
                    fixed[0]["subnet_id"] = body["subnet_id"]
            elif body.get("subnet_id"):
                fixed = [{"subnet_id": body["subnet_id"]}]
            ipam.allocate_fixed_ips(s, port, fixed, False)
            address = s.execute(sa.select(models.IPAllocation.ip_address).where(
                models.IPAllocation.port_id == port.id).order_by(models.IPAllocation.id)).scalars().first()
            if address is None:
                raise nexc.IpAddressGenerationFailure(net_id=net.id)
            fip = models.FloatingIP(id=fip_id, project_id=project, name="",
                                    description=c.to_str(body.get("description"), "description"),
                                    floating_network_id=net.id, floating_ip_address=address,
                                    floating_port_id=port.id, status="DOWN", revision_number=0)
            if body.get("port_id"):
                self._associate(s, ctx, fip, body["port_id"], body.get("fixed_ip_address"))
            s.add(fip)
            s.flush()
            view = views.fip_views(s, [fip])[0]
            record = self.dataplane.fip_record(fip)
        self.dataplane.notify_fip("create", fip_id, record)
        if record.router_id:  # created associated: the router NATs it from now on
            self.dataplane.notify_router("update", record.router_id)
        return view

    def update_floatingip(self, ctx: RequestContext, fip_id: str, body: dict[str, Any]) -> dict[str, Any]:
        body = c.check_keys(body, "floatingip", ("port_id", "fixed_ip_address", "description"))
        with db.transaction() as s:
            fip = c.get_owned(s, ctx, models.FloatingIP, fip_id, nexc.FloatingIPNotFound)
            old_router = fip.router_id
            if "description" in body:
                fip.description = c.to_str(body["description"], "description") or ""
            if "port_id" in body:
                self._associate(s, ctx, fip, body["port_id"], body.get("fixed_ip_address"))
            c.bump(fip)
            s.flush()
            view = views.fip_views(s, [fip])[0]
        self.dataplane.notify_fip("update", fip_id)
        for rid in {old_router, view["router_id"]} - {None}:
            self.dataplane.notify_router("update", rid)
        return view

    def delete_floatingip(self, ctx: RequestContext, fip_id: str) -> None:
        with db.transaction() as s:
            fip = c.get_owned(s, ctx, models.FloatingIP, fip_id, nexc.FloatingIPNotFound)
            record = self.dataplane.fip_record(fip)
            s.execute(sa.delete(models.Port).where(models.Port.id == fip.floating_port_id))
            s.execute(sa.delete(models.Tag).where(models.Tag.resource_id == fip.id))
            s.delete(fip)
        self.dataplane.notify_fip("delete", fip_id, record)
        if record.router_id:
            self.dataplane.notify_router("update", record.router_id)
