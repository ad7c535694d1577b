"""Servers (``hub.compute`` server methods): create, list, show, update and delete.

Creating validates everything a client can get wrong before the 202 (flavor, image, key pair,
zone, forced host, server group, networks and security groups, the block-device mapping, quota),
reserves the volumes it names, writes the instance rows (and their volume rows) in BUILD and
hands them to :class:`~cumulo_service_compute.scheduling.Scheduling`. Deleting casts
``terminate_instance`` to the server's host; a server with no live host is deleted here (its
volumes given back).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

import cumulo_service_compute.block_devices as bdms
import cumulo_service_compute.objects as objects
import cumulo_service_compute.quota as quota
import cumulo_service_compute.states as st
from cumulo import db, exception
from cumulo import service as service_mod
from cumulo.context import RequestContext
from cumulo.contracts.compute import BlockDeviceRequest
from cumulo.contracts.compute.servers import AUTO_DISK_CONFIG
from cumulo.contracts.network import InstancePort
from cumulo.db.models.base import new_id, utcnow
from cumulo_service_compute.common import (
    BINARY,
    Plumbing,
    check_locked,
    flavor_snapshot,
    host_id,
    image_props,
    instance_for,
    network_request,
    resolve_image,
)
from cumulo_service_compute.flavors import Flavors
from cumulo_service_compute.host_common import SCHEDULED_BY, release_claims
from cumulo_service_compute.hosts import Hosts
from cumulo_service_compute.keypairs import Keypairs
from cumulo_service_compute.models import ComputeNode, Instance, InstanceTag, ServerGroupMember
from cumulo_service_compute.scheduling import Scheduling
from cumulo_service_compute.server_groups import ServerGroups
from cumulo_service_compute.server_volumes import ServerVolumes

LOG = logging.getLogger(__name__)


def _is_regex(text: str) -> bool:
    return any(c in text for c in "^$*+?[](){}|\\.")


def _regex(text: str, field: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error:
        raise exception.Invalid(reason=f"Invalid {field} filter {text}") from None


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _address_matches(inst: dict[str, Any], patterns: dict[int, re.Pattern[str]]) -> bool:
    """Whether a fixed address of the server matches the pattern of its IP version."""
    for port in inst["ports"]:
        for ip in port["fixed_ips"]:
            pattern = patterns.get(ip["version"])
            if pattern is not None and pattern.match(ip["ip_address"]):
                return True
    return False


def port_view(port: InstancePort) -> dict[str, Any]:
    """A server's port (the network contract's record) as the server dict's ``ports`` entry.

    The API frontend renders ``addresses``, the interface attachments and the metadata
    service's network data from these keys (Neutron's port names).
    """
    return {"id": port.id, "network_id": port.network_id, "network_name": port.network_name,
            "mac_address": port.mac_address, "status": port.status, "device_id": port.instance_uuid,
            "binding:host_id": port.host, "binding:vif_type": port.vif_type,
            "binding:vif_details": dict(port.vif_details), "port_security_enabled": port.port_security_enabled,
            "security_groups": list(port.security_groups),
            "fixed_ips": [{"ip_address": ip.ip_address, "subnet_id": ip.subnet_id, "version": ip.version}
                          for ip in port.fixed_ips],
            "floating_ips": [{"id": f.id, "floating_ip_address": f.floating_ip_address,
                              "fixed_ip_address": f.fixed_ip_address} for f in port.floating_ips]}


class Servers:
    """The server records and their lifecycle ends (the hosts do the work in between)."""

    def __init__(self, plumbing: Plumbing, flavors: Flavors, keypairs: Keypairs, server_groups: ServerGroups,
                 hosts: Hosts, scheduling: Scheduling, volumes: ServerVolumes) -> None:
        self.plumbing, self.flavors, self.keypairs = plumbing, flavors, keypairs
        self.server_groups, self.hosts, self.scheduling = server_groups, hosts, scheduling
        self.volumes = volumes

    def create_servers(self, ctx: RequestContext, *, name: str, image_ref: str | None, flavor_id: str,
                       min_count: int = 1, max_count: int = 1, key_name: str | None = None,
                       user_data: str | None = None, metadata: dict[str, str] | None = None,
                       networks: Any = "auto", security_groups: list[str] | None = None,
                       availability_zone: str | None = None, scheduler_hints: dict[str, Any] | None = None,
                       admin_password: str | None = None, description: str | None = None,
                       tags: list[str] | None = None, config_drive: bool = False, access_ip_v4: str | None = None,
                       access_ip_v6: str | None = None, hostname: str | None = None,
                       block_devices: Sequence[BlockDeviceRequest] = (),
                       auto_disk_config: bool | None = None) -> list[dict[str, Any]]:
        """Create ``min_count``..``max_count`` servers (as many as quota allows) and start their builds.

        Returns the instance dicts (BUILD); raises 400 for bad input, 403 over quota, 409 for conflicts.
        """
        try:
            flavor = self.flavors.get_flavor(ctx, flavor_id)
        except exception.NotFound:
            raise exception.Invalid(reason=f"Flavor {flavor_id} could not be found.") from None
        if flavor.get("disabled"):
            raise exception.Invalid(reason=f"Flavor {flavor_id} is disabled.")
        plan = self.volumes.plan(ctx, block_devices, image_ref, max_count)
        disk_config = {} if auto_disk_config is None else {AUTO_DISK_CONFIG: "True" if auto_disk_config else "False"}
        if plan.volume_backed:
            made_from_image = any(r.is_root and r.source_type == "image" for r in plan.volumes)
            image = self._boot_volume_image(ctx, plan.image_id, strict=made_from_image)
        else:
            image = resolve_image(self.plumbing.image(), ctx, plan.image_id or image_ref)
        if int(image.get("min_ram") or 0) > flavor["ram"]:
            raise exception.Invalid(reason="Flavor's memory is too small for requested image.")
        if not plan.volume_backed and int(image.get("min_disk") or 0) > flavor["disk"] and flavor["disk"] != 0:
            raise exception.Invalid(reason="Flavor's disk is too small for requested image.")
        metadata = dict(metadata or {})
        limits = quota.get_limits(ctx.project_id or "")
        if limits["metadata_items"] >= 0 and len(metadata) > limits["metadata_items"]:
            raise exception.QuotaExceeded("Quota exceeded for metadata_items: maximum number of metadata "
                                          f"items is {limits['metadata_items']}.")
        key_data = None
        if key_name:
            try:
                key_data = self.keypairs.get_keypair(ctx, key_name)["public_key"]
            except exception.NotFound:
                raise exception.Invalid(reason=f"Invalid key_name provided: {key_name}") from None
        zone = (availability_zone or "").split(":", 1)[0] or None
        if zone and zone not in {z["zoneName"] for z in self.hosts.availability_zones(ctx)}:
            raise exception.Invalid(reason=f"The requested availability zone is not available: {zone}")
        forced_host = self._forced_host(availability_zone)
        hints = dict(scheduler_hints or {})
        group_uuid = hints.get("group")
        if group_uuid:
            if isinstance(group_uuid, list):
                group_uuid = group_uuid[0]
            self.server_groups.get_server_group(ctx, group_uuid)
        security_groups = list(security_groups or ["default"])
        self._validate_network_request(ctx, networks, security_groups, max_count)
        # Quota: as many as allowed between min and max.
        count = max_count
        while True:
            try:
                quota.reserve(ctx.project_id or "", quota.instance_deltas(flavor, count))
                break
            except exception.QuotaExceeded:
                if count <= min_count:
                    raise
                count = min_count
        if group_uuid:
            members, _ = self.server_groups.group_hosts(group_uuid, set())
            limit = limits["server_group_members"]
            if limit >= 0 and len(members) + count > limit:
                quota.release(ctx.project_id or "", quota.instance_deltas(flavor, count))
                raise exception.QuotaExceeded(resource="server_group_members", requested=count,
                                              used=len(members), limit=limit)
        reservation_id = "r-" + secrets.token_hex(4)
        snapshot = flavor_snapshot(flavor)
        new_uuids = [new_id() for _ in range(count)]
        try:
            volume_holds = self.volumes.reserve_for_boot(ctx, plan, new_uuids)
        except Exception:
            quota.release(ctx.project_id or "", quota.instance_deltas(flavor, count))
            raise
        uuids: list[str] = []
        try:
            with db.transaction() as s:
                for i, uuid in enumerate(new_uuids):
                    display = name if count == 1 else f"{name}-{i + 1}"
                    s.add(Instance(
                        uuid=uuid, display_name=display, display_description=description,
                        hostname=(hostname or display)[:63], project_id=ctx.project_id or "",
                        user_id=ctx.user_id or "", vm_state=st.BUILDING, task_state=st.SCHEDULING,
                        task_updated_at=utcnow(), power_state=0, flavor_json=objects.dumps(snapshot),
                        vcpus=flavor["vcpus"], memory_mb=flavor["ram"], root_gb=flavor["disk"],
                        ephemeral_gb=flavor["ephemeral"],
                        image_ref="" if plan.volume_backed else (image.get("id") or image_ref), key_name=key_name,
                        key_data=key_data, user_data=user_data, metadata_json=objects.dumps(metadata),
                        system_metadata_json=objects.dumps({"image_name": image.get("name"),
                                                            SCHEDULED_BY: self.plumbing.owner,
                                                            **disk_config}),
                        security_groups_json=objects.dumps(security_groups),
                        requested_networks_json=objects.dumps(networks),
                        scheduler_hints_json=objects.dumps(hints),
                        requested_availability_zone=zone, availability_zone=zone, locked=False,
                        config_drive="True" if config_drive else "", access_ip_v4=access_ip_v4,
                        access_ip_v6=access_ip_v6, launch_index=i, reservation_id=reservation_id, progress=0,
                        deleted=False))
                    for t in tags or []:
                        s.add(InstanceTag(instance_uuid=uuid, tag=t))
                    if group_uuid:
                        s.add(ServerGroupMember(group_uuid=group_uuid, instance_uuid=uuid))
                    self.volumes.record(s, uuid, plan, volume_holds)
                    uuids.append(uuid)
        except Exception:
            self.volumes.unreserve(ctx, volume_holds)
            quota.release(ctx.project_id or "", quota.instance_deltas(flavor, count))
            raise
        for uuid in uuids:
            objects.start_action(ctx, uuid, "create")
        spec = {"project_id": ctx.project_id, "flavor": snapshot, "image": image_props(image),
                "availability_zone": availability_zone or None, "scheduler_hints": hints,
                "group_uuid": group_uuid, "requested_host": forced_host}
        self.scheduling.build_later(ctx, uuids, spec, admin_password, networks, security_groups)
        return [objects.get_instance(u) for u in uuids]

    def _boot_volume_image(self, ctx: RequestContext, image_id: str | None, strict: bool) -> dict[str, Any]:
        """The image a volume-backed server boots (the volume's source): its requirements, when it is known.

        A volume made from an image (``strict``) needs the image (400 when it is missing); an existing
        volume's image may be gone since, and is not needed to boot it.
        """
        blank = {"id": image_id or "", "status": "active", "min_ram": 0, "min_disk": 0, "properties": {}}
        if not image_id:
            return blank
        try:
            return resolve_image(self.plumbing.image(), ctx, image_id)
        except exception.Invalid:
            if strict:
                raise
            return blank

    @staticmethod
    def _forced_host(availability_zone: str | None) -> str | None:
        """The host named by ``zone:host[:node]`` / ``zone::node``, checked to exist (400 otherwise).

        Who may force a host is the frontend's policy (``os_compute_api:servers:create:forced_host``).
        An unknown name is a 400 that names only what was asked for: the other hosts are not listed.
        """
        if not availability_zone or ":" not in availability_zone:
            return None
        _zone, _, rest = availability_zone.partition(":")
        host, _, node = rest.partition(":")
        if host:
            if not service_mod.list_services(BINARY, host):
                raise exception.Invalid(reason=f"Compute host {host} could not be found.")
        if node:
            with db.transaction() as s:
                node_host = s.scalar(sa.select(ComputeNode.host).where(ComputeNode.hypervisor_hostname == node))
            if node_host is None or (host and node_host != host):
                raise exception.Invalid(reason=f"Compute host node {node} could not be found.")
            host = node_host
        return host or None

    def _validate_network_request(self, ctx: RequestContext, networks: Any, security_groups: list[str],
                                  count: int) -> None:
        """Before the 202: every requested network, port and security group exists and is the caller's to use.

        Nova's answers: an unknown (or invisible: another project's) network, port or security
        group is a 400 naming it; a port in use is a 409. Nothing is created.
        """
        net = self.plumbing.network()
        if net is None:
            return
        try:
            if networks not in (None, "none"):
                net.validate_networks(ctx, network_request(networks), count)
            net.validate_security_groups(ctx, security_groups)  # as Nova: whatever the networks
        except exception.NotFound as err:
            raise exception.Invalid(reason=str(err)) from None

    def get_server(self, ctx: RequestContext, uuid: str) -> dict[str, Any]:
        inst = objects.get_instance(uuid, project_id=None if ctx.is_admin else ctx.project_id)
        return self.decorate([inst])[0]

    def decorate(self, insts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add what the API shows besides the row: status, fault, host id and status, ports."""
        faults = objects.latest_faults([i["uuid"] for i in insts if i["vm_state"] == st.ERROR])
        net = self.plumbing.network()
        admin = RequestContext(roles=["admin"], is_admin=True)
        down = self.hosts.down_hosts()
        volumes = bdms.views_of(i["uuid"] for i in insts if i["vm_state"] != st.DELETED)
        for i in insts:
            i["volumes_attached"] = volumes.get(i["uuid"], [])
            i["status"] = st.status(i["vm_state"], i["task_state"])
            i["fault"] = faults.get(i["uuid"])
            i["host_id"] = host_id(i["project_id"], i["host"])
            i["host_status"] = "" if not i["host"] else ("DOWN" if i["host"] in down else "UP")
            i["ports"] = []
            if net is not None and i["vm_state"] != st.DELETED:
                try:
                    i["ports"] = [port_view(p) for p in net.instance_ports(admin, i["uuid"])]
                    if i["ports"]:
                        # the ports' groups, as Nova asks Neutron: those added or removed since the create count
                        i["security_groups"] = _unique(g.name for g in net.instance_security_groups(admin, i["uuid"]))
                except Exception:
                    LOG.debug("No network info for %s", i["uuid"], exc_info=True)
        return insts

    def list_servers(self, ctx: RequestContext, *, filters: dict[str, Any] | None = None,
                     all_projects: bool = False, limit: int | None = None, marker: str | None = None,
                     sort: list[tuple[str, str]] | None = None, deleted: bool = False) -> list[dict[str, Any]]:
        filters = dict(filters or {})
        sortable = {"created_at": Instance.created_at, "display_name": Instance.display_name,
                    "uuid": Instance.uuid, "updated_at": Instance.updated_at, "host": Instance.host,
                    "vm_state": Instance.vm_state, "task_state": Instance.task_state,
                    "launched_at": Instance.launched_at, "project_id": Instance.project_id,
                    "user_id": Instance.user_id, "availability_zone": Instance.availability_zone,
                    "display_description": Instance.display_description, "hostname": Instance.hostname,
                    "power_state": Instance.power_state, "image_ref": Instance.image_ref,
                    "key_name": Instance.key_name, "terminated_at": Instance.terminated_at,
                    "memory_mb": Instance.memory_mb, "vcpus": Instance.vcpus, "root_gb": Instance.root_gb}
        sort = sort or [("created_at", "desc")]
        for key, _ in sort:
            if key not in sortable:
                raise exception.Invalid(reason=f"Invalid sort_key {key}")
        with db.reader() as s:
            q = sa.select(Instance)
            # deleted=True (administrators) lists only the deleted servers, as Nova's deleted=true filter
            q = q.where(Instance.deleted.is_(bool(deleted)))
            if not (all_projects and ctx.is_admin):
                q = q.where(Instance.project_id == ctx.project_id)
            elif filters.get("project_id") or filters.get("tenant_id"):
                q = q.where(Instance.project_id == (filters.get("project_id") or filters.get("tenant_id")))
            if filters.get("name"):
                q = q.where(Instance.display_name.like(f"%{filters['name']}%")) if not _is_regex(filters["name"]) \
                    else q
            for key, col in (("host", Instance.host), ("user_id", Instance.user_id),
                             ("image", Instance.image_ref), ("key_name", Instance.key_name),
                             ("availability_zone", Instance.availability_zone),
                             ("reservation_id", Instance.reservation_id), ("node", Instance.node),
                             ("vm_state", Instance.vm_state), ("task_state", Instance.task_state)):
                if filters.get(key):
                    q = q.where(col == filters[key])
            if filters.get("flavor"):
                q = q.where(Instance.flavor_json.like(f'%"id": "{filters["flavor"]}"%'))
            if filters.get("changes-since"):
                q = q.where(sa.or_(Instance.updated_at >= filters["changes-since"],
                                   Instance.created_at >= filters["changes-since"]))
            if filters.get("status"):
                wanted = st.STATUS_FILTER.get(str(filters["status"]).upper())
                if wanted is None:
                    return []
                conds = []
                for vm, task in wanted:
                    c = Instance.vm_state == vm
                    if task is not ...:
                        c = sa.and_(c, Instance.task_state.is_(None) if task is None else Instance.task_state == task)
                    conds.append(c)
                q = q.where(sa.or_(*conds))
            for key, mode in (("tags", "all"), ("tags-any", "any"), ("not-tags", "not"),
                              ("not-tags-any", "notany")):
                if filters.get(key):
                    wanted_tags = [t for t in str(filters[key]).split(",") if t]
                    sub = sa.select(InstanceTag.instance_uuid).where(InstanceTag.tag.in_(wanted_tags))
                    if mode == "all" or mode == "not":
                        sub = sub.group_by(InstanceTag.instance_uuid).having(
                            sa.func.count(sa.distinct(InstanceTag.tag)) == len(set(wanted_tags)))
                    q = q.where(Instance.uuid.in_(sub) if mode in ("all", "any") else Instance.uuid.not_in(sub))
            for key, direction in sort:
                sort_col = sortable[key]
                q = q.order_by(sort_col.desc() if direction == "desc" else sort_col.asc())
            q = q.order_by(Instance.uuid.desc())
            if marker is not None:
                m = s.get(Instance, marker)
                if m is None:
                    raise exception.Invalid(reason=f"marker [{marker}] not found")
                key, direction = sort[0]
                sort_col = sortable[key]
                mval = getattr(m, sort_col.key)
                if mval is not None:
                    cmp = sort_col < mval if direction == "desc" else sort_col > mval
                    tie = sa.and_(sort_col == mval, Instance.uuid < m.uuid)
                    q = q.where(sa.or_(cmp, tie))
            ip_filters = {v: _regex(filters[k], k) for k, v in (("ip", 4), ("ip6", 6)) if filters.get(k)}
            if filters.get("name") and _is_regex(filters["name"]):
                rows = list(s.scalars(q))
                rx = _regex(filters["name"], "name")
                rows = [r for r in rows if rx.search(r.display_name)]
                rows = rows[:limit] if limit is not None and not ip_filters else rows
            else:
                if limit is not None and not ip_filters:
                    q = q.limit(limit)
                rows = list(s.scalars(q))
            uuids = [r.uuid for r in rows]
            tags: dict[str, list[str]] = {u: [] for u in uuids}
            if uuids:
                for t in s.scalars(sa.select(InstanceTag).where(InstanceTag.instance_uuid.in_(uuids))):
                    tags[t.instance_uuid].append(t.tag)
            insts = [objects.instance_dict(r, sorted(tags[r.uuid])) for r in rows]
        insts = self.decorate(insts)
        if ip_filters:
            # Nova's ip/ip6 filters: the regex matches (from the start) one of the fixed addresses of that version
            insts = [i for i in insts if _address_matches(i, ip_filters)]
            insts = insts[:limit] if limit is not None else insts
        return insts

    def update_server(self, ctx: RequestContext, uuid: str, values: dict[str, Any]) -> dict[str, Any]:
        inst = instance_for(ctx, uuid)
        check_locked(ctx, inst)
        allowed = {"display_name", "display_description", "access_ip_v4", "access_ip_v6", "hostname"}
        changes = {k: v for k, v in values.items() if k in allowed}
        if "auto_disk_config" in values:  # Nova's OS-DCF:diskConfig, kept in system_metadata (contract 1.5)
            changes["system_metadata"] = {**(inst.get("system_metadata") or {}),
                                          AUTO_DISK_CONFIG: "True" if values["auto_disk_config"] else "False"}
        objects.update_instance(uuid, changes)
        return self.get_server(ctx, uuid)

    def delete_server(self, ctx: RequestContext, uuid: str, force: bool = False) -> None:
        """Start deleting; the host finishes it. A server with no live host is deleted here."""
        inst = instance_for(ctx, uuid)
        check_locked(ctx, inst)
        if inst["task_state"] == st.DELETING:
            return  # already under way
        objects.start_action(ctx, uuid, "delete")
        try:
            inst = objects.update_instance(uuid, {"task_state": st.DELETING})
        except exception.NotFound:
            return
        host = inst["host"]
        if not host or host in self.hosts.down_hosts():
            self.local_delete(ctx, inst)
            return
        self.plumbing.rpc.cast(ctx, "terminate_instance", server=host, instance_uuid=uuid)

    def local_delete(self, ctx: RequestContext, inst: dict[str, Any]) -> None:
        """Delete a server no live host holds: its ports and volumes, then the record (as the host would)."""
        bdms.release_volumes(self.plumbing.hub, ctx, inst["uuid"])
        net = self.plumbing.network()
        if net is not None:
            try:
                net.deallocate_for_instance(ctx, inst["uuid"])
            except Exception:
                LOG.exception("Deallocating network of %s failed", inst["uuid"])
        self.finish_delete(ctx, inst)
        objects.finish_action(ctx, inst["uuid"])

    def finish_delete(self, ctx: RequestContext, inst: dict[str, Any]) -> None:
        """Mark deleted and give the quota back (exactly once: the UPDATE is conditional)."""
        now = utcnow()
        with db.transaction() as s:
            n = db.rowcount(s, sa.update(Instance).where(Instance.uuid == inst["uuid"], Instance.deleted.is_(False))
                               .values(deleted=True, deleted_at=now, terminated_at=now, vm_state=st.DELETED,
                                       task_state=None, power_state=0, updated_at=now)
                               .execution_options(synchronize_session=False))
            s.execute(sa.delete(ServerGroupMember).where(ServerGroupMember.instance_uuid == inst["uuid"]))
            if n:  # usage goes back in the same transaction: no window where a gone server still counts
                flavor = inst["flavor"] or {"vcpus": inst["vcpus"], "ram": inst["memory_mb"]}
                quota.release(inst["project_id"], quota.instance_deltas(flavor), session=s)
        if n:
            release_claims(self.plumbing.hub, ctx, [inst["uuid"]])
            net = self.plumbing.network()
            if net is not None:
                try:
                    net.deallocate_for_instance(ctx, inst["uuid"])
                except Exception:
                    LOG.exception("Deallocating network of %s failed", inst["uuid"])
