"""The compute API manager (``hub.compute``): what frontends call.

It validates, enforces quotas and policy-free business rules (policy is the
frontend's job), writes the database, and hands work to the compute hosts over
RPC. Scheduling happens here (a small thread pool), so a build needs no extra
service: select hosts with ``hub.scheduler``, record the host, cast
``build_and_run_instance`` to it. A host that fails a build hands it back
through :meth:`ComputeAPI.schedule_and_build` with itself excluded.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import random
import secrets
import threading
import time
from typing import Any

import sqlalchemy as sa

import cumulo_service_compute.keys as keys
import cumulo_service_compute.objects as objects
import cumulo_service_compute.quota as quota
import cumulo_service_compute.rpc as rpc
import cumulo_service_compute.states as st
from cumulo import db, exception
from cumulo import service as service_mod
from cumulo.conf import CONF
from cumulo.context import RequestContext
from cumulo.contracts.compute import SERVER_GROUP_POLICIES
from cumulo.db.models.base import new_id, utcnow
from cumulo.db.models.service import Service as ServiceRow
from cumulo.interfaces.scheduler import HostState, NoValidHost, RequestSpec
from cumulo.utils.passwords import generate_password
from cumulo_service_compute.manager import BUILD_TASK_STATES, SCHEDULED_BY, optional
from cumulo_service_compute.models import (
    Aggregate,
    AggregateHost,
    AggregateMetadata,
    ComputeNode,
    Flavor,
    FlavorExtraSpec,
    FlavorProject,
    Instance,
    InstanceTag,
    KeyPair,
    ServerGroup,
    ServerGroupMember,
)

LOG = logging.getLogger(__name__)
BINARY = "cumulo-compute"


def _conflict(msg: str) -> exception.Conflict:
    return exception.Conflict(msg)


def flavor_dict(f: Flavor, extra_specs: dict[str, str] | None = None) -> dict[str, Any]:
    return {"id": f.flavorid, "name": f.name, "vcpus": f.vcpus, "ram": f.memory_mb, "disk": f.root_gb,
            "ephemeral": f.ephemeral_gb, "swap": f.swap, "rxtx_factor": f.rxtx_factor, "is_public": f.is_public,
            "disabled": f.disabled, "description": f.description, "extra_specs": extra_specs or {}}


def host_id(project_id: str, host: str | None) -> str:
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


class ComputeAPI:
    """``hub.compute``. Every method takes the RequestContext first."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self._rpc: Any = None
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=CONF.compute.build_workers,
                                                           thread_name_prefix="compute-schedule")
        self._hs_lock = threading.Lock()
        self._hs_cache: list[HostState] | None = None
        self._hs_time = 0.0
        #: Who schedules the builds this process accepts (recorded on each: ``scheduled_by``), so a
        #: restart of this process knows which unplaced builds were its own (:meth:`reconcile_builds`).
        self.owner: str = str(CONF.host)
        self._started = utcnow()

    # -- plumbing ------------------------------------------------------------
    @property
    def rpc(self) -> Any:
        if self._rpc is None:
            self._rpc = rpc.client(self.hub)
        return self._rpc

    @rpc.setter
    def rpc(self, value: Any) -> None:
        self._rpc = value

    def _network(self) -> Any | None:
        return optional(self.hub, "network")

    # ======================================================================
    # flavors
    # ======================================================================
    def _extra_specs(self, s: Any, flavor_ids: list[int]) -> dict[int, dict[str, str]]:
        out: dict[int, dict[str, str]] = {fid: {} for fid in flavor_ids}
        if flavor_ids:
            for es in s.scalars(sa.select(FlavorExtraSpec).where(FlavorExtraSpec.flavor_id.in_(flavor_ids))):
                out[es.flavor_id][es.key] = es.value
        return out

    def _flavor_row(self, s: Any, ctx: RequestContext, flavor_id: str) -> Flavor:
        row = s.scalar(sa.select(Flavor).where(Flavor.flavorid == str(flavor_id)))
        if row is None or (not row.is_public and not ctx.is_admin and not s.scalar(
                sa.select(FlavorProject).where(FlavorProject.flavor_id == row.id,
                                               FlavorProject.project_id == ctx.project_id))):
            raise exception.NotFound(f"Flavor {flavor_id} could not be found.")
        return row

    def list_flavors(self, ctx: RequestContext, *, is_public: bool | None = True, min_ram: int | None = None,
                     min_disk: int | None = None, sort_key: str = "flavorid", sort_dir: str = "asc",
                     limit: int | None = None, marker: str | None = None) -> list[dict[str, Any]]:
        with db.reader() as s:
            q = sa.select(Flavor).where(Flavor.disabled.is_(False))
            if min_ram:
                q = q.where(Flavor.memory_mb >= min_ram)
            if min_disk:
                q = q.where(Flavor.root_gb >= min_disk)
            rows = s.scalars(q).all()
            allowed = set(s.scalars(sa.select(FlavorProject.flavor_id).where(
                FlavorProject.project_id == ctx.project_id)))
            if is_public is True or (is_public is None and not ctx.is_admin):
                rows = [r for r in rows if r.is_public or r.id in allowed]
            elif is_public is False:
                rows = [r for r in rows if not r.is_public and (ctx.is_admin or r.id in allowed)]
            elif not ctx.is_admin:
                rows = [r for r in rows if r.is_public or r.id in allowed]
            specs = self._extra_specs(s, [r.id for r in rows])
            flavors = [flavor_dict(r, specs[r.id]) for r in rows]
        key = {"flavorid": "id", "id": "id", "name": "name", "memory_mb": "ram", "ram": "ram", "vcpus": "vcpus",
               "root_gb": "disk", "disk": "disk", "swap": "swap", "ephemeral_gb": "ephemeral",
               "rxtx_factor": "rxtx_factor", "is_public": "is_public"}.get(sort_key)
        if key is None:
            raise exception.ValidationError(field="sort_key", reason=f"'{sort_key}' is not a flavor sort key")
        if key == "id":
            flavors.sort(key=lambda f: (0, int(f["id"]), "") if f["id"].isdigit() else (1, 0, f["id"]))
        else:
            flavors.sort(key=lambda f: (f[key], f["id"]))
        if sort_dir == "desc":
            flavors.reverse()
        if marker is not None:
            idx = next((i for i, f in enumerate(flavors) if f["id"] == marker), None)
            if idx is None:
                raise exception.Invalid(reason=f"marker [{marker}] not found")
            flavors = flavors[idx + 1:]
        return flavors[:limit] if limit is not None else flavors

    def get_flavor(self, ctx: RequestContext, flavor_id: str) -> dict[str, Any]:
        with db.reader() as s:
            row = self._flavor_row(s, ctx, flavor_id)
            return flavor_dict(row, self._extra_specs(s, [row.id])[row.id])

    def create_flavor(self, ctx: RequestContext, *, name: str, vcpus: int, ram: int, disk: int,
                      flavorid: str | None = None, ephemeral: int = 0, swap: int = 0, rxtx_factor: float = 1.0,
                      is_public: bool = True, description: str | None = None) -> dict[str, Any]:
        flavorid = str(flavorid) if flavorid not in (None, "", "auto") else new_id()
        try:
            with db.transaction() as s:
                if s.scalar(sa.select(Flavor.id).where(Flavor.name == name)):
                    raise exception.Conflict(f"Flavor with name {name} already exists.")
                if s.scalar(sa.select(Flavor.id).where(Flavor.flavorid == flavorid)):
                    raise exception.Conflict(f"Flavor with ID {flavorid} already exists.")
                row = Flavor(flavorid=flavorid, name=name, vcpus=vcpus, memory_mb=ram, root_gb=disk,
                             ephemeral_gb=ephemeral, swap=swap, rxtx_factor=rxtx_factor, is_public=is_public,
                             disabled=False, description=description)
                s.add(row)
                s.flush()
                return flavor_dict(row)
        except sa.exc.IntegrityError:
            raise exception.Conflict(f"Flavor {name} ({flavorid}) already exists.") from None

    def update_flavor(self, ctx: RequestContext, flavor_id: str, description: str | None) -> dict[str, Any]:
        with db.transaction() as s:
            row = self._flavor_row(s, ctx, flavor_id)
            row.description = description
            return flavor_dict(row, self._extra_specs(s, [row.id])[row.id])

    def delete_flavor(self, ctx: RequestContext, flavor_id: str) -> None:
        with db.transaction() as s:
            row = self._flavor_row(s, ctx, flavor_id)
            s.execute(sa.delete(FlavorExtraSpec).where(FlavorExtraSpec.flavor_id == row.id))
            s.execute(sa.delete(FlavorProject).where(FlavorProject.flavor_id == row.id))
            s.delete(row)

    def get_extra_specs(self, ctx: RequestContext, flavor_id: str) -> dict[str, str]:
        return self.get_flavor(ctx, flavor_id)["extra_specs"]

    def set_extra_specs(self, ctx: RequestContext, flavor_id: str, specs: dict[str, str]) -> dict[str, str]:
        with db.transaction() as s:
            row = self._flavor_row(s, ctx, flavor_id)
            for k, v in specs.items():
                existing = s.get(FlavorExtraSpec, (row.id, k))
                if existing is None:
                    s.add(FlavorExtraSpec(flavor_id=row.id, key=k, value=str(v)))
                else:
                    existing.value = str(v)
        return specs

    def delete_extra_spec(self, ctx: RequestContext, flavor_id: str, key: str) -> None:
        with db.transaction() as s:
            row = self._flavor_row(s, ctx, flavor_id)
            es = s.get(FlavorExtraSpec, (row.id, key))
            if es is None:
                raise exception.NotFound(f"Flavor {flavor_id} has no extra spec with key {key}.")
            s.delete(es)

    def flavor_access(self, ctx: RequestContext, flavor_id: str) -> list[dict[str, str]]:
        with db.transaction() as s:
            row = self._flavor_row(s, ctx, flavor_id)
            if row.is_public:
                raise exception.NotFound("Access list not available for public flavors.")
            return [{"flavor_id": row.flavorid, "tenant_id": p} for p in s.scalars(
                sa.select(FlavorProject.project_id).where(FlavorProject.flavor_id == row.id))]

    def add_flavor_access(self, ctx: RequestContext, flavor_id: str, project_id: str) -> list[dict[str, str]]:
        with db.transaction() as s:
            row = self._flavor_row(s, ctx, flavor_id)
            if row.is_public:
                raise exception.Conflict("Can not add access to a public flavor.")
            if s.get(FlavorProject, (row.id, project_id)):
                raise exception.Conflict(f"Flavor access already exists for flavor {flavor_id} and project "
                                         f"{project_id} combination.")
            s.add(FlavorProject(flavor_id=row.id, project_id=project_id))
        return self.flavor_access(ctx, flavor_id)

    def remove_flavor_access(self, ctx: RequestContext, flavor_id: str, project_id: str) -> list[dict[str, str]]:
        with db.transaction() as s:
            row = self._flavor_row(s, ctx, flavor_id)
            fp = s.get(FlavorProject, (row.id, project_id))
            if fp is None:
                raise exception.NotFound(f"Flavor access not found for {flavor_id} / {project_id} combination.")
            s.delete(fp)
        return self.flavor_access(ctx, flavor_id)

    # ======================================================================
    # key pairs
    # ======================================================================
    def create_keypair(self, ctx: RequestContext, name: str, public_key: str | None = None,
                       key_type: str = "ssh", user_id: str | None = None) -> dict[str, Any]:
        user_id = user_id or ctx.user_id or ""
        private = None
        if public_key is None:
            if key_type == "x509":
                raise exception.Invalid(reason="Generating x509 key pairs is not supported; import a certificate.")
            private, public_key = keys.generate()
        fp = keys.fingerprint(public_key, key_type)
        quota.reserve(user_id, {"key_pairs": 1}, limits_project=ctx.project_id or user_id)
        try:
            with db.transaction() as s:
                row = KeyPair(name=name, user_id=user_id, fingerprint=fp, public_key=public_key.strip(),
                              type=key_type)
                s.add(row)
                s.flush()
                out = self._keypair_dict(row)
        except sa.exc.IntegrityError:
            quota.release(user_id, {"key_pairs": 1})
            raise exception.Conflict(f"Key pair '{name}' already exists.") from None
        if private:
            out["private_key"] = private
        return out

    @staticmethod
    def _keypair_dict(row: KeyPair) -> dict[str, Any]:
        return {"id": row.id, "name": row.name, "user_id": row.user_id, "fingerprint": row.fingerprint,
                "public_key": row.public_key, "type": row.type, "created_at": row.created_at, "deleted": False,
                "deleted_at": None, "updated_at": row.updated_at}

    def list_keypairs(self, ctx: RequestContext, user_id: str | None = None, limit: int | None = None,
                      marker: str | None = None) -> list[dict[str, Any]]:
        with db.reader() as s:
            q = sa.select(KeyPair).where(KeyPair.user_id == (user_id or ctx.user_id)).order_by(KeyPair.name)
            rows = [self._keypair_dict(r) for r in s.scalars(q)]
        if marker is not None:
            idx = next((i for i, k in enumerate(rows) if k["name"] == marker), None)
            if idx is None:
                raise exception.NotFound(f"Marker {marker} could not be found.")
            rows = rows[idx + 1:]
        return rows[:limit] if limit is not None else rows

    def get_keypair(self, ctx: RequestContext, name: str, user_id: str | None = None) -> dict[str, Any]:
        with db.reader() as s:
            row = s.scalar(sa.select(KeyPair).where(KeyPair.user_id == (user_id or ctx.user_id),
                                                    KeyPair.name == name))
            if row is None:
                raise exception.NotFound(f"Keypair {name} not found for user {user_id or ctx.user_id}")
            return self._keypair_dict(row)

    def delete_keypair(self, ctx: RequestContext, name: str, user_id: str | None = None) -> None:
        uid = user_id or ctx.user_id or ""
        with db.transaction() as s:
            n = db.rowcount(s, sa.delete(KeyPair).where(KeyPair.user_id == uid, KeyPair.name == name))
        if not n:
            raise exception.NotFound(f"Keypair {name} not found for user {uid}")
        quota.release(uid, {"key_pairs": 1})

    # ======================================================================
    # server groups
    # ======================================================================
    POLICIES = SERVER_GROUP_POLICIES

    def _group_dict(self, s: Any, g: ServerGroup) -> dict[str, Any]:
        members = list(s.scalars(sa.select(ServerGroupMember.instance_uuid)
                                 .where(ServerGroupMember.group_uuid == g.uuid)))
        return {"id": g.uuid, "name": g.name, "project_id": g.project_id, "user_id": g.user_id,
                "policy": g.policy, "rules": objects.loads(g.rules_json, {}), "members": members, "metadata": {}}

    def create_server_group(self, ctx: RequestContext, name: str, policy: str,
                            rules: dict[str, Any] | None = None) -> dict[str, Any]:
        if policy not in self.POLICIES:
            raise exception.ValidationError(field="policy", reason=f"must be one of {', '.join(self.POLICIES)}")
        if rules and policy != "anti-affinity":
            raise exception.Invalid(reason="Only anti-affinity policy supports rules.")
        quota.reserve(ctx.project_id or "", {"server_groups": 1})
        with db.transaction() as s:
            g = ServerGroup(uuid=new_id(), name=name, project_id=ctx.project_id or "", user_id=ctx.user_id or "",
                            policy=policy, rules_json=objects.dumps(rules or {}))
            s.add(g)
            s.flush()
            return self._group_dict(s, g)

    def _group_row(self, s: Any, ctx: RequestContext, group_id: str) -> ServerGroup:
        g = s.scalar(sa.select(ServerGroup).where(ServerGroup.uuid == group_id))
        if g is None or (not ctx.is_admin and g.project_id != ctx.project_id):
            raise exception.NotFound(f"Server group {group_id} could not be found.")
        return g

    def get_server_group(self, ctx: RequestContext, group_id: str) -> dict[str, Any]:
        with db.transaction() as s:
            return self._group_dict(s, self._group_row(s, ctx, group_id))

    def list_server_groups(self, ctx: RequestContext, all_projects: bool = False) -> list[dict[str, Any]]:
        with db.transaction() as s:
            q = sa.select(ServerGroup).order_by(ServerGroup.id)
            if not (all_projects and ctx.is_admin):
                q = q.where(ServerGroup.project_id == ctx.project_id)
            return [self._group_dict(s, g) for g in s.scalars(q)]

    def delete_server_group(self, ctx: RequestContext, group_id: str) -> None:
        with db.transaction() as s:
            g = self._group_row(s, ctx, group_id)
            s.execute(sa.delete(ServerGroupMember).where(ServerGroupMember.group_uuid == g.uuid))
            project = g.project_id
            s.delete(g)
        quota.release(project, {"server_groups": 1})

    def server_group_of(self, ctx: RequestContext, uuid: str) -> str | None:
        """The uuid of the server group server ``uuid`` belongs to, or None."""
        return objects.group_of(uuid)

    def _group_hosts(self, group_uuid: str, exclude: set[str]) -> tuple[list[str], list[str]]:
        with db.transaction() as s:
            rows = s.execute(sa.select(Instance.uuid, Instance.host).join(
                ServerGroupMember, ServerGroupMember.instance_uuid == Instance.uuid)
                .where(ServerGroupMember.group_uuid == group_uuid, Instance.deleted.is_(False))).all()
        members = [r.uuid for r in rows]
        hosts = [r.host for r in rows if r.host and r.uuid not in exclude]
        return members, hosts

    # ======================================================================
    # quotas and limits
    # ======================================================================
    def quota_set(self, ctx: RequestContext, project_id: str, detail: bool = False,
                  user_id: str | None = None) -> dict[str, Any]:
        limits = quota.get_limits(project_id)
        if not detail:
            return limits
        usage = quota.get_usage(project_id)
        kp_usage = quota.get_usage(user_id or ctx.user_id or "").get("key_pairs", 0)
        out = {}
        for r, lim in limits.items():
            used = kp_usage if r == "key_pairs" else usage.get(r, 0)
            out[r] = {"limit": lim, "in_use": used, "reserved": 0}
        return out

    def update_quota_set(self, ctx: RequestContext, project_id: str, values: dict[str, int],
                         force: bool = False) -> dict[str, int]:
        if not force:
            usage = quota.get_usage(project_id)
            for r, v in values.items():
                if r in quota.COUNTED and r != "key_pairs" and v >= 0 and usage.get(r, 0) > v:
                    raise exception.Invalid(reason=f"Quota limit {v} for {r} must be greater than or equal to "
                                                   f"already used and reserved {usage.get(r, 0)}.")
        return quota.set_limits(project_id, values)

    def quota_defaults(self, ctx: RequestContext) -> dict[str, int]:
        return quota.default_limits()

    def delete_quota_set(self, ctx: RequestContext, project_id: str) -> None:
        quota.delete_limits(project_id)

    # ======================================================================
    # servers
    # ======================================================================
    def _resolve_image(self, ctx: RequestContext, image_ref: str | None) -> dict[str, Any]:
        if not image_ref:
            raise exception.Invalid(reason="An image is required to boot a server (volume boot is not supported).")
        image_svc = optional(self.hub, "image")
        if image_svc is None:
            return {"id": image_ref, "status": "active", "min_ram": 0, "min_disk": 0, "properties": {}}
        try:
            image = dict(image_svc.get(ctx, image_ref))
        except exception.NotFound:
            raise exception.Invalid(reason=f"Image {image_ref} could not be found.") from None
        if image.get("status", "active") != "active":
            raise exception.Invalid(reason=f"Image {image_ref} is not active (status {image.get('status')}).")
        return image

    def create_servers(self, ctx: RequestContext, *, name: str, image_ref: str | None, flavor_id: str,
                       min_count: int = 1, max_count: int = 1, key_name: str | None = None,
                       user_data: str | None = None, metadata: dict[str, str] | None = None,
                       networks: Any = "auto", security_groups: list[str] | None = None,
                       availability_zone: str | None = None, scheduler_hints: dict[str, Any] | None = None,
                       admin_password: str | None = None, description: str | None = None,
                       tags: list[str] | None = None, config_drive: bool = False, access_ip_v4: str | None = None,
                       access_ip_v6: str | None = None, hostname: str | None = None) -> list[dict[str, Any]]:
        """Create ``min_count``..``max_count`` servers (as many as quota allows) and start their builds.

        Returns the instance dicts (BUILD); raises 400 for bad input, 403 over quota, 409 for conflicts.
        """
        try:
            flavor = self.get_flavor(ctx, flavor_id)
        except exception.NotFound:
            raise exception.Invalid(reason=f"Flavor {flavor_id} could not be found.") from None
        if flavor.get("disabled"):
            raise exception.Invalid(reason=f"Flavor {flavor_id} is disabled.")
        image = self._resolve_image(ctx, image_ref)
        if int(image.get("min_ram") or 0) > flavor["ram"]:
            raise exception.Invalid(reason="Flavor's memory is too small for requested image.")
        if int(image.get("min_disk") or 0) > flavor["disk"] and flavor["disk"] != 0:
            raise exception.Invalid(reason="Flavor's disk is too small for requested image.")
        metadata = dict(metadata or {})
        limits = quota.get_limits(ctx.project_id or "")
        if limits["metadata_items"] >= 0 and len(metadata) > limits["metadata_items"]:
            raise exception.QuotaExceeded("Quota exceeded for metadata_items: maximum number of metadata "
                                          f"items is {limits['metadata_items']}.")
        key_data = None
        if key_name:
            try:
                key_data = self.get_keypair(ctx, key_name)["public_key"]
            except exception.NotFound:
                raise exception.Invalid(reason=f"Invalid key_name provided: {key_name}") from None
        zone = (availability_zone or "").split(":", 1)[0] or None
        if zone and zone not in {z["zoneName"] for z in self.availability_zones(ctx)}:
            raise exception.Invalid(reason=f"The requested availability zone is not available: {zone}")
        forced_host = self._forced_host(availability_zone)
        hints = dict(scheduler_hints or {})
        group_uuid = hints.get("group")
        if group_uuid:
            if isinstance(group_uuid, list):
                group_uuid = group_uuid[0]
            self.get_server_group(ctx, group_uuid)
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
            members, _ = self._group_hosts(group_uuid, set())
            limit = limits["server_group_members"]
            if limit >= 0 and len(members) + count > limit:
                quota.release(ctx.project_id or "", quota.instance_deltas(flavor, count))
                raise exception.QuotaExceeded(resource="server_group_members", requested=count,
                                              used=len(members), limit=limit)
        reservation_id = "r-" + secrets.token_hex(4)
        snapshot = {k: flavor[k] for k in ("id", "name", "vcpus", "ram", "disk", "ephemeral", "swap",
                                           "extra_specs", "description")}
        snapshot["original_name"] = flavor["name"]
        uuids: list[str] = []
        try:
            with db.transaction() as s:
                for i in range(count):
                    uuid = new_id()
                    display = name if count == 1 else f"{name}-{i + 1}"
                    s.add(Instance(
                        uuid=uuid, display_name=display, display_description=description,
                        hostname=(hostname or display)[:63], project_id=ctx.project_id or "",
                        user_id=ctx.user_id or "", vm_state=st.BUILDING, task_state=st.SCHEDULING,
                        task_updated_at=utcnow(), power_state=0, flavor_json=objects.dumps(snapshot),
                        vcpus=flavor["vcpus"], memory_mb=flavor["ram"], root_gb=flavor["disk"],
                        ephemeral_gb=flavor["ephemeral"], image_ref=image.get("id") or image_ref, key_name=key_name,
                        key_data=key_data, user_data=user_data, metadata_json=objects.dumps(metadata),
                        system_metadata_json=objects.dumps({"image_name": image.get("name"),
                                                            SCHEDULED_BY: self.owner}),
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
                    uuids.append(uuid)
        except Exception:
            quota.release(ctx.project_id or "", quota.instance_deltas(flavor, count))
            raise
        for uuid in uuids:
            objects.start_action(ctx, uuid, "create")
        spec = {"project_id": ctx.project_id, "flavor": snapshot, "image": image_props(image),
                "availability_zone": availability_zone or None, "scheduler_hints": hints,
                "group_uuid": group_uuid, "requested_host": forced_host}
        self._pool.submit(self._schedule_safely, ctx, uuids, spec, admin_password, networks, security_groups)
        return [objects.get_instance(u) for u in uuids]

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
        net = self._network()
        if net is None:
            return
        try:
            if networks not in (None, "none"):
                net.validate_networks(ctx, networks, count)
            if hasattr(net, "validate_security_groups"):  # as Nova: whatever the networks
                net.validate_security_groups(ctx, security_groups)
        except exception.NotFound as err:
            raise exception.Invalid(reason=str(err)) from None

    def _schedule_safely(self, ctx: RequestContext, uuids: list[str], spec: dict[str, Any],
                         admin_password: str | None, networks: Any, security_groups: list[str]) -> None:
        try:
            self.schedule_and_build(ctx, uuids, spec, admin_password=admin_password, requested_networks=networks,
                                    security_groups=security_groups)
        except Exception as err:
            LOG.exception("Scheduling %s failed", uuids)
            for u in uuids:
                objects.set_error(u, f"Scheduling failed: {err}")

    def _select(self, ctx: RequestContext, spec: RequestSpec) -> list[HostState]:
        scheduler = optional(self.hub, "scheduler")
        if scheduler is not None:
            return list(scheduler.select_destinations(ctx, spec))
        # No scheduler service: place on random hosts that are up, enabled and fit.
        zone, _, forced = (spec.availability_zone or "").partition(":")
        forced = spec.requested_host or forced
        hosts = [h for h in self.host_states() if h.up and h.enabled and h.host not in spec.ignore_hosts
                 and (not zone or h.availability_zone == zone) and (not forced or h.host == forced)]
        picked = []
        uuids: list[str | None] = [*spec.instance_uuids] or [None] * spec.num_instances
        for uuid in uuids:
            fit = [h for h in hosts if h.free_ram_mb >= spec.flavor["ram"] and h.free_vcpus >= spec.flavor["vcpus"]
                   and h.free_disk_gb >= spec.flavor["disk"]]
            if not fit:
                raise NoValidHost("No valid host was found. There are not enough hosts available.")
            h = random.choice(fit)
            h.consume(spec.flavor, uuid)
            picked.append(h)
        return picked

    def schedule_and_build(self, ctx: RequestContext, uuids: list[str], spec: dict[str, Any], *, attempt: int = 1,
                           ignore_hosts: list[str] | None = None, admin_password: str | None = None,
                           requested_networks: Any = "auto", security_groups: list[str] | None = None,
                           last_error: str | None = None) -> None:
        """Pick hosts for ``uuids`` and cast the builds; NoValidHost puts them in ERROR with the reason."""
        group = None
        if spec.get("group_uuid"):
            try:
                g = self.get_server_group(ctx.elevated(), spec["group_uuid"])
                members, member_hosts = self._group_hosts(g["id"], set(uuids))
                group = {"uuid": g["id"], "policy": g["policy"], "rules": g["rules"], "hosts": member_hosts,
                         "members": members}
            except exception.NotFound:
                group = None
        hints = dict(spec.get("scheduler_hints") or {})
        req = RequestSpec(project_id=spec.get("project_id") or ctx.project_id or "", flavor=spec["flavor"],
                          image=spec.get("image") or {}, num_instances=len(uuids),
                          availability_zone=spec.get("availability_zone"), scheduler_hints=hints,
                          instance_group=group, ignore_hosts=list(ignore_hosts or []), instance_uuids=list(uuids),
                          requested_host=spec.get("requested_host"))
        try:
            with objects.action_event(ctx, uuids[0], "conductor_schedule_and_build_instances"):
                hosts = self._select(ctx, req)
                if len(hosts) < len(uuids):
                    raise NoValidHost("No valid host was found. Fewer hosts than servers.")
        except NoValidHost as err:
            why = str(err) or "No valid host was found."
            if last_error:
                why = f"{why} Previous build attempt failed: {last_error}"
            details = why + (f" Hosts tried: {', '.join(ignore_hosts)}." if ignore_hosts else "")
            from cumulo_service_compute.manager import release_claims

            release_claims(self.hub, ctx, uuids)
            for u in uuids:
                objects.add_fault(u, why[:255], 500, details)  # details (host names): administrators only
                try:
                    objects.update_instance(u, {"vm_state": st.ERROR, "task_state": None},
                                            expected_task_state=st.SCHEDULING)
                except exception.CumuloError:
                    pass
                objects.finish_action(ctx, u, "Error")
            return
        for uuid, host in zip(uuids, hosts, strict=False):
            try:
                objects.update_instance(uuid, {"host": host.host, "node": host.host,
                                               "availability_zone": host.availability_zone},
                                        expected_task_state=st.SCHEDULING)
            except exception.CumuloError:
                continue  # deleted while scheduling
            self.rpc.cast(ctx, "build_and_run_instance", server=host.host, instance_uuid=uuid,
                          admin_password=admin_password, requested_networks=requested_networks,
                          security_groups=security_groups, attempt=attempt,
                          ignore_hosts=list(ignore_hosts or []), request_spec=spec)

    # -- listing -----------------------------------------------------------------
    def get_server(self, ctx: RequestContext, uuid: str) -> dict[str, Any]:
        inst = objects.get_instance(uuid, project_id=None if ctx.is_admin else ctx.project_id)
        return self._decorate([inst])[0]

    def _decorate(self, insts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        faults = objects.latest_faults([i["uuid"] for i in insts if i["vm_state"] == st.ERROR])
        net = self._network()
        down = self._down_hosts()
        for i in insts:
            i["status"] = st.status(i["vm_state"], i["task_state"])
            i["fault"] = faults.get(i["uuid"])
            i["host_id"] = host_id(i["project_id"], i["host"])
            i["host_status"] = "" if not i["host"] else ("DOWN" if i["host"] in down else "UP")
            i["ports"] = []
            if net is not None and i["vm_state"] != st.DELETED:
                try:
                    i["ports"] = list(net.get_instance_nw_info(RequestContext(roles=["admin"], is_admin=True),
                                                               i["uuid"]) or [])
                except Exception:
                    LOG.debug("No network info for %s", i["uuid"], exc_info=True)
        return insts

    def _down_hosts(self) -> set[str]:
        return {h.host for h in self.host_states() if not h.up}

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
            if not deleted:
                q = q.where(Instance.deleted.is_(False))
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
            if filters.get("name") and _is_regex(filters["name"]):
                rows = list(s.scalars(q))
                import re

                try:
                    rx = re.compile(filters["name"])
                except re.error:
                    raise exception.Invalid(reason=f"Invalid name filter {filters['name']}") from None
                rows = [r for r in rows if rx.search(r.display_name)]
                rows = rows[:limit] if limit is not None else rows
            else:
                if limit is not None:
                    q = q.limit(limit)
                rows = list(s.scalars(q))
            uuids = [r.uuid for r in rows]
            tags: dict[str, list[str]] = {u: [] for u in uuids}
            if uuids:
                for t in s.scalars(sa.select(InstanceTag).where(InstanceTag.instance_uuid.in_(uuids))):
                    tags[t.instance_uuid].append(t.tag)
            insts = [objects.instance_dict(r, sorted(tags[r.uuid])) for r in rows]
        return self._decorate(insts)

    # -- update / delete -------------------------------------------------------------
    def _instance_for(self, ctx: RequestContext, uuid: str) -> dict[str, Any]:
        return objects.get_instance(uuid, project_id=None if ctx.is_admin else ctx.project_id)

    def _check_locked(self, ctx: RequestContext, inst: dict[str, Any]) -> None:
        if inst["locked"] and not ctx.is_admin:
            raise exception.Conflict(f"Instance {inst['uuid']} is locked")

    def update_server(self, ctx: RequestContext, uuid: str, values: dict[str, Any]) -> dict[str, Any]:
        inst = self._instance_for(ctx, uuid)
        self._check_locked(ctx, inst)
        allowed = {"display_name", "display_description", "access_ip_v4", "access_ip_v6", "hostname"}
        objects.update_instance(uuid, {k: v for k, v in values.items() if k in allowed})
        return self.get_server(ctx, uuid)

    def delete_server(self, ctx: RequestContext, uuid: str, force: bool = False) -> None:
        """Start deleting; the host finishes it. A server with no live host is deleted here."""
        inst = self._instance_for(ctx, uuid)
        self._check_locked(ctx, inst)
        if inst["task_state"] == st.DELETING:
            return  # already under way
        objects.start_action(ctx, uuid, "delete")
        try:
            inst = objects.update_instance(uuid, {"task_state": st.DELETING})
        except exception.NotFound:
            return
        host = inst["host"]
        if not host or host in self._down_hosts():
            self._local_delete(ctx, inst)
            return
        self.rpc.cast(ctx, "terminate_instance", server=host, instance_uuid=uuid)

    def _local_delete(self, ctx: RequestContext, inst: dict[str, Any]) -> None:
        net = self._network()
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
            from cumulo_service_compute.manager import release_claims

            release_claims(self.hub, ctx, [inst["uuid"]])
            net = self._network()
            if net is not None:
                try:
                    net.deallocate_for_instance(ctx, inst["uuid"])
                except Exception:
                    LOG.exception("Deallocating network of %s failed", inst["uuid"])

    # -- actions ---------------------------------------------------------------------
    def _capabilities(self, host: str | None) -> set[str] | None:
        if not host:
            return None
        for h in self.host_states():
            if h.host == host:
                caps = h.capabilities.get("driver")
                return set(caps) if caps is not None else None
        return None

    def _begin(self, ctx: RequestContext, uuid: str, action: str, *, record: str | None = None,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Check lock, capability and state; move to the action's task_state atomically (409 otherwise)."""
        inst = self._instance_for(ctx, uuid)
        self._check_locked(ctx, inst)
        allowed, task = st.ACTIONS[action]
        if inst["task_state"] is not None or inst["vm_state"] not in allowed:
            raise exception.Conflict(
                f"Cannot '{action}' instance {uuid} while it is in vm_state {inst['vm_state']}"
                + (f", task_state {inst['task_state']}" if inst["task_state"] else ""))
        need = st.CAPABILITY_OF.get(action)
        caps = self._capabilities(inst["host"])
        if need and caps is not None and need not in caps:
            raise exception.Conflict(f"The hypervisor of host {inst['host']} does not support {action} "
                                     f"(capability '{need}').")
        if not inst["host"]:
            raise exception.Conflict(f"Instance {uuid} has no host; it cannot '{action}'.")
        objects.start_action(ctx, uuid, record or action)
        values = {"task_state": task, **(extra or {})}
        try:
            return objects.update_instance(uuid, values, expected_task_state=None, expected_vm_state=list(allowed))
        except exception.Conflict:
            objects.finish_action(ctx, uuid, "Error")
            raise

    def reboot(self, ctx: RequestContext, uuid: str, hard: bool = False) -> None:
        inst = self._begin(ctx, uuid, "reboot_hard" if hard else "reboot", record="reboot")
        self.rpc.cast(ctx, "reboot_instance", server=inst["host"], instance_uuid=uuid, hard=hard)

    def _simple(self, ctx: RequestContext, uuid: str, action: str, method: str, record: str,
                **kwargs: Any) -> None:
        inst = self._begin(ctx, uuid, action, record=record)
        self.rpc.cast(ctx, method, server=inst["host"], instance_uuid=uuid, **kwargs)

    def stop(self, ctx: RequestContext, uuid: str) -> None:
        self._simple(ctx, uuid, "stop", "stop_instance", "stop")

    def start(self, ctx: RequestContext, uuid: str) -> None:
        self._simple(ctx, uuid, "start", "start_instance", "start")

    def pause(self, ctx: RequestContext, uuid: str) -> None:
        self._simple(ctx, uuid, "pause", "pause_instance", "pause")

    def unpause(self, ctx: RequestContext, uuid: str) -> None:
        self._simple(ctx, uuid, "unpause", "unpause_instance", "unpause")

    def suspend(self, ctx: RequestContext, uuid: str) -> None:
        self._simple(ctx, uuid, "suspend", "suspend_instance", "suspend")

    def resume(self, ctx: RequestContext, uuid: str) -> None:
        self._simple(ctx, uuid, "resume", "resume_instance", "resume")

    def rescue(self, ctx: RequestContext, uuid: str, password: str | None = None,
               rescue_image_ref: str | None = None) -> str:
        password = password or generate_password()
        if rescue_image_ref:
            self._resolve_image(ctx, rescue_image_ref)
        self._simple(ctx, uuid, "rescue", "rescue_instance", "rescue", rescue_password=password,
                     rescue_image_ref=rescue_image_ref)
        return password

    def unrescue(self, ctx: RequestContext, uuid: str) -> None:
        self._simple(ctx, uuid, "unrescue", "unrescue_instance", "unrescue")

    def change_password(self, ctx: RequestContext, uuid: str, password: str) -> None:
        self._simple(ctx, uuid, "changePassword", "set_admin_password", "changePassword", password=password)

    def lock(self, ctx: RequestContext, uuid: str, reason: str | None = None) -> None:
        inst = self._instance_for(ctx, uuid)
        objects.start_action(ctx, uuid, "lock")
        objects.update_instance(inst["uuid"], {"locked": True, "locked_by": "admin" if ctx.is_admin else "owner",
                                               "locked_reason": reason})
        objects.finish_action(ctx, uuid)

    def unlock(self, ctx: RequestContext, uuid: str) -> None:
        inst = self._instance_for(ctx, uuid)
        if inst["locked"] and inst["locked_by"] == "admin" and not ctx.is_admin:
            raise exception.Forbidden("The server was locked by an administrator; only one may unlock it.")
        objects.start_action(ctx, uuid, "unlock")
        objects.update_instance(uuid, {"locked": False, "locked_by": None, "locked_reason": None})
        objects.finish_action(ctx, uuid)

    def rebuild(self, ctx: RequestContext, uuid: str, image_ref: str, *, admin_password: str | None = None,
                name: str | None = None, metadata: dict[str, str] | None = None, description: Any = ...,
                key_name: Any = ..., user_data: Any = ...) -> tuple[dict[str, Any], str]:
        image = self._resolve_image(ctx, image_ref)
        inst = self._instance_for(ctx, uuid)
        if int(image.get("min_ram") or 0) > inst["flavor"].get("ram", 0):
            raise exception.Invalid(reason="Flavor's memory is too small for requested image.")
        extra: dict[str, Any] = {"image_ref": image.get("id") or image_ref}
        if name:
            extra["display_name"] = name
        if metadata is not None:
            extra["metadata"] = metadata
        if description is not ...:
            extra["display_description"] = description
        if key_name is not ...:
            extra["key_name"] = key_name
            extra["key_data"] = self.get_keypair(ctx, key_name)["public_key"] if key_name else None
        if user_data is not ...:
            extra["user_data"] = user_data
        password = admin_password or generate_password()
        inst = self._begin(ctx, uuid, "rebuild", extra=extra)
        self.rpc.cast(ctx, "rebuild_instance", server=inst["host"], instance_uuid=uuid,
                      image_ref=extra["image_ref"], admin_password=password)
        return self.get_server(ctx, uuid), password

    def resize(self, ctx: RequestContext, uuid: str, flavor_id: str) -> None:
        inst = self._instance_for(ctx, uuid)
        try:
            new = self.get_flavor(ctx, flavor_id)
        except exception.NotFound:
            raise exception.Invalid(reason=f"Flavor {flavor_id} could not be found.") from None
        old = inst["flavor"]
        if str(new["id"]) == str(old.get("id")):
            raise exception.Invalid(reason="When resizing, instances must change flavor!")
        if new["disk"] < old.get("disk", 0) and new["disk"] != 0:
            raise exception.Invalid(reason="Resizing to a smaller disk is not supported.")
        snapshot = {k: new[k] for k in ("id", "name", "vcpus", "ram", "disk", "ephemeral", "swap", "extra_specs",
                                        "description")}
        snapshot["original_name"] = new["name"]
        delta = {"cores": new["vcpus"] - old.get("vcpus", 0), "ram": new["ram"] - old.get("ram", 0)}
        quota.reserve(inst["project_id"], {k: v for k, v in delta.items() if v > 0})
        try:
            inst = self._begin(ctx, uuid, "resize", extra={"new_flavor": snapshot})
        except Exception:
            quota.release(inst["project_id"], {k: v for k, v in delta.items() if v > 0})
            raise
        quota.release(inst["project_id"], {k: -v for k, v in delta.items() if v < 0})
        source = inst["host"]
        req = RequestSpec(project_id=inst["project_id"], flavor=snapshot, num_instances=1,
                          availability_zone=inst["requested_availability_zone"],
                          ignore_hosts=[source] if not CONF.compute.allow_resize_to_same_host else [],
                          instance_uuids=[uuid])
        try:
            hosts = self._select(ctx, RequestSpec(**{**req.__dict__, "ignore_hosts": [source]}))
        except NoValidHost:
            hosts = []
        if not hosts and CONF.compute.allow_resize_to_same_host:
            try:
                hosts = self._select(ctx, req)
            except NoValidHost:
                hosts = []
        if not hosts:
            quota.release(inst["project_id"], {k: v for k, v in delta.items() if v > 0})
            quota.reserve(inst["project_id"], {k: -v for k, v in delta.items() if v < 0})
            objects.update_instance(uuid, {"task_state": None, "new_flavor": None})
            objects.finish_action(ctx, uuid, "Error")
            raise exception.Invalid(reason="No valid host was found for the resize.")
        self.rpc.cast(ctx, "prep_resize", server=hosts[0].host, instance_uuid=uuid, new_flavor=snapshot,
                      source_host=source)

    def confirm_resize(self, ctx: RequestContext, uuid: str) -> None:
        inst = self._begin(ctx, uuid, "confirmResize", record="confirmResize")
        source = (inst.get("resize") or {}).get("source_host") or inst["host"]
        self.rpc.cast(ctx, "confirm_resize", server=source, instance_uuid=uuid)

    def revert_resize(self, ctx: RequestContext, uuid: str) -> None:
        inst = self._begin(ctx, uuid, "revertResize", record="revertResize")
        old, new = inst.get("old_flavor") or inst["flavor"], inst["flavor"]
        delta = {"cores": new.get("vcpus", 0) - old.get("vcpus", 0), "ram": new.get("ram", 0) - old.get("ram", 0)}
        quota.release(inst["project_id"], delta)
        self.rpc.cast(ctx, "revert_resize", server=inst["host"], instance_uuid=uuid)

    def create_image(self, ctx: RequestContext, uuid: str, name: str,
                     metadata: dict[str, str] | None = None) -> str:
        image_svc = optional(self.hub, "image")
        if image_svc is None:
            raise exception.Conflict("Snapshots need the image service, which this cloud does not run.")
        inst = self._instance_for(ctx, uuid)
        base: dict[str, Any] = {}
        try:
            base = dict(image_svc.get(ctx, inst["image_ref"])) if inst["image_ref"] else {}
        except exception.NotFound:
            base = {}
        props = {k: str(v) for k, v in (metadata or {}).items()}
        props.update({"instance_uuid": uuid, "image_type": "snapshot", "base_image_ref": inst["image_ref"] or "",
                      "owner_project_name": ctx.project_name or "", "user_id": ctx.user_id or ""})
        self._begin(ctx, uuid, "createImage")
        try:
            image = image_svc.create(ctx, {"name": name, "disk_format": base.get("disk_format") or "raw",
                                           "container_format": base.get("container_format") or "bare",
                                           "visibility": "private", **props})
        except Exception:
            objects.update_instance(uuid, {"task_state": None})
            raise
        self.rpc.cast(ctx, "snapshot_instance", server=inst["host"], instance_uuid=uuid, image_id=image["id"])
        return image["id"]

    def console_output(self, ctx: RequestContext, uuid: str, length: int | None = None) -> str:
        inst = self._instance_for(ctx, uuid)
        self._require_running_host(inst, "console_output")
        return self.rpc.call(ctx, "get_console_output", server=inst["host"], instance_uuid=uuid, length=length)

    def remote_console(self, ctx: RequestContext, uuid: str, console_type: str) -> dict[str, Any]:
        inst = self._instance_for(ctx, uuid)
        self._require_running_host(inst, "remote_console")
        return self.rpc.call(ctx, "get_remote_console", server=inst["host"], instance_uuid=uuid,
                             console_type=console_type)

    def _require_running_host(self, inst: dict[str, Any], capability: str) -> None:
        if not inst["host"] or inst["vm_state"] == st.BUILDING:
            raise exception.Conflict(f"Instance {inst['uuid']} is not ready (vm_state {inst['vm_state']}).")
        caps = self._capabilities(inst["host"])
        if caps is not None and capability not in caps:
            raise exception.Conflict(f"The hypervisor of host {inst['host']} does not support {capability}.")
        if inst["host"] in self._down_hosts():
            raise exception.Conflict(f"Host {inst['host']} of instance {inst['uuid']} is down.")

    # -- metadata and tags -------------------------------------------------------------
    def get_metadata(self, ctx: RequestContext, uuid: str) -> dict[str, str]:
        return self._instance_for(ctx, uuid)["metadata"]

    def update_metadata(self, ctx: RequestContext, uuid: str, metadata: dict[str, str],
                        replace: bool = False) -> dict[str, str]:
        inst = self._instance_for(ctx, uuid)
        self._check_locked(ctx, inst)
        if inst["task_state"] == st.DELETING:
            raise exception.Conflict(f"Instance {uuid} is being deleted.")
        new = dict(metadata) if replace else {**inst["metadata"], **metadata}
        limit = quota.get_limits(inst["project_id"])["metadata_items"]
        if limit >= 0 and len(new) > limit:
            raise exception.QuotaExceeded(f"Quota exceeded for metadata_items: maximum is {limit}.")
        objects.update_instance(uuid, {"metadata": new})
        return new

    def delete_metadata(self, ctx: RequestContext, uuid: str, key: str) -> None:
        inst = self._instance_for(ctx, uuid)
        self._check_locked(ctx, inst)
        if key not in inst["metadata"]:
            raise exception.NotFound(f"Metadata item was not found: {key}")
        md = dict(inst["metadata"])
        md.pop(key)
        objects.update_instance(uuid, {"metadata": md})

    def get_tags(self, ctx: RequestContext, uuid: str) -> list[str]:
        return self._instance_for(ctx, uuid)["tags"]

    def set_tags(self, ctx: RequestContext, uuid: str, tags: list[str]) -> list[str]:
        inst = self._instance_for(ctx, uuid)
        if len(set(tags)) > 50:
            raise exception.Invalid(reason="The number of tags exceeded the per-server limit 50")
        self._tag_state(inst)
        with db.transaction() as s:
            s.execute(sa.delete(InstanceTag).where(InstanceTag.instance_uuid == uuid))
            for t in sorted(set(tags)):
                s.add(InstanceTag(instance_uuid=uuid, tag=t))
        return sorted(set(tags))

    def add_tag(self, ctx: RequestContext, uuid: str, tag: str) -> bool:
        inst = self._instance_for(ctx, uuid)
        self._tag_state(inst)
        if tag in inst["tags"]:
            return False
        if len(inst["tags"]) >= 50:
            raise exception.Invalid(reason="The number of tags exceeded the per-server limit 50")
        with db.transaction() as s:
            if s.get(InstanceTag, (uuid, tag)) is None:
                s.add(InstanceTag(instance_uuid=uuid, tag=tag))
        return True

    def delete_tag(self, ctx: RequestContext, uuid: str, tag: str) -> None:
        inst = self._instance_for(ctx, uuid)
        self._tag_state(inst)
        with db.transaction() as s:
            if not db.rowcount(s, sa.delete(InstanceTag).where(InstanceTag.instance_uuid == uuid,
                                                               InstanceTag.tag == tag)):
                raise exception.NotFound(f"Tag {tag} could not be found for server {uuid}.")

    def delete_tags(self, ctx: RequestContext, uuid: str) -> None:
        inst = self._instance_for(ctx, uuid)
        self._tag_state(inst)
        with db.transaction() as s:
            s.execute(sa.delete(InstanceTag).where(InstanceTag.instance_uuid == uuid))

    @staticmethod
    def _tag_state(inst: dict[str, Any]) -> None:
        if inst["vm_state"] not in (st.ACTIVE, st.PAUSED, st.SUSPENDED, st.STOPPED, st.BUILDING, st.RESCUED,
                                    st.RESIZED, st.ERROR) or inst["task_state"] == st.DELETING:
            raise exception.Conflict(f"Cannot change tags of instance {inst['uuid']} in vm_state {inst['vm_state']}")

    # -- actions / events / security groups -------------------------------------------
    def list_instance_actions(self, ctx: RequestContext, uuid: str) -> list[dict[str, Any]]:
        objects.get_instance(uuid, project_id=None if ctx.is_admin else ctx.project_id, read_deleted=True)
        return objects.list_actions(uuid)

    def get_instance_action(self, ctx: RequestContext, uuid: str, request_id: str) -> dict[str, Any]:
        objects.get_instance(uuid, project_id=None if ctx.is_admin else ctx.project_id, read_deleted=True)
        return objects.get_action(uuid, request_id)

    def security_groups(self, ctx: RequestContext, uuid: str) -> list[dict[str, Any]]:
        inst = self._instance_for(ctx, uuid)
        net = self._network()
        if net is None:
            return [{"name": n} for n in inst["security_groups"]]
        return list(net.list_instance_security_groups(ctx, uuid))

    def add_security_group(self, ctx: RequestContext, uuid: str, group: str) -> None:
        self._instance_for(ctx, uuid)
        net = self._network()
        if net is None:
            raise exception.Conflict("Security groups need the network service, which this cloud does not run.")
        net.add_security_group_to_instance(ctx, uuid, group)

    def remove_security_group(self, ctx: RequestContext, uuid: str, group: str) -> None:
        self._instance_for(ctx, uuid)
        net = self._network()
        if net is None:
            raise exception.Conflict("Security groups need the network service, which this cloud does not run.")
        net.remove_security_group_from_instance(ctx, uuid, group)

    # ======================================================================
    # hosts: host states, hypervisors, services, aggregates, zones
    # ======================================================================
    def host_states(self) -> list[HostState]:
        """Every compute host for the scheduler, cached for ``[compute] host_state_cache_seconds``.

        The same objects are returned until the next refresh, so consumption by
        the scheduler between refreshes is remembered (Nova's HostManager does the same).
        """
        now = time.monotonic()
        with self._hs_lock:
            if self._hs_cache is not None and now - self._hs_time < CONF.compute.host_state_cache_seconds:
                return self._hs_cache
        states = self._load_host_states()
        with self._hs_lock:
            self._hs_cache, self._hs_time = states, time.monotonic()
        return states

    def invalidate_host_states(self) -> None:
        with self._hs_lock:
            self._hs_cache = None

    def _load_host_states(self) -> list[HostState]:
        with db.reader() as s:
            nodes = s.scalars(sa.select(ComputeNode)).all()
            services = {r.host: r for r in s.scalars(sa.select(ServiceRow).where(ServiceRow.binary == BINARY))}
            used: dict[str, list[int]] = {}
            members: dict[str, set[str]] = {}
            for r in s.execute(sa.select(Instance.uuid, Instance.host, Instance.vcpus, Instance.memory_mb,
                                         Instance.root_gb, Instance.ephemeral_gb)
                               .where(Instance.deleted.is_(False), Instance.host.is_not(None))):
                u = used.setdefault(r.host, [0, 0, 0])
                u[0] += r.vcpus
                u[1] += r.memory_mb
                u[2] += r.root_gb + r.ephemeral_gb
                members.setdefault(r.host, set()).add(r.uuid)
            aggs = {a.id: a for a in s.scalars(sa.select(Aggregate))}
            meta: dict[int, dict[str, str]] = {}
            for m in s.scalars(sa.select(AggregateMetadata)):
                meta.setdefault(m.aggregate_id, {})[m.key] = m.value
            host_aggs: dict[str, list[dict[str, Any]]] = {}
            for ah in s.scalars(sa.select(AggregateHost)):
                a = aggs.get(ah.aggregate_id)
                if a is not None:
                    host_aggs.setdefault(ah.host, []).append({"id": a.id, "name": a.name,
                                                              "metadata": meta.get(a.id, {})})
            now = utcnow()
            out = []
            for n in nodes:
                svc = services.get(n.host)
                az = CONF.compute.default_availability_zone
                for agg in host_aggs.get(n.host, []):
                    az = agg["metadata"].get("availability_zone", az)
                u = used.get(n.host, [0, 0, 0])
                caps = objects.loads(n.capabilities_json, {})
                if isinstance(caps, list):
                    caps = {"driver": caps}
                out.append(HostState(
                    host=n.host, hypervisor_type=n.hypervisor_type, availability_zone=az, vcpus=n.vcpus,
                    vcpus_used=u[0], memory_mb=n.memory_mb, memory_mb_used=u[1], local_gb=n.local_gb,
                    local_gb_used=u[2], cpu_allocation_ratio=CONF.compute.cpu_allocation_ratio,
                    ram_allocation_ratio=CONF.compute.ram_allocation_ratio,
                    disk_allocation_ratio=CONF.compute.disk_allocation_ratio,
                    enabled=svc is not None and not svc.disabled,
                    up=svc is not None and service_mod.is_up(svc, now),
                    aggregates=host_aggs.get(n.host, []), instances=members.get(n.host, set()),
                    capabilities=caps))
        return out

    def _node_dict(self, n: ComputeNode, svc: ServiceRow | None) -> dict[str, Any]:
        return {"id": n.uuid, "hypervisor_hostname": n.hypervisor_hostname, "host": n.host,
                "hypervisor_type": n.hypervisor_type, "hypervisor_version": n.hypervisor_version,
                "host_ip": n.host_ip, "vcpus": n.vcpus, "memory_mb": n.memory_mb, "local_gb": n.local_gb,
                "vcpus_used": n.vcpus_used, "memory_mb_used": n.memory_mb_used, "local_gb_used": n.local_gb_used,
                "running_vms": n.running_vms, "cpu_info": n.cpu_info,
                "state": "up" if svc and service_mod.is_up(svc) else "down",
                "status": "disabled" if svc is None or svc.disabled else "enabled",
                "service": {"host": n.host, "id": svc.uuid if svc else None,
                            "disabled_reason": svc.disabled_reason if svc else None},
                "uptime": None}

    def list_hypervisors(self, ctx: RequestContext, pattern: str | None = None) -> list[dict[str, Any]]:
        with db.reader() as s:
            q = sa.select(ComputeNode).order_by(ComputeNode.id)
            if pattern:
                q = q.where(ComputeNode.hypervisor_hostname.like(f"%{pattern}%"))
            services = {r.host: r for r in s.scalars(sa.select(ServiceRow).where(ServiceRow.binary == BINARY))}
            return [self._node_dict(n, services.get(n.host)) for n in s.scalars(q)]

    def get_hypervisor(self, ctx: RequestContext, hypervisor_id: str) -> dict[str, Any]:
        with db.reader() as s:
            col = ComputeNode.id if str(hypervisor_id).isdigit() else ComputeNode.uuid
            value = int(hypervisor_id) if str(hypervisor_id).isdigit() else hypervisor_id
            n = s.scalar(sa.select(ComputeNode).where(col == value))
            if n is None:
                raise exception.NotFound(f"Hypervisor {hypervisor_id} could not be found.")
            svc = s.scalar(sa.select(ServiceRow).where(ServiceRow.binary == BINARY, ServiceRow.host == n.host))
            return self._node_dict(n, svc)

    def hypervisor_servers(self, ctx: RequestContext, host: str) -> list[dict[str, str]]:
        with db.transaction() as s:
            return [{"uuid": u, "name": "instance-" + u} for u in s.scalars(
                sa.select(Instance.uuid).where(Instance.host == host, Instance.deleted.is_(False)))]

    def list_services(self, ctx: RequestContext, host: str | None = None,
                      binary: str | None = None) -> list[dict[str, Any]]:
        rows = service_mod.list_services(binary, host)
        zones = self._host_zones()
        for r in rows:
            if r["binary"] == BINARY:
                r["availability_zone"] = zones.get(r["host"], CONF.compute.default_availability_zone)
            else:
                r["availability_zone"] = "internal"
        return rows

    def set_service(self, ctx: RequestContext, service_id: str | None = None, *, host: str | None = None,
                    binary: str | None = None, disabled: bool | None = None, reason: str | None = None,
                    forced_down: bool | None = None) -> dict[str, Any]:
        with db.transaction() as s:
            q = sa.select(ServiceRow)
            if service_id is not None:
                q = q.where(ServiceRow.uuid == service_id) if not str(service_id).isdigit() \
                    else q.where(ServiceRow.id == int(service_id))
            else:
                q = q.where(ServiceRow.host == host, ServiceRow.binary == binary)
            row = s.scalar(q)
            if row is None:
                raise exception.NotFound(f"Service {service_id or f'{binary} on {host}'} could not be found.")
            if disabled is not None:
                row.disabled = disabled
                row.disabled_reason = reason if disabled else None
            if forced_down is not None:
                row.forced_down = forced_down
            row.updated_at = utcnow()
            s.flush()
            out = {**row.to_dict(), "state": "up" if service_mod.is_up(row) else "down",
                   "status": "disabled" if row.disabled else "enabled"}
        self.invalidate_host_states()
        return out

    def delete_service(self, ctx: RequestContext, service_id: str) -> None:
        with db.transaction() as s:
            q = sa.select(ServiceRow).where(ServiceRow.uuid == service_id) if not str(service_id).isdigit() \
                else sa.select(ServiceRow).where(ServiceRow.id == int(service_id))
            row = s.scalar(q)
            if row is None:
                raise exception.NotFound(f"Service {service_id} could not be found.")
            if row.binary == BINARY and s.scalar(sa.select(sa.func.count()).select_from(Instance).where(
                    Instance.host == row.host, Instance.deleted.is_(False))):
                raise exception.Conflict(f"Unable to delete compute service that is hosting instances ({row.host}).")
            if row.binary == BINARY:
                s.execute(sa.delete(ComputeNode).where(ComputeNode.host == row.host))
            s.delete(row)
        self.invalidate_host_states()

    def _host_zones(self) -> dict[str, str]:
        zones: dict[str, str] = {}
        with db.reader() as s:
            rows = s.execute(sa.select(AggregateHost.host, AggregateMetadata.value).join(
                AggregateMetadata, AggregateMetadata.aggregate_id == AggregateHost.aggregate_id)
                .where(AggregateMetadata.key == "availability_zone")).all()
        for r in rows:
            zones[r.host] = r.value
        return zones

    def availability_zones(self, ctx: RequestContext, detail: bool = False) -> list[dict[str, Any]]:
        zones: dict[str, dict[str, Any]] = {}
        host_zone = self._host_zones()
        for svc in service_mod.list_services():
            if svc["binary"] == BINARY:
                zone = host_zone.get(svc["host"], CONF.compute.default_availability_zone)
            elif detail:
                zone = "internal"
            else:
                continue
            z = zones.setdefault(zone, {"zoneName": zone, "zoneState": {"available": False}, "hosts": {}})
            if svc["status"] == "enabled" and svc["state"] == "up":
                z["zoneState"]["available"] = True
            z["hosts"].setdefault(svc["host"], {})[svc["binary"]] = {
                "available": svc["state"] == "up", "active": svc["status"] == "enabled",
                "updated_at": svc["last_seen_up"]}
        out = list(zones.values())
        if not detail:
            for z in out:
                z["hosts"] = None
        return sorted(out, key=lambda z: z["zoneName"])

    # -- aggregates ------------------------------------------------------------------
    def _agg_dict(self, s: Any, a: Aggregate) -> dict[str, Any]:
        meta = {m.key: m.value for m in s.scalars(sa.select(AggregateMetadata)
                                                  .where(AggregateMetadata.aggregate_id == a.id))}
        hosts = list(s.scalars(sa.select(AggregateHost.host).where(AggregateHost.aggregate_id == a.id)))
        return {"id": a.id, "uuid": a.uuid, "name": a.name, "availability_zone": meta.get("availability_zone"),
                "metadata": meta, "hosts": hosts, "created_at": a.created_at, "updated_at": a.updated_at,
                "deleted": False, "deleted_at": None}

    def _agg_row(self, s: Any, agg_id: str | int) -> Aggregate:
        a = s.scalar(sa.select(Aggregate).where(Aggregate.id == int(agg_id))) if str(agg_id).isdigit() else \
            s.scalar(sa.select(Aggregate).where(Aggregate.uuid == str(agg_id)))
        if a is None:
            raise exception.NotFound(f"Aggregate {agg_id} could not be found.")
        return a

    def list_aggregates(self, ctx: RequestContext) -> list[dict[str, Any]]:
        with db.transaction() as s:
            return [self._agg_dict(s, a) for a in s.scalars(sa.select(Aggregate).order_by(Aggregate.id))]

    def get_aggregate(self, ctx: RequestContext, agg_id: str | int) -> dict[str, Any]:
        with db.transaction() as s:
            return self._agg_dict(s, self._agg_row(s, agg_id))

    def create_aggregate(self, ctx: RequestContext, name: str, availability_zone: str | None = None) -> dict[str, Any]:
        try:
            with db.transaction() as s:
                if s.scalar(sa.select(Aggregate.id).where(Aggregate.name == name)):
                    raise exception.Conflict(f"Aggregate {name} already exists.")
                a = Aggregate(uuid=new_id(), name=name)
                s.add(a)
                s.flush()
                if availability_zone:
                    s.add(AggregateMetadata(aggregate_id=a.id, key="availability_zone", value=availability_zone))
                s.flush()
                out = self._agg_dict(s, a)
        except sa.exc.IntegrityError:
            raise exception.Conflict(f"Aggregate {name} already exists.") from None
        self.invalidate_host_states()
        return out

    def update_aggregate(self, ctx: RequestContext, agg_id: str | int, name: str | None = None,
                         availability_zone: str | None = None) -> dict[str, Any]:
        meta: dict[str, str | None] = {"availability_zone": availability_zone} if availability_zone is not None else {}
        with db.transaction() as s:
            a = self._agg_row(s, agg_id)
            if name:
                a.name = name
                a.updated_at = utcnow()
        if meta:
            self.set_aggregate_metadata(ctx, agg_id, meta)
        return self.get_aggregate(ctx, agg_id)

    def delete_aggregate(self, ctx: RequestContext, agg_id: str | int) -> None:
        with db.transaction() as s:
            a = self._agg_row(s, agg_id)
            if s.scalar(sa.select(AggregateHost.host).where(AggregateHost.aggregate_id == a.id).limit(1)):
                raise exception.Invalid(reason=f"Aggregate {agg_id} still has hosts; remove them first.")
            s.execute(sa.delete(AggregateMetadata).where(AggregateMetadata.aggregate_id == a.id))
            s.delete(a)
        self.invalidate_host_states()

    def aggregate_add_host(self, ctx: RequestContext, agg_id: str | int, host: str) -> dict[str, Any]:
        if not service_mod.list_services(BINARY, host):
            raise exception.NotFound(f"Compute host {host} could not be found.")
        with db.transaction() as s:
            a = self._agg_row(s, agg_id)
            if s.get(AggregateHost, (a.id, host)):
                raise exception.Conflict(f"Aggregate {agg_id} already has host {host}.")
            s.add(AggregateHost(aggregate_id=a.id, host=host))
        self.invalidate_host_states()
        return self.get_aggregate(ctx, agg_id)

    def aggregate_remove_host(self, ctx: RequestContext, agg_id: str | int, host: str) -> dict[str, Any]:
        with db.transaction() as s:
            a = self._agg_row(s, agg_id)
            row = s.get(AggregateHost, (a.id, host))
            if row is None:
                raise exception.NotFound(f"Cannot remove host {host} from aggregate {agg_id}: host not found.")
            s.delete(row)
        self.invalidate_host_states()
        return self.get_aggregate(ctx, agg_id)

    def set_aggregate_metadata(self, ctx: RequestContext, agg_id: str | int,
                               metadata: dict[str, str | None]) -> dict[str, Any]:
        with db.transaction() as s:
            a = self._agg_row(s, agg_id)
            for k, v in metadata.items():
                row = s.get(AggregateMetadata, (a.id, k))
                if v is None:
                    if row is not None:
                        s.delete(row)
                elif row is None:
                    s.add(AggregateMetadata(aggregate_id=a.id, key=k, value=str(v)))
                else:
                    row.value = str(v)
        self.invalidate_host_states()
        return self.get_aggregate(ctx, agg_id)

    # ======================================================================
    # metadata service lookups
    # ======================================================================
    def instance_for_metadata(self, instance_uuid: str | None = None, remote_address: str | None = None,
                              network_id: str | None = None) -> dict[str, Any]:
        """The instance a metadata request comes from, decorated (ports, fault...).

        ``instance_uuid`` is taken as is: the caller has authenticated it (a signed proxy
        header, :mod:`cumulo.utils.metadata_proxy`). Otherwise ``remote_address`` (the
        request's source address) is looked up through the network service: the server whose
        port owns that fixed IP (on ``network_id`` when given). NotFound when nothing matches.
        """
        if not instance_uuid and remote_address:
            instance_uuid = self.instance_by_address(remote_address, network_id)
        if not instance_uuid:
            raise exception.NotFound("The metadata service cannot tell which instance is asking.")
        try:
            inst = objects.get_instance(instance_uuid)
        except exception.NotFound:
            raise exception.NotFound("The metadata service cannot tell which instance is asking.") from None
        return self._decorate([inst])[0]

    def instance_by_address(self, address: str, network_id: str | None = None) -> str | None:
        """The uuid of the server holding fixed IP ``address`` (network service lookup), or None."""
        net = self._network()
        if net is None or not hasattr(net, "instance_by_address"):
            return None
        return net.instance_by_address(RequestContext(roles=["admin"], is_admin=True), address, network_id)

    # ======================================================================
    # housekeeping
    # ======================================================================
    def reconcile_builds(self) -> int:
        """At start-up: settle the unplaced servers a previous run of this process left in a task state.

        An unplaced build (``scheduling``, no host) recorded as scheduled by this process
        (``scheduled_by`` = :attr:`owner`) and older than this object cannot be in anyone's hands
        now: this process is the one that was scheduling it and it just started. It goes to ERROR
        with a fault saying so (its admin password was never stored, so it cannot be built again
        as requested). Builds with no owner recorded are settled once they are older than
        ``[service] service_down_time``. An unplaced ``deleting`` server is deleted. Returns how
        many servers were settled. Safe to call more than once.
        """
        import datetime

        with db.transaction() as s:
            rows = s.execute(sa.select(Instance.uuid, Instance.vm_state, Instance.task_state,
                                       Instance.task_updated_at, Instance.system_metadata_json)
                             .where(Instance.deleted.is_(False), Instance.host.is_(None),
                                    Instance.task_state.is_not(None))).all()
        if not rows:
            return 0
        admin = RequestContext(roles=["admin"], is_admin=True)
        stale = utcnow() - datetime.timedelta(seconds=CONF.service.service_down_time)
        settled = 0
        for r in rows:
            started = r.task_updated_at or self._started
            if started >= self._started:
                continue  # this run's own work
            try:
                if r.task_state == st.DELETING:
                    self._local_delete(admin, objects.get_instance(r.uuid))
                    settled += 1
                    continue
                if r.vm_state != st.BUILDING or r.task_state not in BUILD_TASK_STATES:
                    continue
                owner = (objects.loads(r.system_metadata_json, {}) or {}).get(SCHEDULED_BY)
                if owner != self.owner and not (owner is None and started < stale):
                    continue  # another process's (the task-state sweeper watches it)
                message = ("The build was interrupted by a restart of the scheduler before a compute host "
                           "was chosen; delete the server and create it again.")
                objects.add_fault(r.uuid, message, 500, f"{message} Scheduler: {owner or 'unknown'}.", owner)
                objects.update_instance(r.uuid, {"vm_state": st.ERROR, "task_state": None},
                                        expected_task_state=r.task_state, expected_vm_state=st.BUILDING)
                objects.finish_action(admin, r.uuid, "Error")
                settled += 1
            except exception.CumuloError as err:
                LOG.info("Instance %s changed while it was reconciled: %s", r.uuid, err)
        if settled:
            LOG.info("Reconciled %d unplaced server(s) left by a previous run", settled)
        return settled

    def sweep_task_states(self) -> int:
        """ERROR every instance stuck in a task state longer than ``[compute] task_state_timeout``.

        Builds on a host that is down are failed sooner (after ``service_down_time``).
        Returns how many instances were failed.
        """
        now = utcnow()
        import datetime

        limit = now - datetime.timedelta(seconds=CONF.compute.task_state_timeout)
        with db.transaction() as s:
            rows = s.execute(sa.select(Instance.uuid, Instance.host, Instance.task_state, Instance.task_updated_at,
                                       Instance.vm_state, Instance.project_id, Instance.flavor_json)
                             .where(Instance.deleted.is_(False), Instance.task_state.is_not(None))).all()
        down = self._down_hosts() if rows else set()
        failed = 0
        for r in rows:
            started = r.task_updated_at or now
            if started > limit and not (r.host in down and (now - started).total_seconds() >
                                        CONF.service.service_down_time):
                continue
            why = f"host {r.host} is down" if r.host in down else "no reply (message lost or host stalled)"
            if r.task_state == st.DELETING and (not r.host or r.host in down):
                inst = objects.get_instance(r.uuid)
                self.finish_delete(RequestContext(roles=["admin"], is_admin=True), inst)
                failed += 1
                continue
            message = (f"Timed out after {CONF.compute.task_state_timeout}s in task_state {r.task_state}: {why}.")
            objects.add_fault(r.uuid, message, 500, message, r.host)
            try:
                values: dict[str, Any] = {"task_state": None}
                if r.vm_state == st.BUILDING or r.task_state not in (st.IMAGE_SNAPSHOT,):
                    values["vm_state"] = st.ERROR
                objects.update_instance(r.uuid, values, expected_task_state=r.task_state)
                failed += 1
            except exception.CumuloError:
                pass
        return failed


def image_props(image: dict[str, Any]) -> dict[str, Any]:
    return {k: image.get(k) for k in ("id", "name", "min_ram", "min_disk", "disk_format", "container_format",
                                      "properties") if k in image}


def _is_regex(text: str) -> bool:
    return any(c in text for c in "^$*+?[](){}|\\.")
