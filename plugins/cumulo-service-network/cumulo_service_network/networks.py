"""Networks (provider attributes, the default external network) and IP availability: the :class:`Networks` component.

Depends on :class:`.dataplane.DataPlane` and :class:`.quotas.Quotas`, given to
it by the service; on no other component.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy import orm

import cumulo.contracts.network as nexc
import cumulo_service_network.common as c
import cumulo_service_network.ipam as ipam
import cumulo_service_network.models as models
import cumulo_service_network.records as records
import cumulo_service_network.views as views
from cumulo import db
from cumulo.context import RequestContext
from cumulo.contracts.network import NetworkSummary
from cumulo_service_network.dataplane import DataPlane
from cumulo_service_network.quotas import Quotas

NETWORK_ATTRS = ("name", "description", "admin_state_up", "shared", "router:external", "is_default",
                 "provider:network_type", "provider:physical_network", "provider:segmentation_id", "mtu",
                 "port_security_enabled", "project_id", "tenant_id", "availability_zone_hints")


class Networks:
    """Networks and their IP availability."""

    #: What ``hub.network`` offers of this component.
    API = ("list_networks", "get_network", "create_network", "update_network", "delete_network",
           "list_network_ip_availabilities", "get_network_ip_availability", "network_summaries")

    def __init__(self, conf: cfg.ConfigOpts, dataplane: DataPlane, quotas: Quotas) -> None:
        self.conf, self.dataplane, self.quotas = conf, dataplane, quotas

    # ----------------------------------------------------------------- networks
    def list_networks(self, ctx: RequestContext) -> list[dict[str, Any]]:
        with db.reader() as s:
            q = sa.select(models.Network)
            if not ctx.is_admin:
                q = q.where(sa.or_(models.Network.project_id == (ctx.project_id or ""),
                                   models.Network.shared.is_(True), models.Network.external.is_(True)))
            return views.network_views(s, list(s.execute(q.order_by(models.Network.created_at)).scalars()))

    def network_summaries(self, ctx: RequestContext) -> list[NetworkSummary]:
        """:meth:`list_networks` as the contract's records."""
        return [records.network_summary(n) for n in self.list_networks(ctx)]

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
            # As Neutron: an external network's floating IPs that no port uses go with it; one in use
            # (associated) keeps the network in use through its port.
            loose = list(s.execute(sa.select(models.FloatingIP).where(
                models.FloatingIP.floating_network_id == net.id, models.FloatingIP.fixed_port_id.is_(None)))
                .scalars()) if net.external else []
            loose_ports = {f.floating_port_id for f in loose}
            in_use = s.execute(sa.select(models.Port.id).where(
                models.Port.network_id == net.id, models.Port.device_owner != c.DEVICE_OWNER_DHCP,
                models.Port.id.not_in(loose_ports))).first()
            if in_use:
                raise nexc.NetworkInUse(net_id=net.id)
            fip_records = [(f.id, self.dataplane.fip_record(f)) for f in loose]
            for fip in loose:
                s.execute(sa.delete(models.Tag).where(models.Tag.resource_id == fip.id))
                s.delete(fip)
            s.flush()
            record = self.dataplane.network_record(s, net)
            s.execute(sa.delete(models.Port).where(models.Port.network_id == net.id))
            subnet_ids = list(s.execute(sa.select(models.Subnet.id).where(models.Subnet.network_id == net.id))
                              .scalars())
            s.execute(sa.delete(models.Tag).where(models.Tag.resource_id.in_(subnet_ids + [net.id])))
            s.execute(sa.delete(models.Subnet).where(models.Subnet.network_id == net.id))
            s.execute(sa.delete(models.AutoAllocatedTopology).where(
                models.AutoAllocatedTopology.network_id == net.id))
            s.delete(net)
        for fip_id, fip_record in fip_records:
            self.dataplane.notify_fip("delete", fip_id, fip_record)
        self.dataplane.notify_network("delete", record.id, record)


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
