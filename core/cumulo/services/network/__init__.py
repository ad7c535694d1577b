"""The network service: the Networking model (networks, subnets, subnet pools, ports with
IPAM, routers, floating IPs, security groups, quotas, tags, auto-allocated topology).

Frontends call it as ``hub.network``; the compute service calls
``allocate_for_instance``/``deallocate_for_instance``/``get_instance_nw_info``/
``validate_networks`` and the instance security-group methods. Every committed
change is handed to the ``[network] driver`` plugin (``cumulo.network``) so a
data-plane driver can act on it; a driver failure marks the resource ``ERROR``
and never undoes the committed model.

Two network models come out of the same pieces:

* *flat*: an admin creates a shared provider network (``flat``/``vlan``) with a
  subnet of public addresses; servers on it get those addresses directly.
* *private*: a project's own network and subnet, a router with a gateway on the
  external network (SNAT) and floating IPs for inbound reachability;
  ``networks: auto`` builds this on first use.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from oslo_config import cfg

from cumulo import conf as cumulo_conf
from cumulo import db, registry
from cumulo.context import RequestContext
from cumulo.db.models import network as models
from cumulo.services.network import ipam
from cumulo.services.network import policies as _policies
from cumulo.services.network.core import CoreMixin
from cumulo.services.network.instances import InstanceMixin
from cumulo.services.network.l3 import L3Mixin
from cumulo.services.network.quotas import QuotaMixin
from cumulo.services.network.secgroups import SecurityGroupMixin

LOG = logging.getLogger(__name__)

network_opts = [
    cfg.StrOpt("driver", default="noop", help="Network driver plugin (cumulo.network) that realises the model."),
    cfg.StrOpt("tenant_network_type", default="local", choices=["local", "vxlan", "vlan", "flat"],
               help="network_type of networks created without provider attributes."),
    cfg.BoolOpt("create_default_public_network", default=True,
                help="At start, create the default external network (flat, router:external, is_default) "
                     "when none exists, so 'networks: auto' and floating IPs work out of the box."),
    cfg.StrOpt("public_network_name", default="public", help="Name of the default external network."),
    cfg.StrOpt("public_physical_network", default="public",
               help="provider:physical_network of the default external network."),
    cfg.StrOpt("public_subnet_cidr", default="172.24.4.0/24",
               help="CIDR of the default external network's subnet (floating IPs and router gateways)."),
    cfg.StrOpt("public_gateway_ip", default="", help="Gateway of the public subnet; empty: the first address."),
    cfg.StrOpt("public_allocation_pool", default="",
               help="'start-end' pool of the public subnet; empty: the whole CIDR but the gateway."),
    cfg.StrOpt("auto_allocate_cidr", default="10.0.0.0/24",
               help="CIDR of the subnet of an auto-allocated project network (when no default subnet pool)."),
    cfg.ListOpt("auto_allocate_dns_nameservers", default=[],
                help="DNS servers of auto-allocated subnets."),
]

quota_opts = [
    cfg.IntOpt("quota_network", default=100, help="Networks per project (-1: unlimited)."),
    cfg.IntOpt("quota_subnet", default=100, help="Subnets per project (-1: unlimited)."),
    cfg.IntOpt("quota_subnetpool", default=-1, help="Subnet pools per project (-1: unlimited)."),
    cfg.IntOpt("quota_port", default=500, help="Ports per project (-1: unlimited)."),
    cfg.IntOpt("quota_router", default=10, help="Routers per project (-1: unlimited)."),
    cfg.IntOpt("quota_floatingip", default=50, help="Floating IPs per project (-1: unlimited)."),
    cfg.IntOpt("quota_security_group", default=10, help="Security groups per project (-1: unlimited)."),
    cfg.IntOpt("quota_security_group_rule", default=100, help="Security group rules per project (-1: unlimited)."),
    cfg.IntOpt("quota_rbac_policy", default=10, help="RBAC policies per project (reported; RBAC is not supported)."),
]

cumulo_conf.extend("network", network_opts)
cumulo_conf.extend("network_quotas", quota_opts)
_policies.register()  # policy listings and overrides know the network rules before first use


class Service(CoreMixin, L3Mixin, SecurityGroupMixin, QuotaMixin, InstanceMixin):
    """The network manager. Methods take a RequestContext and API-shaped dicts and return
    API-shaped dicts; errors are :mod:`cumulo.services.network.exceptions` (Neutron names)."""

    def __init__(self, hub: Any = None, conf: cfg.ConfigOpts | None = None) -> None:
        self.hub = hub
        self.conf = conf or (hub.conf if hub is not None else cumulo_conf.CONF)
        for group, opts in (("network", network_opts), ("network_quotas", quota_opts)):
            try:
                self.conf.register_opts(opts, group=group)
            except cfg.DuplicateOptError:
                pass
        self.driver = registry.load_driver("network", self.conf.network.driver, conf=self.conf)

    # ----------------------------------------------------------------- driver
    def _call_driver(self, method: str, action: str, resource: dict[str, Any]) -> bool:
        """Hand one committed change to the driver; False (and logged) when it failed."""
        try:
            getattr(self.driver, method)(action, resource)
            return True
        except Exception:
            LOG.exception("Network driver %s.%s(%s, %s) failed", self.conf.network.driver, method, action,
                          resource.get("id"))
            return False

    def _set_status(self, model: type, rid: str, status: str) -> bool:
        with db.transaction() as s:
            obj = s.get(model, rid)
            if obj is not None and hasattr(obj, "status"):
                obj.status = status
        return False

    def model_snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """The whole model as the driver sees it (what ``sync`` receives)."""
        admin = RequestContext(roles=["admin"], is_admin=True)
        networks = self.list_networks(admin)
        subnets = self.list_subnets(admin)
        for n in networks:
            n["subnet_details"] = [x for x in subnets if x["network_id"] == n["id"]]
        routers = [self._driver_router(r["id"]) for r in self.list_routers(admin)]
        groups = self.list_security_groups(admin)
        with db.transaction() as s:
            members: dict[str, list[str]] = {}
            for pid, gid in s.execute(sa.select(models.PortSecurityGroup.port_id,
                                                models.PortSecurityGroup.security_group_id)):
                members.setdefault(gid, []).append(pid)
        for g in groups:
            g["port_ids"] = sorted(members.get(g["id"], []))
        return {"networks": networks, "ports": self.list_ports(admin), "routers": [r for r in routers if r],
                "floatingips": self.list_floatingips(admin), "security_groups": groups}

    def sync_driver(self) -> None:
        try:
            self.driver.sync(self.model_snapshot())
        except Exception:
            LOG.exception("Network driver %s failed to sync the model", self.conf.network.driver)

    # --------------------------------------------------------------- defaults
    def ensure_defaults(self) -> dict[str, Any] | None:
        """Create the default external network and subnet when none exists (all-in-one bootstrap)."""
        conf = self.conf.network
        if not conf.create_default_public_network:
            return None
        with db.transaction() as s:
            existing = s.execute(sa.select(models.Network).where(models.Network.is_default.is_(True))).scalar()
            if existing is not None:
                return None
            if s.execute(sa.select(models.Network.id).where(models.Network.external.is_(True))).first():
                return None  # the operator made their own external networks: leave them alone
        admin = RequestContext(roles=["admin"], is_admin=True)
        net = self.create_network(admin, {"name": conf.public_network_name, "router:external": True,
                                          "is_default": True, "provider:network_type": "flat",
                                          "provider:physical_network": conf.public_physical_network})
        body: dict[str, Any] = {"network_id": net["id"], "name": f"{conf.public_network_name}-subnet",
                                "cidr": conf.public_subnet_cidr, "ip_version": ipam.parse_cidr(
                                    conf.public_subnet_cidr).version, "enable_dhcp": False}
        if conf.public_gateway_ip:
            body["gateway_ip"] = conf.public_gateway_ip
        if conf.public_allocation_pool:
            start, _, end = conf.public_allocation_pool.partition("-")
            body["allocation_pools"] = [{"start": start.strip(), "end": end.strip()}]
        self.create_subnet(admin, body)
        LOG.info("Created the default external network %s (%s)", net["id"], conf.public_subnet_cidr)
        return net


def start(hub: Any) -> list[Any]:
    """All-in-one start: bootstrap the default external network, replay the model to the driver."""
    service = hub.get("network")
    try:
        service.ensure_defaults()
    except Exception:
        LOG.exception("Could not create the default external network")
    service.sync_driver()
    return []
