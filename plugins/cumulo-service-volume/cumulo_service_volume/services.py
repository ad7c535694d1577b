"""The block storage services, hosts, pools and backend capabilities administrators see and manage.

This node runs two of Cinder's services: ``cinder-scheduler`` on ``<node>`` and ``cinder-volume`` on
``<node>@<backend>`` (one pool, the backend itself: ``<node>@<backend>#<backend>``). An administrator
may disable a service (``os-services/disable``, ``disable-log-reason``) and freeze a backend
(``os-services/freeze``); the state is kept in ``volume_service_states``. A disabled or frozen
``cinder-volume`` takes no new volumes: they go to ``error`` as Cinder's scheduler leaves them when no
backend is valid. A host filter matches ``<host>`` and ``<host>@...`` as Cinder's does.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from cumulo import db, exception, policy
from cumulo.context import RequestContext
from cumulo_service_volume.backend import Backend
from cumulo_service_volume.common import as_text, iso, now
from cumulo_service_volume.models import ServiceState, Snapshot, Volume

SCHEDULER, VOLUME = "cinder-scheduler", "cinder-volume"


def host_matches(wanted: str, host: str) -> bool:
    """Cinder's host filter: ``node`` matches ``node``, ``node@backend`` and ``node@backend#pool``."""
    return host == wanted or host.startswith(wanted + "@") or host.startswith(wanted + "#")


def _state(s: orm.Session, binary: str, host: str) -> ServiceState | None:
    return s.execute(sa.select(ServiceState).where(ServiceState.binary == binary,
                                                   ServiceState.host == host)).scalar_one_or_none()


class Services:
    def __init__(self, conf: Any, backend: Backend) -> None:
        self.conf = conf
        self.backend = backend

    def _known(self) -> list[tuple[str, str]]:
        return [(SCHEDULER, self.backend.node), (VOLUME, self.backend.host)]

    def _up(self) -> bool:
        try:
            self.backend.driver.get_stats()
        except Exception:
            return False
        return True

    def index(self, ctx: RequestContext, binary: str | None = None, host: str | None = None) -> list[dict[str, Any]]:
        policy.authorize(ctx, "volume_extension:services:index")
        zone = self.conf.volume.storage_availability_zone
        up = self._up()
        out = []
        with db.reader() as s:
            for name, where in self._known():
                row = _state(s, name, where)
                out.append({"binary": name, "host": where, "zone": zone,
                            "status": "disabled" if row is not None and row.disabled else "enabled",
                            "state": "up" if up or name == SCHEDULER else "down", "updated_at": iso(now()),
                            "disabled_reason": row.disabled_reason if row is not None else None,
                            **({"frozen": bool(row is not None and row.frozen)} if name == VOLUME else {})})
        return [x for x in out if (binary is None or x["binary"] == binary)
                and (host is None or host_matches(host, x["host"]))]

    def _set(self, ctx: RequestContext, binary: Any, host: Any, disabled: bool,
             reason: str | None) -> dict[str, Any]:
        policy.authorize(ctx, "volume_extension:services:update")
        if not isinstance(host, str) or not host or not isinstance(binary, str) or not binary:
            raise exception.ValidationError(field="host", reason="host and binary are required")
        if (binary, host) not in self._known():
            raise exception.NotFound(f"Service {binary} on host {host} could not be found.")
        with db.transaction() as s:
            row = _state(s, binary, host)
            if row is None:
                row = ServiceState(binary=binary, host=host, disabled=False, frozen=False, created_at=now())
                s.add(row)
            row.disabled, row.disabled_reason, row.updated_at = disabled, reason, now()
        return {"disabled": disabled, "status": "disabled" if disabled else "enabled", "host": host,
                "service": binary, "binary": binary, "disabled_reason": reason}

    def enable(self, ctx: RequestContext, binary: Any, host: Any) -> dict[str, Any]:
        return self._set(ctx, binary, host, False, None)

    def disable(self, ctx: RequestContext, binary: Any, host: Any, reason: Any = None,
                reason_required: bool = False) -> dict[str, Any]:
        """Disable a service; with ``reason_required`` (disable-log-reason) a 1-255 character reason."""
        if reason_required and (not isinstance(reason, str) or not reason.strip()):
            raise exception.ValidationError(field="disabled_reason", reason="is required (1 to 255 characters)")
        text = as_text(reason, "disabled_reason")
        return self._set(ctx, binary, host, True, text)

    def freeze(self, ctx: RequestContext, host: Any, frozen: bool) -> None:
        """Freeze (or thaw) a backend: ``host`` is a ``cinder-volume`` host; any other is a 400 as in Cinder."""
        policy.authorize(ctx, "volume_extension:services:freeze" if frozen else "volume_extension:services:thaw")
        if not isinstance(host, str) or not any(b == VOLUME and host_matches(host, h) for b, h in self._known()):
            raise exception.Invalid(reason=f"Host {host!r} is not a volume backend host of this cloud.")
        with db.transaction() as s:
            row = _state(s, VOLUME, self.backend.host)
            if row is None:
                row = ServiceState(binary=VOLUME, host=self.backend.host, disabled=False, frozen=False,
                                   created_at=now())
                s.add(row)
            row.frozen, row.updated_at = frozen, now()

    # -- os-hosts, scheduler-stats, capabilities
    def hosts(self, ctx: RequestContext) -> list[dict[str, Any]]:
        policy.authorize(ctx, "volume_extension:hosts")
        return [{"service-status": "available" if x["state"] == "up" else "unavailable", "service": x["binary"],
                 "zone": x["zone"], "service-state": x["status"], "host_name": x["host"],
                 "last-update": x["updated_at"]} for x in self.index(ctx)]

    def host(self, ctx: RequestContext, host: str) -> list[dict[str, Any]]:
        """Cinder's ``os-hosts/{host}``: the volumes and snapshots on it, in total and per project."""
        policy.authorize(ctx, "volume_extension:hosts")
        if not any(host_matches(host, h) for _, h in self._known()):
            raise exception.NotFound(f"Host {host} could not be found.")
        per: dict[str, list[int]] = {}
        with db.reader() as s:
            for project, count, size in s.execute(
                    sa.select(Volume.project_id, sa.func.count(Volume.id), sa.func.coalesce(sa.func.sum(Volume.size), 0))
                    .where(Volume.deleted == sa.false(), Volume.host == self.backend.host)
                    .group_by(Volume.project_id)):
                per.setdefault(project, [0, 0, 0, 0])[0:2] = [int(count), int(size)]
            for project, count, size in s.execute(
                    sa.select(Snapshot.project_id, sa.func.count(Snapshot.id),
                              sa.func.coalesce(sa.func.sum(Snapshot.volume_size), 0))
                    .where(Snapshot.deleted == sa.false()).group_by(Snapshot.project_id)):
                per.setdefault(project, [0, 0, 0, 0])[2:4] = [int(count), int(size)]
        totals = [sum(v[i] for v in per.values()) for i in range(4)]

        def row(project: str, v: list[int]) -> dict[str, Any]:
            return {"resource": {"host": host, "project": project, "volume_count": str(v[0]),
                                 "total_volume_gb": str(v[1]), "snapshot_count": str(v[2]),
                                 "total_snapshot_gb": str(v[3])}}

        return [row("(total)", totals)] + [row(p, v) for p, v in sorted(per.items())]

    def pools(self, ctx: RequestContext, detail: bool = False) -> list[dict[str, Any]]:
        policy.authorize(ctx, "scheduler_extension:scheduler_stats:get_pools")
        stats = self.backend.driver.get_stats()
        name = f"{self.backend.host}#{stats.volume_backend_name}"
        if not detail:
            return [{"name": name}]

        def gib(value: float | None) -> float | str:
            if value is None:
                return "unknown"
            return "infinite" if value == float("inf") else round(value, 2)

        caps = {"updated": iso(now()), "timestamp": iso(now()), "QoS_support": False,
                "total_capacity_gb": gib(stats.total_gib), "free_capacity_gb": gib(stats.free_gib),
                "volume_backend_name": stats.volume_backend_name, "driver_version": stats.driver_version,
                "reserved_percentage": int(stats.reserved_percentage), "storage_protocol": _protocol(stats),
                "vendor_name": stats.vendor_name}
        return [{"name": name, "capabilities": caps}]

    def capabilities(self, ctx: RequestContext, host: str) -> dict[str, Any]:
        policy.authorize(ctx, "volume_extension:capabilities")
        if not host_matches(host.split("#", 1)[0], self.backend.host) and host != self.backend.host:
            raise exception.NotFound(f"Host {host} could not be found.")
        stats = self.backend.driver.get_stats()
        props = {key: {"title": key, "description": f"The backend's {key} capability.",
                       "type": "boolean" if isinstance(value, bool) else "string"}
                 for key, value in dict(stats.capabilities).items()}
        return {"namespace": f"OS::Storage::Capabilities::{self.backend.host}",
                "volume_backend_name": stats.volume_backend_name, "pool_name": stats.volume_backend_name,
                "driver_version": stats.driver_version, "vendor_name": stats.vendor_name,
                "storage_protocol": _protocol(stats), "visibility": None, "display_name": None,
                "description": None, "replication_targets": [], "properties": props}


def _protocol(stats: Any) -> str:
    return ",".join(stats.storage_protocols)
