"""Compute hosts (``hub.compute`` host methods): host states for the scheduler, hypervisors, services, zones.

The host states are what the scheduler places on (:meth:`Hosts.host_states`, cached for
``[compute] host_state_cache_seconds``); the hypervisors are the ``compute_nodes`` rows the hosts
report; the services are the kernel's service records (``cumulo-compute`` and the others); the
availability zones come from the aggregates' ``availability_zone`` metadata.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import sqlalchemy as sa

import cumulo_service_compute.objects as objects
from cumulo import db, exception
from cumulo import service as service_mod
from cumulo.conf import CONF
from cumulo.context import RequestContext
from cumulo.db.models.base import utcnow
from cumulo.db.models.service import Service as ServiceRow
from cumulo.interfaces.scheduler import HostState
from cumulo_service_compute.common import BINARY
from cumulo_service_compute.models import Aggregate, AggregateHost, AggregateMetadata, ComputeNode, Instance


class Hosts:
    """The compute hosts as the scheduler and the admin APIs see them (reads the tables directly)."""

    def __init__(self) -> None:
        self._hs_lock = threading.Lock()
        self._hs_cache: list[HostState] | None = None
        self._hs_time = 0.0

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

    def down_hosts(self) -> set[str]:
        """The hosts whose service is not up (builds and deletes there are not waited for)."""
        return {h.host for h in self.host_states() if not h.up}

    def capabilities(self, host: str | None) -> set[str] | None:
        """What the hypervisor of ``host`` can do (None: not known, so not checked)."""
        if not host:
            return None
        for h in self.host_states():
            if h.host == host:
                caps = h.capabilities.get("driver")
                return set(caps) if caps is not None else None
        return None
