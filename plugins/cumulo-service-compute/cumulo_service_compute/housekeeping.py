"""Housekeeping (``hub.compute.reconcile_builds`` and ``sweep_task_states``): servers nobody is working on.

At start-up the unplaced builds a previous run of this process left are settled; periodically,
a server stuck in a task state (a lost message, a host that stalled or went down) goes to ERROR
with a fault saying why.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

import cumulo_service_compute.objects as objects
import cumulo_service_compute.states as st
from cumulo import db, exception
from cumulo.conf import CONF
from cumulo.context import RequestContext
from cumulo.db.models.base import utcnow
from cumulo_service_compute.common import Plumbing
from cumulo_service_compute.hosts import Hosts
from cumulo_service_compute.manager import BUILD_TASK_STATES, SCHEDULED_BY
from cumulo_service_compute.models import Instance
from cumulo_service_compute.servers import Servers

LOG = logging.getLogger(__name__)


class Housekeeping:
    """Settles interrupted and stuck servers (``servers`` deletes, ``hosts`` says which are down)."""

    def __init__(self, plumbing: Plumbing, servers: Servers, hosts: Hosts) -> None:
        self.plumbing, self.servers, self.hosts = plumbing, servers, hosts

    def reconcile_builds(self) -> int:
        """At start-up: settle the unplaced servers a previous run of this process left in a task state.

        An unplaced build (``scheduling``, no host) recorded as scheduled by this process
        (``scheduled_by`` = ``Plumbing.owner``) and older than this service cannot be in anyone's
        hands now: this process is the one that was scheduling it and it just started. It goes to ERROR
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
            started = r.task_updated_at or self.plumbing.started
            if started >= self.plumbing.started:
                continue  # this run's own work
            try:
                if r.task_state == st.DELETING:
                    self.servers.local_delete(admin, objects.get_instance(r.uuid))
                    settled += 1
                    continue
                if r.vm_state != st.BUILDING or r.task_state not in BUILD_TASK_STATES:
                    continue
                owner = (objects.loads(r.system_metadata_json, {}) or {}).get(SCHEDULED_BY)
                if owner != self.plumbing.owner and not (owner is None and started < stale):
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
        down = self.hosts.down_hosts() if rows else set()
        failed = 0
        for r in rows:
            started = r.task_updated_at or now
            if started > limit and not (r.host in down and (now - started).total_seconds() >
                                        CONF.service.service_down_time):
                continue
            why = f"host {r.host} is down" if r.host in down else "no reply (message lost or host stalled)"
            if r.task_state == st.DELETING and (not r.host or r.host in down):
                inst = objects.get_instance(r.uuid)
                self.servers.finish_delete(RequestContext(roles=["admin"], is_admin=True), inst)
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
