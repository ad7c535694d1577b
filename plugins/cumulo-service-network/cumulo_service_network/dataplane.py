"""The network service's link to its data-plane driver (``[network] driver``).

Every committed change is handed to the driver here; a driver failure is
logged, marks the resource ``ERROR`` and never undoes the committed model.
The components of the service (:mod:`.core`, :mod:`.l3`, :mod:`.secgroups`,
:mod:`.instances`) depend on :class:`DataPlane` to tell the driver about
networks, ports, routers, floating IPs and security groups, so none of them
needs another component to do it. Depends on :mod:`.views` and the models only.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy import orm

import cumulo_service_network.common as c
import cumulo_service_network.models as models
import cumulo_service_network.views as views
from cumulo import db
from cumulo.interfaces.network import NetworkDriver

LOG = logging.getLogger(__name__)


class DataPlane:
    """Tells the driver about committed changes and renders what it is sent.

    ``driver`` may be replaced after construction (the conformance kit does).
    """

    def __init__(self, driver: NetworkDriver, conf: cfg.ConfigOpts) -> None:
        self.driver = driver
        self.conf = conf

    def call(self, method: str, action: str, resource: dict[str, Any]) -> bool:
        """Hand one committed change to the driver; False (and logged) when it failed."""
        try:
            getattr(self.driver, method)(action, resource)
            return True
        except Exception:
            LOG.exception("Network driver %s.%s(%s, %s) failed", self.conf.network.driver, method, action,
                          resource.get("id"))
            return False

    def set_status(self, model: type, rid: str, status: str) -> bool:
        with db.transaction() as s:
            obj = s.get(model, rid)
            if obj is not None and hasattr(obj, "status"):
                obj.status = status
        return False

    def port_views(self, s: orm.Session, ports: list[models.Port]) -> list[dict[str, Any]]:
        """Port views, with the binding details the driver gives bound ports."""
        return views.port_views(s, ports, self.driver)

    # -- notifications, one per resource kind ----------------------------------------
    def notify_network(self, action: str, network_id: str) -> None:
        with db.transaction() as s:
            net = s.get(models.Network, network_id)
            if net is None:
                return
            view = views.network_views(s, [net])[0]
            subnets = list(s.execute(sa.select(models.Subnet).where(models.Subnet.network_id == network_id)).scalars())
            view["subnet_details"] = views.subnet_views(s, subnets)
        if not self.call("network_changed", action, view):
            self.set_status(models.Network, network_id, "ERROR")

    def router_view(self, router_id: str) -> dict[str, Any] | None:
        """The router view plus what a data plane needs: interfaces, gateway port and floating IPs."""
        with db.transaction() as s:
            r = s.get(models.Router, router_id)
            if r is None:
                return None
            view = views.router_views(s, [r])[0]
            ports = list(s.execute(sa.select(models.Port).where(models.Port.device_id == r.id, models.Port.device_owner
                                                                .in_([c.DEVICE_OWNER_ROUTER_INTF,
                                                                      c.DEVICE_OWNER_ROUTER_GW]))).scalars())
            port_views = self.port_views(s, ports)
            wanted = {ip["subnet_id"] for p in port_views for ip in p["fixed_ips"]}
            cidrs = dict(s.execute(sa.select(models.Subnet.id, models.Subnet.cidr).where(
                models.Subnet.id.in_(wanted or {""}))).all())
            view["interfaces"] = [{"port_id": p["id"], "network_id": p["network_id"], "mac_address": p["mac_address"],
                                   "fixed_ips": [dict(ip, cidr=cidrs.get(ip["subnet_id"])) for ip in p["fixed_ips"]]}
                                  for p in port_views if p["device_owner"] == c.DEVICE_OWNER_ROUTER_INTF]
            view["gateway_port"] = next((p for p in port_views if p["device_owner"] == c.DEVICE_OWNER_ROUTER_GW), None)
            view["floatingips"] = views.fip_views(s, list(s.execute(sa.select(models.FloatingIP).where(
                models.FloatingIP.router_id == r.id)).scalars()))
            return view

    def notify_router(self, action: str, router_id: str, view: dict[str, Any] | None = None) -> None:
        view = view or self.router_view(router_id)
        if view is not None and not self.call("router_changed", action, view) and action != "delete":
            self.set_status(models.Router, router_id, "ERROR")

    def notify_fip(self, action: str, fip_id: str, view: dict[str, Any] | None = None) -> None:
        if view is None:
            with db.transaction() as s:
                fip = s.get(models.FloatingIP, fip_id)
                if fip is None:
                    return
                view = views.fip_views(s, [fip])[0]
        if not self.call("floatingip_changed", action, view) and action != "delete":
            self.set_status(models.FloatingIP, fip_id, "ERROR")

    def notify_sg(self, action: str, group_id: str, view: dict[str, Any] | None = None) -> None:
        if view is None:
            with db.transaction() as s:
                group = s.get(models.SecurityGroup, group_id)
                if group is None:
                    return
                view = views.sg_views(s, [group])[0]
                view["port_ids"] = sorted(s.execute(sa.select(models.PortSecurityGroup.port_id).where(
                    models.PortSecurityGroup.security_group_id == group_id)).scalars())
        self.call("security_group_changed", action, view)
