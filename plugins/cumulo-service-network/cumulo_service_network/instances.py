"""What the compute service calls: ports for servers, their addresses and security groups,
and the auto-allocated topology (``networks: auto``): the :class:`Instances` component.

Built on the other components, given to it by the service: :class:`.networks.Networks`,
:class:`.subnets.Subnets` and :class:`.ports.Ports`, :class:`.l3.L3` (the auto-allocated router),
:class:`.secgroups.SecurityGroups`, :class:`.quotas.Quotas` and
:class:`.dataplane.DataPlane`. Nothing depends on it but the service.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import netaddr
import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy import exc, orm

import cumulo.contracts.network as nexc
import cumulo_service_network.common as c
import cumulo_service_network.models as models
import cumulo_service_network.records as records
import cumulo_service_network.views as views
from cumulo import db, exception
from cumulo.context import RequestContext
from cumulo.contracts.network import InstancePort, NetworkRequest, RequestedNetwork, SecurityGroup
from cumulo_service_network.dataplane import DataPlane
from cumulo_service_network.l3 import L3
from cumulo_service_network.networks import Networks
from cumulo_service_network.ports import Ports
from cumulo_service_network.quotas import Quotas
from cumulo_service_network.secgroups import SecurityGroups
from cumulo_service_network.subnets import Subnets

LOG = logging.getLogger(__name__)
_topology_locks: dict[str, threading.Lock] = {}
#: What unbinding a user's port from a server sets (the port stays, with its addresses and groups).
_UNBOUND = {"device_id": "", "device_owner": "", "binding:host_id": ""}
_topology_guard = threading.Lock()


def _project_lock(project_id: str) -> threading.Lock:
    with _topology_guard:
        return _topology_locks.setdefault(project_id, threading.Lock())


class Instances:
    """The network side of servers: their ports, addresses, security groups and default topology."""

    #: What ``hub.network`` offers of this component.
    API = ("validate_networks", "validate_security_groups", "instance_by_address", "allocate_instance_ports",
           "attach_instance_port", "detach_instance_port", "deallocate_for_instance", "instance_ports",
           "add_security_group_to_instance", "remove_security_group_from_instance", "instance_security_groups", "get_auto_allocated_topology",
           "delete_auto_allocated_topology")

    def __init__(self, conf: cfg.ConfigOpts, networks: Networks, subnets: Subnets, ports: Ports, l3: L3,
                 security_groups: SecurityGroups, quotas: Quotas, dataplane: DataPlane) -> None:
        self.conf, self.networks, self.subnets, self.ports, self.l3 = conf, networks, subnets, ports, l3
        self.security_groups, self.quotas, self.dataplane = security_groups, quotas, dataplane

    # ------------------------------------------------------- requested networks
    def _available_networks(self, s: orm.Session, ctx: RequestContext) -> list[models.Network]:
        """Networks a server of the project may use without naming one: its own and shared ones."""
        q = sa.select(models.Network).where(sa.or_(
            sa.and_(models.Network.project_id == (ctx.project_id or ""), models.Network.external.is_(False)),
            models.Network.shared.is_(True))).order_by(models.Network.created_at)
        return list(s.execute(q).scalars())

    def _resolve_requested(self, ctx: RequestContext, requested: NetworkRequest | None,
                           allow_auto_create: bool) -> list[RequestedNetwork]:
        """The contract's network request -> the ports to make or bind (validated, nothing created).

        Each answer has its ``network_id`` set (a port's is the port's network) and keeps
        ``port_id`` and ``fixed_ip``; the one exception is ``auto`` checked without
        ``allow_auto_create``, which answers one empty entry (a port on a network not built yet).
        Anything but ``"auto"``, ``"none"``, None or a sequence of
        :class:`~cumulo.contracts.network.RequestedNetwork` is Invalid (the type is not enforced
        at run time: compute passes on what it cannot convert, for this message).
        """
        if isinstance(requested, tuple):
            requested = list(requested)
        if requested in ("none", []):
            return []
        if requested is None or requested == "auto":
            with db.transaction() as s:
                nets = self._available_networks(s, ctx)
            if len(nets) > 1:
                raise nexc.NetworkAmbiguous()
            if len(nets) == 1:
                return [RequestedNetwork(network_id=nets[0].id)]
            if requested is None:
                return []
            if not allow_auto_create:
                self._default_external()  # raises when auto-allocation cannot work
                return [RequestedNetwork()]
            topo = self.get_auto_allocated_topology(ctx, ctx.project_id or "")
            return [RequestedNetwork(network_id=topo["id"])]
        if not isinstance(requested, list):
            raise exception.Invalid(reason=f"requested networks must be 'auto', 'none' or a list, not {requested!r}")
        out = []
        with db.transaction() as s:
            for item in requested:
                if not isinstance(item, RequestedNetwork):
                    raise exception.Invalid(reason=f"Bad networks format: {item!r}")
                # An empty string counts as not given, as it did for the API's dict items.
                port_id, net_id, fixed_ip = item.port_id or None, item.network_id or None, item.fixed_ip or None
                for field, value in (("port", port_id), ("uuid", net_id), ("fixed_ip", fixed_ip)):
                    if value is not None:
                        c.to_id(value, f"networks {field}")
                if port_id:
                    port = c.get_port(s, ctx, port_id)
                    if port.device_id:
                        raise nexc.PortInUse(port_id=port.id, net_id=port.network_id, device_id=port.device_id)
                    if port.binding_host_id:
                        raise c.conflict(f"Port {port.id} is still bound to host {port.binding_host_id}.")
                    out.append(RequestedNetwork(network_id=port.network_id, port_id=port.id))
                    continue
                if not net_id:
                    raise exception.Invalid(reason="Each requested network needs a 'uuid' or a 'port'.")
                net = c.get_network(s, ctx, net_id)
                if not (c.is_owner(ctx, net.project_id) or net.shared):
                    raise nexc.NetworkNotFound(id=net_id)
                subnets = list(s.execute(sa.select(models.Subnet).where(models.Subnet.network_id == net.id))
                               .scalars())
                if not subnets:
                    raise exception.Invalid(reason=f"Network {net.id} requires a subnet in order to boot "
                                                   "instances on.")
                address = None
                if fixed_ip:
                    try:
                        ip = netaddr.IPAddress(fixed_ip)
                    except (ValueError, netaddr.AddrFormatError):
                        raise exception.Invalid(reason=f"Invalid fixed IP address {fixed_ip!r}") from None
                    if not any(ip in netaddr.IPNetwork(x.cidr) for x in subnets):
                        raise nexc.InvalidIpForNetwork(ip_address=str(ip))
                    if s.execute(sa.select(models.IPAllocation.id).where(
                            models.IPAllocation.network_id == net.id,
                            models.IPAllocation.ip_address == str(ip))).first():
                        raise c.conflict(f"Fixed IP address {ip} is already in use on network {net.id}.")
                    address = str(ip)
                out.append(RequestedNetwork(network_id=net.id, fixed_ip=address))
        return out

    def validate_networks(self, ctx: RequestContext, requested_networks: NetworkRequest | None,
                          num_instances: int = 1) -> int:
        """Check a server create's networks before the server exists; return how many instances fit.

        Raises Invalid (bad format, network without subnet, several instances on one port or
        fixed IP), NotFound (unknown network or port), Conflict (port in use, ambiguous
        ``auto``, auto-allocation impossible) or QuotaExceeded (not enough ports left).
        """
        entries = self._resolve_requested(ctx, requested_networks, allow_auto_create=False)
        if num_instances > 1 and any(e.port_id for e in entries):
            raise exception.Invalid(reason="Unable to launch multiple instances with a single configured port ID. "
                                           "Please launch your instance one by one with different ports.")
        if num_instances > 1 and any(e.fixed_ip for e in entries):
            raise exception.Invalid(reason="Unable to launch multiple instances with a single fixed IP address.")
        new_ports = sum(1 for e in entries if not e.port_id) * num_instances
        if new_ports and ctx.project_id:
            with db.transaction() as s:
                limit = self.quotas.limits(s, ctx.project_id)["port"]
                used = self.quotas.usage(s, ctx.project_id, "port")
            if 0 <= limit < used + new_ports:
                raise exception.QuotaExceeded(resource="ports", requested=new_ports, used=used, limit=limit)
        return num_instances

    def validate_security_groups(self, ctx: RequestContext, security_groups: Sequence[Any] | None) -> list[str]:
        """Check a server create's security groups before the server exists; return their ids.

        Each entry is a name or an id (or ``{"name": ...}``) the caller can see: one of its
        project's groups (an administrator sees every project's, by id). ``default`` is always
        valid (it is created on first use). Raises SecurityGroupNotFound (another project's
        group, or no such group) or SecurityGroupAmbiguous (a name two groups share). Read only.
        """
        ids: list[str] = []
        with db.transaction() as s:
            for ref in security_groups or []:
                name = ref.get("name") if isinstance(ref, dict) else ref
                if not isinstance(name, str) or not name:
                    raise nexc.SecurityGroupNotFound(id=name)
                if name == "default" and ctx.project_id:
                    continue
                ids.extend(self._resolve_groups(s, ctx, [name]))
        return list(dict.fromkeys(ids))

    def instance_by_address(self, ctx: RequestContext, address: str, network_id: str | None = None) -> str | None:
        """The server (device id) whose port holds fixed IP ``address``, for the metadata service.

        Only ports bound to a server (``device_owner`` ``compute:*``) count. With ``network_id``
        the lookup is limited to that network; without it, an address that several servers
        hold (overlapping project networks) answers None: the caller cannot be told apart,
        and guessing would hand one server's metadata to another. Unknown address: None.
        """
        if not ctx.is_admin:
            raise nexc.PolicyNotAuthorized(action="instance_by_address")
        try:
            ip = netaddr.IPAddress(str(address).split("%", 1)[0])
        except (ValueError, netaddr.AddrFormatError):
            return None
        if ip.version == 6 and ip.is_ipv4_mapped():
            ip = ip.ipv4()  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
        q = (sa.select(models.Port.device_id).join(models.IPAllocation, models.IPAllocation.port_id == models.Port.id)
             .where(models.IPAllocation.ip_address == str(ip), models.Port.device_owner.like("compute:%"),
                    models.Port.device_id != ""))
        if network_id:
            q = q.where(models.IPAllocation.network_id == network_id)
        with db.transaction() as s:
            devices = set(s.execute(q).scalars())
        if len(devices) != 1:
            if devices:
                LOG.warning("Metadata request from %s is ambiguous: %d servers hold that address", ip, len(devices))
            return None
        return devices.pop()

    def _resolve_groups(self, s: orm.Session, ctx: RequestContext, groups: list[str]) -> list[str]:
        ids = []
        for ref in groups:
            ref = ref.get("name") if isinstance(ref, dict) else ref
            if ref == "default" and ctx.project_id:
                ids.append(self.security_groups.ensure_default(s, ctx.project_id))
                continue
            group = s.get(models.SecurityGroup, ref) if isinstance(ref, str) else None
            if group is not None and c.is_owner(ctx, group.project_id):
                ids.append(group.id)
                continue
            matches = list(s.execute(sa.select(models.SecurityGroup.id).where(
                models.SecurityGroup.name == ref, models.SecurityGroup.project_id == (ctx.project_id or "")))
                .scalars())
            if not matches:
                raise nexc.SecurityGroupNotFound(id=ref)
            if len(matches) > 1:
                raise nexc.SecurityGroupAmbiguous(name=ref)
            ids.append(matches[0])
        return list(dict.fromkeys(ids))

    def allocate_instance_ports(self, ctx: RequestContext, instance_uuid: str, host: str,
                                requested_networks: NetworkRequest | None,
                                security_groups: Sequence[str] | None = None,
                                availability_zone: str = "nova") -> list[InstancePort]:
        """Create (or bind the user's) ports for a server on ``host``; return its ports (:meth:`instance_ports`).

        On failure everything done so far is undone before the error propagates.
        """
        entries = self._resolve_requested(ctx, requested_networks, allow_auto_create=True)
        with db.transaction() as s:
            group_ids = self._resolve_groups(s, ctx, list(security_groups or ["default"]))
        admin = ctx.elevated()
        created: list[str] = []
        bound: list[str] = []
        try:
            for entry in entries:
                self._plug(ctx, instance_uuid, host, entry, group_ids, availability_zone, created, bound)
        except Exception:
            self._unplug_all(admin, created, bound)
            raise
        return self.instance_ports(ctx, instance_uuid)

    def _plug(self, ctx: RequestContext, instance_uuid: str, host: str, entry: RequestedNetwork,
              group_ids: list[str], availability_zone: str, created: list[str], bound: list[str]) -> str:
        """Bind the user's port or make one on ``entry``'s network for the server; returns its id.

        The id goes to ``created`` or ``bound`` as soon as the port is the server's, for the caller's undo.
        """
        admin = ctx.elevated()
        binding = {"device_id": instance_uuid, "device_owner": f"compute:{availability_zone}",
                   "binding:host_id": host or ""}
        if entry.port_id:
            self.ports.update_port(admin, entry.port_id, binding)
            bound.append(entry.port_id)
            return entry.port_id
        with db.transaction() as s:
            net = s.get(models.Network, entry.network_id)
            psec = net.port_security_enabled if net is not None else True
        body: dict[str, Any] = dict(binding, network_id=entry.network_id, project_id=ctx.project_id or "")
        if entry.fixed_ip:
            body["fixed_ips"] = [{"ip_address": entry.fixed_ip}]
        body["security_groups"] = group_ids if psec else []
        if not psec:
            body["port_security_enabled"] = False
        port_id = str(self.ports.create_port(admin, body, _instance=True)["id"])
        created.append(port_id)
        return port_id

    def _unplug_all(self, admin: RequestContext, created: list[str], bound: list[str]) -> None:
        """Undo :meth:`_plug`: delete the ports made, unbind the user's (errors logged, not raised)."""
        for port_id in created:
            self._quiet(self.ports.delete_port, admin, port_id, _internal=True)
        for port_id in bound:
            self._quiet(self.ports.update_port, admin, port_id, _UNBOUND)

    def attach_instance_port(self, ctx: RequestContext, instance_uuid: str, host: str,
                             requested: RequestedNetwork, availability_zone: str = "nova") -> InstancePort:
        """One more port for a running server: the user's bound, or a new one on a network (contract 1.2).

        Validated as a server create's request is (:meth:`_resolve_requested`); a new port joins the
        project's ``default`` group, as Neutron gives a port made without groups. Undone on failure.
        """
        if not isinstance(requested, RequestedNetwork) or not (requested.port_id or requested.network_id):
            raise exception.Invalid(reason="An interface needs a port or a network.")
        [entry] = self._resolve_requested(ctx, [requested], allow_auto_create=False)
        group_ids: list[str] = []
        if not entry.port_id:
            with db.transaction() as s:
                group_ids = self._resolve_groups(s, ctx, ["default"])
        created: list[str] = []
        bound: list[str] = []
        try:
            port_id = self._plug(ctx, instance_uuid, host, entry, group_ids, availability_zone, created, bound)
            for port in self.instance_ports(ctx, instance_uuid):
                if port.id == port_id:
                    return port
            raise nexc.PortNotFound(id=port_id)  # deleted under us between the bind and the read
        except Exception:
            self._unplug_all(ctx.elevated(), created, bound)
            raise

    def detach_instance_port(self, ctx: RequestContext, instance_uuid: str, port_id: str) -> None:
        """Take a port from a server: delete it if it was made for the server, else unbind it (contract 1.2).

        PortNotFound unless ``port_id`` is bound to that server. The caller's right to the
        server is the compute area's to check; the port needs no other visibility.
        """
        with db.transaction() as s:
            port = s.get(models.Port, port_id) if isinstance(port_id, str) and port_id else None
            if port is None or port.device_id != instance_uuid or not port.device_owner.startswith("compute:"):
                raise nexc.PortNotFound(id=port_id)
            created = port.created_for_instance
        admin = ctx.elevated()
        if created:
            self.ports.delete_port(admin, port_id, _internal=True)
        else:
            self.ports.update_port(admin, port_id, _UNBOUND)

    @staticmethod
    def _quiet(fn: Any, *args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except Exception:  # cleanup after a failure: the first error is the one to report
            LOG.exception("Cleanup step %s failed", getattr(fn, "__name__", fn))

    def deallocate_for_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Delete the ports created for the server, unbind the ones the user passed. Idempotent."""
        admin = ctx.elevated()
        with db.transaction() as s:
            ports = [(p.id, p.created_for_instance) for p in s.execute(sa.select(models.Port).where(
                models.Port.device_id == instance_uuid, models.Port.device_owner.like("compute:%"))).scalars()]
        for port_id, created in ports:
            try:
                if created:
                    self.ports.delete_port(admin, port_id, _internal=True)
                else:
                    self.ports.update_port(admin, port_id, _UNBOUND)
            except nexc.PortNotFound:
                pass

    def _bound_ports(self, instance_uuid: str) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]],
                                                        dict[str, list[dict[str, Any]]], dict[str, dict[str, Any]]]:
        """The server's port views (oldest first), their networks' name and MTU, their floating IPs by port,
        and their networks' subnets by id (prefix, gateway, DNS, DHCP).

        Compute reads this for every server it lists: no more queries than the ports' views need.
        """
        with db.reader() as s:
            ports = list(s.execute(sa.select(models.Port).where(models.Port.device_id == instance_uuid)
                                   .order_by(models.Port.created_at)).scalars())
            port_views = self.dataplane.port_views(s, ports)
            nets = list(s.execute(sa.select(models.Network).where(
                models.Network.id.in_([p.network_id for p in ports] or [""]))).scalars())
            networks = {n.id: {"name": n.name, "mtu": n.mtu} for n in nets}
            subnets = {sn.id: {"cidr": sn.cidr, "gateway_ip": sn.gateway_ip, "dns_nameservers": sn.dns_nameservers,
                               "enable_dhcp": sn.enable_dhcp}
                       for sn in s.execute(sa.select(models.Subnet).where(
                           models.Subnet.network_id.in_([n.id for n in nets] or [""]))).scalars()}
            fips: dict[str, list[dict[str, Any]]] = {}
            for f in s.execute(sa.select(models.FloatingIP).where(
                    models.FloatingIP.fixed_port_id.in_([p.id for p in ports] or [""]))
                    .order_by(models.FloatingIP.created_at)).scalars():
                fips.setdefault(f.fixed_port_id or "", []).append({
                    "id": f.id, "floating_ip_address": f.floating_ip_address,
                    "floating_network_id": f.floating_network_id, "project_id": f.project_id,
                    "fixed_ip_address": f.fixed_ip_address, "port_id": f.fixed_port_id, "router_id": f.router_id,
                    "status": "ACTIVE"})  # reaches a port, as views.fip_views says
        return port_views, networks, fips, subnets

    def instance_ports(self, ctx: RequestContext, instance_uuid: str) -> list[InstancePort]:
        """The server's ports (oldest first) as the contract's records, with networks, subnets and floating IPs."""
        port_views, networks, fips, subnets = self._bound_ports(instance_uuid)
        return [records.instance_port(view, networks.get(view["network_id"]), fips.get(view["id"], []), subnets)
                for view in port_views]

    # ----------------------------------------------------------- security groups
    def _instance_ports(self, s: orm.Session, ctx: RequestContext, instance_uuid: str) -> list[models.Port]:
        ports = [p for p in s.execute(sa.select(models.Port).where(models.Port.device_id == instance_uuid))
                 .scalars() if c.port_visible(s, ctx, p)]
        if not ports:
            raise exception.NotFound(f"No ports found for instance {instance_uuid}.")
        return ports

    def add_security_group_to_instance(self, ctx: RequestContext, instance_uuid: str, group: str) -> None:
        with db.transaction() as s:
            gid = self._resolve_groups(s, ctx, [group])[0]
            ports = self._instance_ports(s, ctx, instance_uuid)
            if any(not p.port_security_enabled for p in ports):
                raise exception.Invalid(reason=f"Security group {group} cannot be applied: port security is "
                                               "disabled on a port of the instance.")
            members = set(s.execute(sa.select(models.PortSecurityGroup.port_id).where(
                models.PortSecurityGroup.security_group_id == gid)).scalars())
            todo = [p for p in ports if p.id not in members]
            if not todo:
                raise exception.Invalid(reason=f"Security group {group} is already associated with the instance "
                                               f"{instance_uuid}.")
            for p in todo:
                s.add(models.PortSecurityGroup(port_id=p.id, security_group_id=gid))
                c.bump(p)
            port_ids = [p.id for p in todo]
        self._after_membership(port_ids, gid)

    def remove_security_group_from_instance(self, ctx: RequestContext, instance_uuid: str, group: str) -> None:
        with db.transaction() as s:
            gid = self._resolve_groups(s, ctx, [group])[0]
            ports = self._instance_ports(s, ctx, instance_uuid)
            rows = list(s.execute(sa.select(models.PortSecurityGroup).where(
                models.PortSecurityGroup.security_group_id == gid,
                models.PortSecurityGroup.port_id.in_([p.id for p in ports]))).scalars())
            if not rows:
                raise exception.Invalid(reason=f"Security group {group} is not associated with the instance "
                                               f"{instance_uuid}.")
            port_ids = [r.port_id for r in rows]
            for r in rows:
                s.delete(r)
        self._after_membership(port_ids, gid)

    def _after_membership(self, port_ids: list[str], group_id: str) -> None:
        for port_id in port_ids:
            self.dataplane.notify_port("update", port_id)
        self.dataplane.notify_sg("update", group_id)

    def instance_security_groups(self, ctx: RequestContext, instance_uuid: str) -> list[SecurityGroup]:
        """The groups of the server's ports (with their rules), by name."""
        with db.transaction() as s:
            port_ids = [p.id for p in s.execute(sa.select(models.Port).where(
                models.Port.device_id == instance_uuid)).scalars()]
            gids = set(s.execute(sa.select(models.PortSecurityGroup.security_group_id).where(
                models.PortSecurityGroup.port_id.in_(port_ids or [""]))).scalars())
            groups = list(s.execute(sa.select(models.SecurityGroup).where(models.SecurityGroup.id.in_(
                gids or {""})).order_by(models.SecurityGroup.name)).scalars())
            return [records.security_group(g) for g in views.sg_views(s, groups)]

    # ------------------------------------------------- auto-allocated topology
    def _default_external(self) -> models.Network:
        with db.transaction() as s:
            net = s.execute(sa.select(models.Network).where(models.Network.is_default.is_(True),
                                                            models.Network.external.is_(True))).scalar()
            if net is None:
                raise nexc.AutoAllocationFailure(reason="No default router:external network. An administrator "
                                                        "must mark an external network as default (is_default).")
            s.expunge(net)
            return net

    def _topology_view(self, project_id: str, network_id: str) -> dict[str, Any]:
        return {"id": network_id, "tenant_id": project_id, "project_id": project_id}

    def get_auto_allocated_topology(self, ctx: RequestContext, project_id: str,
                                    dry_run: bool = False) -> dict[str, Any]:
        """The project's auto-allocated network, created (network, subnet, router, gateway) on first use."""
        if not (ctx.is_admin or ctx.project_id == project_id) or not project_id:
            raise nexc.PolicyNotAuthorized(action="get_auto_allocated_topology of another project")
        with db.transaction() as s:
            row = s.get(models.AutoAllocatedTopology, project_id)
            if row is not None:
                return self._topology_view(project_id, row.network_id)
        public = self._default_external()
        if dry_run:
            return {"id": "dry-run=pass", "dry-run": "pass", "dry_run": "pass", "project_id": project_id,
                    "tenant_id": project_id}
        with _project_lock(project_id):
            with db.transaction() as s:
                row = s.get(models.AutoAllocatedTopology, project_id)
                if row is not None:
                    return self._topology_view(project_id, row.network_id)
            return self._build_topology(project_id, public)

    def _build_topology(self, project_id: str, public: models.Network) -> dict[str, Any]:
        actx = RequestContext(project_id=project_id, roles=["admin", "member"], is_admin=True)
        conf = self.conf.network
        net = self.networks.create_network(actx, {"name": "auto_allocated_network", "project_id": project_id})
        router_id = None
        try:
            with db.transaction() as s:
                has_pool = s.execute(sa.select(models.SubnetPool.id).where(
                    models.SubnetPool.is_default.is_(True), models.SubnetPool.ip_version == 4)).first() is not None
            body: dict[str, Any] = {"network_id": net["id"], "ip_version": 4, "name": "auto_allocated_subnet_v4",
                                    "project_id": project_id,
                                    "dns_nameservers": list(conf.auto_allocate_dns_nameservers)}
            if has_pool:
                body["use_default_subnetpool"] = True
            else:
                body["cidr"] = conf.auto_allocate_cidr
            subnet = self.subnets.create_subnet(actx, body)
            router = self.l3.create_router(actx, {"name": "auto_allocated_router", "project_id": project_id,
                                               "external_gateway_info": {"network_id": public.id}})
            router_id = router["id"]
            self.l3.add_router_interface(actx, router_id, {"subnet_id": subnet["id"]})
            with db.transaction() as s:
                s.add(models.AutoAllocatedTopology(project_id=project_id, network_id=net["id"], router_id=router_id))
        except exc.IntegrityError as err:
            if not db.is_duplicate(err):
                raise
            self._teardown(actx, net["id"], router_id)
            with db.transaction() as s:
                row = s.get(models.AutoAllocatedTopology, project_id)
                assert row is not None
                return self._topology_view(project_id, row.network_id)
        except Exception:
            self._teardown(actx, net["id"], router_id)
            raise
        return self._topology_view(project_id, net["id"])

    def _teardown(self, ctx: RequestContext, network_id: str, router_id: str | None) -> None:
        if router_id:
            with db.transaction() as s:
                subnets = list(s.execute(sa.select(models.Subnet.id).where(models.Subnet.network_id == network_id))
                               .scalars())
            for sid in subnets:
                try:
                    self.l3.remove_router_interface(ctx, router_id, {"subnet_id": sid})
                except exception.NotFound:
                    pass
            self._quiet(self.l3.delete_router, ctx, router_id)
        self._quiet(self.networks.delete_network, ctx, network_id)

    def delete_auto_allocated_topology(self, ctx: RequestContext, project_id: str) -> None:
        if not (ctx.is_admin or ctx.project_id == project_id) or not project_id:
            raise nexc.PolicyNotAuthorized(action="delete_auto_allocated_topology of another project")
        with db.transaction() as s:
            row = s.get(models.AutoAllocatedTopology, project_id)
            if row is None:
                raise exception.NotFound(f"Auto-allocated topology of project {project_id} could not be found.")
            network_id, router_id = row.network_id, row.router_id
        actx = RequestContext(project_id=project_id, roles=["admin", "member"], is_admin=True)
        with db.transaction() as s:
            if s.execute(sa.select(models.Port.id).where(models.Port.network_id == network_id,
                                                         models.Port.device_owner.notin_(c.SERVICE_OWNERS))).first():
                raise nexc.NetworkInUse(net_id=network_id)
        if router_id:
            with db.transaction() as s:
                subnets = list(s.execute(sa.select(models.Subnet.id).where(models.Subnet.network_id == network_id))
                               .scalars())
            for sid in subnets:
                try:
                    self.l3.remove_router_interface(actx, router_id, {"subnet_id": sid})
                except exception.NotFound:
                    pass
            self.l3.delete_router(actx, router_id)
        self.networks.delete_network(actx, network_id)
