"""The network service: the Networking model (networks, subnets, subnet pools, ports with
IPAM, routers, floating IPs, security groups, quotas, tags, auto-allocated topology).

Frontends call it as ``hub.network``. Other areas call the kernel contract
:class:`cumulo.contracts.network.NetworkService`, which :class:`Service`
implements with typed records (``allocate_instance_ports``, ``instance_ports``,
``validate_networks``, the instance security-group methods,
``instance_by_address``...); a server's ports and groups are offered only as
those records. Every committed change is handed to the ``[network] driver``
plugin (``cumulo.network``, as NetworkDriver 3.0 records) so a data-plane driver can act on it; a driver
failure marks the resource ``ERROR`` and never undoes the committed model.

Two network models come out of the same pieces:

* *flat*: an admin creates a shared provider network (``flat``/``vlan``) with a
  subnet of public addresses; servers on it get those addresses directly.
* *private*: a project's own network and subnet, a router with a gateway on the
  external network (SNAT) and floating IPs for inbound reachability;
  ``networks: auto`` builds this on first use.

:class:`Service` is composed of components, each a class holding the pieces
it needs, given to it here; dependencies run one way (no component imports the
package or a component that needs it):

* :class:`~.dataplane.DataPlane`: tells the ``[network] driver`` plugin about
  every committed change; :class:`~.quotas.Quotas`; :class:`~.tags.Tags`;
* :class:`~.secgroups.SecurityGroups` (data plane, quotas);
* :class:`~.networks.Networks` (data plane, quotas): networks and their IP
  availability; :class:`~.subnets.Subnets` (data plane, quotas): subnets and
  subnet pools; :class:`~.ports.Ports` (data plane, quotas, security groups);
* :class:`~.l3.L3`: routers, floating IPs (data plane, quotas);
* :class:`~.instances.Instances`: what the compute service calls (all of the above).

Shared helpers are leaf modules: :mod:`.common` (coercion, visibility,
lookups, ``random_mac``), :mod:`.views` (the API dicts), :mod:`.records` (the
contract's records from those dicts), :mod:`.driver_records` (the network
driver's records from the rows), :mod:`.ipam`, :mod:`.policies`; the
errors are the contract's, the options :mod:`cumulo_service_network.opts`.
``hub.network.<method>`` is the public method of the component that owns it
(each lists them in ``API``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from oslo_config import cfg

import cumulo_service_network.ipam as ipam
import cumulo_service_network.models as models
import cumulo_service_network.policies as _policies
import cumulo_service_network.records as records
from cumulo import conf as cumulo_conf
from cumulo import db, registry
from cumulo.context import RequestContext
from cumulo.contracts.network import (
    Direction,
    Ethertype,
    FloatingIP,
    InstancePort,
    NetworkNotFound,
    NetworkRequest,
    NetworkService,
    NetworkSummary,
    RequestedNetwork,
    SecurityGroup,
    SecurityGroupRule,
)
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.network import Model, NetworkDriver
from cumulo_service_network.agents import Agents
from cumulo_service_network.dataplane import DataPlane
from cumulo_service_network.instances import Instances
from cumulo_service_network.l3 import L3
from cumulo_service_network.networks import Networks
from cumulo_service_network.opts import network_opts, quota_opts
from cumulo_service_network.ports import Ports
from cumulo_service_network.quotas import Quotas
from cumulo_service_network.secgroups import SecurityGroups
from cumulo_service_network.subnets import Subnets
from cumulo_service_network.tags import Tags

__all__ = ["Service", "network_opts", "quota_opts", "start"]

LOG = logging.getLogger(__name__)

_policies.register()  # policy listings and overrides know the network rules before first use


class Service:
    """The network manager: implements :class:`cumulo.contracts.network.NetworkService`.

    The contract's methods take and return its typed records. The other methods
    (what the Networking API frontend calls) take a RequestContext and API-shaped
    dicts and return API-shaped dicts. Errors are :mod:`cumulo.contracts.network`'s
    (Neutron names).

    Each public method belongs to one component (``self.networks``, ``self.subnets``, ``self.ports``, ``self.l3``,
    ``self.security_groups``, ``self.quotas``, ``self.tags``, ``self.instances``)
    and is reached as ``service.<method>`` (the component's ``API``).
    """

    def __init__(self, hub: Any = None, conf: cfg.ConfigOpts | None = None) -> None:
        self.hub = hub
        self.conf = conf or (hub.conf if hub is not None else cumulo_conf.CONF)
        for group, opts in (("network", network_opts), ("network_quotas", quota_opts)):
            try:
                self.conf.register_opts(opts, group=group)
            except cfg.DuplicateOptError:
                pass
        driver = registry.load_plugin("network", self.conf.network.driver,
                                      PluginContext(self.conf, host=self.conf.host, hub=hub))
        self.dataplane = DataPlane(driver, self.conf)
        self.quotas = Quotas(self.conf)
        self.tags = Tags()
        self.security_groups = SecurityGroups(self.dataplane, self.quotas)
        self.networks = Networks(self.conf, self.dataplane, self.quotas)
        self.subnets = Subnets(self.dataplane, self.quotas)
        self.ports = Ports(self.dataplane, self.quotas, self.security_groups)
        self.l3 = L3(self.dataplane, self.quotas)
        self.instances = Instances(self.conf, self.networks, self.subnets, self.ports, self.l3, self.security_groups,
                                   self.quotas, self.dataplane)
        self.agents = Agents(self.conf, self.dataplane)
        self._api = self._methods(self.networks, self.subnets, self.ports, self.l3, self.security_groups,
                                  self.quotas, self.tags, self.instances, self.agents)

    @staticmethod
    def _methods(*components: Any) -> dict[str, Callable[..., Any]]:
        api: dict[str, Callable[..., Any]] = {}
        for component in components:
            for name in component.API:
                if name in api:
                    raise TypeError(f"{name} is offered by two network components")
                api[name] = getattr(component, name)
        return api

    def __getattr__(self, name: str) -> Any:
        """The components' public methods (only reached for names the service itself lacks)."""
        api = self.__dict__.get("_api")
        if api is not None and name in api:
            return api[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.__dict__.get("_api", ())))

    @property
    def driver(self) -> NetworkDriver:
        """The ``[network] driver`` plugin (replaceable: every component reaches it through the data plane)."""
        return self.dataplane.driver

    @driver.setter
    def driver(self, driver: NetworkDriver) -> None:
        self.dataplane.driver = driver

    # ------------------------------------------- the contract (NetworkService)
    # Spelled out, not reached through __getattr__, so that mypy checks them against
    # cumulo.contracts.network.NetworkService (see the end of this module); each is the
    # Instances, Networks or L3 method of the same name, documented in the contract.
    def validate_networks(self, ctx: RequestContext, requested_networks: NetworkRequest | None,
                          num_instances: int = 1) -> int:
        """See :meth:`cumulo.contracts.network.NetworkService.validate_networks`."""
        return self.instances.validate_networks(ctx, requested_networks, num_instances)

    def validate_security_groups(self, ctx: RequestContext, security_groups: Sequence[str] | None) -> list[str]:
        """See :meth:`cumulo.contracts.network.NetworkService.validate_security_groups`."""
        return self.instances.validate_security_groups(ctx, security_groups)

    def allocate_instance_ports(self, ctx: RequestContext, instance_uuid: str, host: str,
                                requested_networks: NetworkRequest | None,
                                security_groups: Sequence[str] | None = None,
                                availability_zone: str = "nova") -> list[InstancePort]:
        """See :meth:`cumulo.contracts.network.NetworkService.allocate_instance_ports`."""
        return self.instances.allocate_instance_ports(ctx, instance_uuid, host, requested_networks, security_groups,
                                                      availability_zone)

    def attach_instance_port(self, ctx: RequestContext, instance_uuid: str, host: str,
                             requested: RequestedNetwork, availability_zone: str = "nova") -> InstancePort:
        """See :meth:`cumulo.contracts.network.NetworkService.attach_instance_port`."""
        return self.instances.attach_instance_port(ctx, instance_uuid, host, requested, availability_zone)

    def detach_instance_port(self, ctx: RequestContext, instance_uuid: str, port_id: str) -> None:
        """See :meth:`cumulo.contracts.network.NetworkService.detach_instance_port`."""
        self.instances.detach_instance_port(ctx, instance_uuid, port_id)

    def deallocate_for_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """See :meth:`cumulo.contracts.network.NetworkService.deallocate_for_instance`."""
        self.instances.deallocate_for_instance(ctx, instance_uuid)

    def instance_ports(self, ctx: RequestContext, instance_uuid: str) -> list[InstancePort]:
        """See :meth:`cumulo.contracts.network.NetworkService.instance_ports`."""
        return self.instances.instance_ports(ctx, instance_uuid)

    def instance_security_groups(self, ctx: RequestContext, instance_uuid: str) -> list[SecurityGroup]:
        """See :meth:`cumulo.contracts.network.NetworkService.instance_security_groups`."""
        return self.instances.instance_security_groups(ctx, instance_uuid)

    def add_security_group_to_instance(self, ctx: RequestContext, instance_uuid: str, group: str) -> None:
        """See :meth:`cumulo.contracts.network.NetworkService.add_security_group_to_instance`."""
        self.instances.add_security_group_to_instance(ctx, instance_uuid, group)

    def remove_security_group_from_instance(self, ctx: RequestContext, instance_uuid: str, group: str) -> None:
        """See :meth:`cumulo.contracts.network.NetworkService.remove_security_group_from_instance`."""
        self.instances.remove_security_group_from_instance(ctx, instance_uuid, group)

    def instance_by_address(self, ctx: RequestContext, address: str, network_id: str | None = None) -> str | None:
        """See :meth:`cumulo.contracts.network.NetworkService.instance_by_address`."""
        return self.instances.instance_by_address(ctx, address, network_id)

    def network_summaries(self, ctx: RequestContext) -> list[NetworkSummary]:
        """See :meth:`cumulo.contracts.network.NetworkService.network_summaries`."""
        return self.networks.network_summaries(ctx)

    def floating_ips(self, ctx: RequestContext) -> list[FloatingIP]:
        """See :meth:`cumulo.contracts.network.NetworkService.floating_ips`."""
        return self.l3.floating_ips(ctx)

    # -- contract 1.3: the Compute API's proxies, on the Neutron-shaped methods (records in, records out)
    def project_security_groups(self, ctx: RequestContext) -> list[SecurityGroup]:
        """See :meth:`cumulo.contracts.network.NetworkService.project_security_groups`."""
        return [records.security_group(g) for g in self.security_groups.list_security_groups(ctx)]

    def security_group(self, ctx: RequestContext, group_id: str) -> SecurityGroup:
        """See :meth:`cumulo.contracts.network.NetworkService.security_group`."""
        return records.security_group(self.security_groups.get_security_group(ctx, group_id))

    def add_security_group(self, ctx: RequestContext, name: str, description: str = "") -> SecurityGroup:
        """See :meth:`cumulo.contracts.network.NetworkService.add_security_group`."""
        view = self.security_groups.create_security_group(ctx, {"name": name, "description": description})
        return records.security_group(view)

    def edit_security_group(self, ctx: RequestContext, group_id: str, name: str | None = None,
                            description: str | None = None) -> SecurityGroup:
        """See :meth:`cumulo.contracts.network.NetworkService.edit_security_group`."""
        changes = {k: v for k, v in (("name", name), ("description", description)) if v is not None}
        view = self.security_groups.update_security_group(ctx, group_id, changes)
        return records.security_group(view)

    def drop_security_group(self, ctx: RequestContext, group_id: str) -> None:
        """See :meth:`cumulo.contracts.network.NetworkService.drop_security_group`."""
        self.security_groups.delete_security_group(ctx, group_id)

    def add_security_group_rule(self, ctx: RequestContext, group_id: str, *, direction: Direction = "ingress",
                                ethertype: Ethertype = "IPv4", protocol: str | None = None,
                                port_range_min: int | None = None, port_range_max: int | None = None,
                                remote_ip_prefix: str | None = None,
                                remote_group_id: str | None = None) -> SecurityGroupRule:
        """See :meth:`cumulo.contracts.network.NetworkService.add_security_group_rule`."""
        rule = {"security_group_id": group_id, "direction": direction, "ethertype": ethertype,
                "protocol": protocol, "port_range_min": port_range_min, "port_range_max": port_range_max,
                "remote_ip_prefix": remote_ip_prefix, "remote_group_id": remote_group_id}
        view = self.security_groups.create_security_group_rule(
            ctx, {k: v for k, v in rule.items() if v is not None})
        return records.security_group_rule(view)

    def drop_security_group_rule(self, ctx: RequestContext, rule_id: str) -> None:
        """See :meth:`cumulo.contracts.network.NetworkService.drop_security_group_rule`."""
        self.security_groups.delete_security_group_rule(ctx, rule_id)

    def floating_ip(self, ctx: RequestContext, fip_id: str) -> FloatingIP:
        """See :meth:`cumulo.contracts.network.NetworkService.floating_ip`."""
        return records.floating_ip(self.l3.get_floatingip(ctx, fip_id))

    def allocate_floating_ip(self, ctx: RequestContext, network: str | None = None) -> FloatingIP:
        """See :meth:`cumulo.contracts.network.NetworkService.allocate_floating_ip`."""
        external = [n for n in self.networks.network_summaries(ctx) if n.external]
        if network is None:
            chosen = [n for n in external if n.is_default] or external[:1]
        else:
            chosen = [n for n in external if n.id == network] or [n for n in external if n.name == network]
        if not chosen:
            raise NetworkNotFound(id=network or "(the default external network)")
        view = self.l3.create_floatingip(ctx, {"floating_network_id": chosen[0].id})
        return records.floating_ip(view)

    def associate_floating_ip(self, ctx: RequestContext, fip_id: str, port_id: str,
                              fixed_ip: str | None = None) -> FloatingIP:
        """See :meth:`cumulo.contracts.network.NetworkService.associate_floating_ip`."""
        body: dict[str, Any] = {"port_id": port_id}
        if fixed_ip is not None:
            body["fixed_ip_address"] = fixed_ip
        return records.floating_ip(self.l3.update_floatingip(ctx, fip_id, body))

    def disassociate_floating_ip(self, ctx: RequestContext, fip_id: str) -> FloatingIP:
        """See :meth:`cumulo.contracts.network.NetworkService.disassociate_floating_ip`."""
        return records.floating_ip(self.l3.update_floatingip(ctx, fip_id, {"port_id": None}))

    def release_floating_ip(self, ctx: RequestContext, fip_id: str) -> None:
        """See :meth:`cumulo.contracts.network.NetworkService.release_floating_ip`."""
        self.l3.delete_floatingip(ctx, fip_id)

    # ----------------------------------------------------------------- driver
    def model_snapshot(self) -> Model:
        """The whole model as the driver sees it (what ``sync`` receives)."""
        return self.dataplane.model()

    def sync_driver(self) -> None:
        """Hand the whole model to the driver's ``sync`` (at start); a failure is logged."""
        self.dataplane.sync()

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
        net = self.networks.create_network(admin, {"name": conf.public_network_name, "router:external": True,
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
        self.subnets.create_subnet(admin, body)
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


if TYPE_CHECKING:
    # The static half of the conformance check (the plugin's tests/test_contract.py is the
    # run-time half): mypy fails here when a method the manager spells out no longer
    # matches cumulo.contracts.network.NetworkService.
    def _implements_the_contract(service: Service) -> NetworkService:
        return service
