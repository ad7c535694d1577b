"""One host's resources: the claims its instances hold (:class:`ResourceTracker`) and the report of
totals and usage written to ``compute_nodes`` for the scheduler (:class:`ResourceReporter`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

import cumulo_service_compute.virt as virt
from cumulo import db
from cumulo.conf import CONF
from cumulo.db.models.base import new_id, utcnow
from cumulo.interfaces.hypervisor import HypervisorError
from cumulo_service_compute.models import ComputeNode, Instance

LOG = logging.getLogger(__name__)


def host_resources(driver: Any, host: str) -> dict[str, Any]:
    """What the driver reports of ``host`` (:func:`.virt.resources`); all zero when the driver fails."""
    try:
        return virt.resources(driver.get_host_resources())
    except Exception:
        LOG.exception("Host %s: driver failed to report resources", host)
        return {"vcpus": 0, "memory_mb": 0, "local_gb": 0}


def _wanted(flavor: Mapping[str, Any]) -> dict[str, int]:
    return {"vcpus": int(flavor.get("vcpus", 0)), "memory_mb": int(flavor.get("ram", 0)),
            "local_gb": int(flavor.get("disk", 0)) + int(flavor.get("ephemeral", 0) or 0)}


class ResourceTracker:
    """What this host has promised to instances; a claim beyond capacity fails.

    Claims are keyed by instance uuid; a resize in flight holds a second claim
    under ``<uuid>:resize`` on its destination until it is confirmed or reverted.
    """

    def __init__(self, host: str, resources: dict[str, Any]) -> None:
        self.host = host
        self.total = resources
        self.claims: dict[str, dict[str, int]] = {}
        self.lock = threading.Lock()

    def load(self) -> None:
        """Rebuild the claims from the instances the database places on this host."""
        with db.transaction() as s:
            rows = s.execute(sa.select(Instance.uuid, Instance.vcpus, Instance.memory_mb, Instance.root_gb,
                                       Instance.ephemeral_gb)
                             .where(Instance.host == self.host, Instance.deleted.is_(False))).all()
        with self.lock:
            self.claims = {r.uuid: {"vcpus": r.vcpus, "memory_mb": r.memory_mb, "local_gb": r.root_gb + r.ephemeral_gb}
                           for r in rows}

    def used(self) -> dict[str, int]:
        with self.lock:
            return {k: sum(c[k] for c in self.claims.values()) for k in ("vcpus", "memory_mb", "local_gb")}

    def claim(self, key: str, flavor: dict[str, Any]) -> None:
        """Claim ``flavor``'s size under ``key`` (a second claim of the same key is a no-op).

        :raises HypervisorError: the host lacks room (after the ``[compute]`` allocation ratios).
        """
        want = _wanted(flavor)
        limits = {"vcpus": self.total.get("vcpus", 0) * CONF.compute.cpu_allocation_ratio,
                  "memory_mb": self.total.get("memory_mb", 0) * CONF.compute.ram_allocation_ratio,
                  "local_gb": self.total.get("local_gb", 0) * CONF.compute.disk_allocation_ratio}
        with self.lock:
            if key in self.claims:
                return
            for k, n in want.items():
                used = sum(c[k] for c in self.claims.values())
                if n and used + n > limits[k]:
                    raise HypervisorError(f"Insufficient {k} on host {self.host}: {used} used, {n} wanted, "
                                          f"{limits[k]:g} available")
            self.claims[key] = want

    def replace(self, key: str, flavor: Mapping[str, Any]) -> None:
        """Set the claim of ``key`` to ``flavor``'s size without a capacity check (a resize that landed)."""
        with self.lock:
            self.claims[key] = _wanted(flavor)

    def release(self, key: str) -> None:
        with self.lock:
            self.claims.pop(key, None)

    def running(self) -> int:
        """How many instances hold a claim here (resize claims not counted)."""
        with self.lock:
            return len([k for k in self.claims if ":" not in k])


class ResourceReporter:
    """Writes a host's totals (from its driver) and usage (from its tracker) to ``compute_nodes``."""

    def __init__(self, host: str, driver: Any, tracker: ResourceTracker) -> None:
        self.host, self.driver, self.tracker = host, driver, tracker

    def report_resources(self) -> None:
        """Write this host's totals and usage to compute_nodes."""
        res = host_resources(self.driver, self.host)
        self.tracker.total = res
        used = self.tracker.used()
        running = self.tracker.running()
        values = {
            "hypervisor_hostname": str(res.get("hypervisor_hostname") or self.host),
            "hypervisor_type": str(res.get("hypervisor_type") or "fake"),
            "hypervisor_version": int(res.get("hypervisor_version") or 0),
            "host_ip": res.get("host_ip") or "127.0.0.1",
            "vcpus": int(res.get("vcpus") or 0), "memory_mb": int(res.get("memory_mb") or 0),
            "local_gb": int(res.get("local_gb") or 0), "vcpus_used": used["vcpus"],
            "memory_mb_used": used["memory_mb"], "local_gb_used": used["local_gb"], "running_vms": running,
            "cpu_info": json.dumps(res.get("cpu_info")) if not isinstance(res.get("cpu_info"), str) else res["cpu_info"],
            "capabilities_json": json.dumps({
                "driver": sorted(getattr(self.driver, "capabilities", ()) or ()),
                "supported_instances": res.get("supported_instances") or [],
                "cpu_info": res.get("cpu_info") if isinstance(res.get("cpu_info"), dict) else {},
                "hypervisor_version": int(res.get("hypervisor_version") or 0)}, default=str),
        }

        @db.retry_on_deadlock
        def _write() -> None:
            with db.transaction() as s:
                row = s.scalar(sa.select(ComputeNode).where(ComputeNode.host == self.host))
                if row is None:
                    s.add(ComputeNode(uuid=new_id(), host=self.host, **values))
                else:
                    for k, v in values.items():
                        setattr(row, k, v)
                    row.updated_at = utcnow()

        try:
            _write()
        except sa.exc.IntegrityError:  # two processes made the row at once: the second write updates it
            _write()
