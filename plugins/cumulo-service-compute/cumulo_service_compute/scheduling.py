"""Scheduling builds: pick hosts for new servers and cast the builds to them.

It runs in the process that accepted the request (a small thread pool, ``[compute]
build_workers``), so a build needs no extra service: select hosts with ``hub.scheduler``
(without one: random hosts that are up and fit), record the host, cast
``build_and_run_instance`` to it. A host that fails a build hands it back through
:meth:`Scheduling.schedule_and_build` (``hub.compute.schedule_and_build``) with itself excluded.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import cumulo_service_compute.objects as objects
import cumulo_service_compute.states as st
from cumulo import exception
from cumulo.context import RequestContext
from cumulo.interfaces.scheduler import HostState, NoValidHost, RequestSpec
from cumulo_service_compute.common import Plumbing
from cumulo_service_compute.hosts import Hosts
from cumulo_service_compute.manager import optional, release_claims
from cumulo_service_compute.server_groups import ServerGroups

LOG = logging.getLogger(__name__)


class Scheduling:
    """Placement of new servers (``plumbing``: the pool and RPC; ``hosts``; ``server_groups``)."""

    def __init__(self, plumbing: Plumbing, hosts: Hosts, server_groups: ServerGroups) -> None:
        self.plumbing, self.hosts, self.server_groups = plumbing, hosts, server_groups

    def build_later(self, ctx: RequestContext, uuids: list[str], spec: dict[str, Any], admin_password: str | None,
                    networks: Any, security_groups: list[str]) -> None:
        """Schedule and build ``uuids`` on the pool; a failure puts them in ERROR with the reason."""
        self.plumbing.pool.submit(self._schedule_safely, ctx, uuids, spec, admin_password, networks,
                                  security_groups)

    def _schedule_safely(self, ctx: RequestContext, uuids: list[str], spec: dict[str, Any],
                         admin_password: str | None, networks: Any, security_groups: list[str]) -> None:
        try:
            self.schedule_and_build(ctx, uuids, spec, admin_password=admin_password, requested_networks=networks,
                                    security_groups=security_groups)
        except Exception as err:
            LOG.exception("Scheduling %s failed", uuids)
            for u in uuids:
                objects.set_error(u, f"Scheduling failed: {err}")

    def select(self, ctx: RequestContext, spec: RequestSpec) -> list[HostState]:
        """Hosts for ``spec`` from ``hub.scheduler``; raises NoValidHost when none fits."""
        scheduler = optional(self.plumbing.hub, "scheduler")
        if scheduler is not None:
            return list(scheduler.select_destinations(ctx, spec))
        # No scheduler service: place on random hosts that are up, enabled and fit.
        zone, _, forced = (spec.availability_zone or "").partition(":")
        forced = spec.requested_host or forced
        hosts = [h for h in self.hosts.host_states() if h.up and h.enabled and h.host not in spec.ignore_hosts
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
                g = self.server_groups.get_server_group(ctx.elevated(), spec["group_uuid"])
                members, member_hosts = self.server_groups.group_hosts(g["id"], set(uuids))
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
                hosts = self.select(ctx, req)
                if len(hosts) < len(uuids):
                    raise NoValidHost("No valid host was found. Fewer hosts than servers.")
        except NoValidHost as err:
            why = str(err) or "No valid host was found."
            if last_error:
                why = f"{why} Previous build attempt failed: {last_error}"
            details = why + (f" Hosts tried: {', '.join(ignore_hosts)}." if ignore_hosts else "")
            release_claims(self.plumbing.hub, ctx, uuids)
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
            self.plumbing.rpc.cast(ctx, "build_and_run_instance", server=host.host, instance_uuid=uuid,
                                   admin_password=admin_password, requested_networks=requested_networks,
                                   security_groups=security_groups, attempt=attempt,
                                   ignore_hosts=list(ignore_hosts or []), request_spec=spec)
