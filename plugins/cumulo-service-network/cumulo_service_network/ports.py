"""Ports: MAC addresses, fixed IPs (IPAM), bindings, security groups and address pairs: the :class:`Ports` component.

Depends on :class:`.dataplane.DataPlane`, :class:`.quotas.Quotas` and
:class:`.secgroups.SecurityGroups` (a new port joins its project's default
group), given to it by the service; addresses come from :mod:`.ipam`.
"""

from __future__ import annotations

import random
import time
from typing import Any

import netaddr
import sqlalchemy as sa
from sqlalchemy import exc, orm

import cumulo.contracts.network as nexc
import cumulo_service_network.common as c
import cumulo_service_network.ipam as ipam
import cumulo_service_network.models as models
from cumulo import db
from cumulo.context import RequestContext
from cumulo.interfaces.network import Port
from cumulo_service_network.common import random_mac
from cumulo_service_network.dataplane import DataPlane
from cumulo_service_network.quotas import Quotas
from cumulo_service_network.secgroups import SecurityGroups

PORT_ATTRS = ("name", "description", "network_id", "admin_state_up", "mac_address", "fixed_ips", "device_id",
              "device_owner", "security_groups", "port_security_enabled", "allowed_address_pairs",
              "binding:host_id", "binding:profile", "binding:vnic_type", "project_id", "tenant_id")
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


class Ports:
    """Ports and their fixed IPs."""

    #: What ``hub.network`` offers of this component.
    API = ("list_ports", "get_port", "create_port", "update_port", "delete_port")

    def __init__(self, dataplane: DataPlane, quotas: Quotas, security_groups: SecurityGroups) -> None:
        self.dataplane, self.quotas, self.security_groups = dataplane, quotas, security_groups

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
                item["mac_address"] = Ports._mac(pair["mac_address"])
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
                view, record = self._create_port(ctx, body, _instance)
                break
            except exc.DBAPIError as err:
                if body.get("mac_address") and db.is_duplicate(err):
                    raise nexc.MacAddressInUse(net_id=body["network_id"], mac=body["mac_address"]) from None
                if attempt == RETRIES - 1 or not _retryable(err):
                    raise
                time.sleep(random.random() * min(0.01 * 2 ** attempt, 0.5))
        self.dataplane.notify_port("create", record.id, record)
        return view

    def _create_port(self, ctx: RequestContext, body: dict[str, Any], instance: bool) -> tuple[dict[str, Any], Port]:
        """The new port's view and its driver record (both built before the commit, told after)."""
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
            return self.dataplane.port_views(s, [port])[0], self.dataplane.port_record(s, port)

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
            record = self.dataplane.port_record(s, port)
        self.dataplane.notify_port("update", record.id, record)
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
            record = self.dataplane.port_record(s, port)
            fips = list(s.execute(sa.select(models.FloatingIP.id).where(models.FloatingIP.fixed_port_id == port.id))
                        .scalars())
            s.execute(sa.update(models.FloatingIP).where(models.FloatingIP.fixed_port_id == port.id).values(
                fixed_port_id=None, fixed_ip_address=None, router_id=None, status="DOWN"))
            s.execute(sa.delete(models.IPAllocation).where(models.IPAllocation.port_id == port.id))
            s.execute(sa.delete(models.PortSecurityGroup).where(models.PortSecurityGroup.port_id == port.id))
            s.execute(sa.delete(models.Tag).where(models.Tag.resource_id == port.id))
            s.delete(port)
        self.dataplane.notify_port("delete", record.id, record)
        for fip_id in fips:
            self.dataplane.notify_fip("update", fip_id)
