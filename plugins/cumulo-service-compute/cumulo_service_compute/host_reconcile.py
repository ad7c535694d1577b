"""A host's database and hypervisor brought back in line: at start-up (:meth:`Reconciler.init_host`)
and periodically (:meth:`Reconciler.sync_power_states`).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import sqlalchemy as sa

import cumulo_service_compute.migration_records as records
import cumulo_service_compute.objects as objects
import cumulo_service_compute.states as st
import cumulo_service_compute.virt as virt
from cumulo import db, exception
from cumulo.context import RequestContext
from cumulo.interfaces.hypervisor import InstanceNotFound, PowerState
from cumulo_service_compute.host import ComputeHost
from cumulo_service_compute.host_builds import Builds
from cumulo_service_compute.host_common import BUILD_TASK_STATES, SYNC_TASK_STATES, operation, release_claims
from cumulo_service_compute.host_volumes import Volumes
from cumulo_service_compute.models import Instance

LOG = logging.getLogger(__name__)


class Reconciler:
    """Settles what a previous run of ``host`` left half done, and follows the hypervisor's power states.

    ``builds`` finishes interrupted deletes and cleans up interrupted builds; ``volumes`` settles
    interrupted volume attaches and detaches.
    """

    def __init__(self, host: ComputeHost, builds: Builds, volumes: Volumes) -> None:
        self.host, self.builds, self.volumes = host, builds, volumes
        self._event_lock = threading.Lock()
        self._event_sync_due = False

    def listen_for_power_events(self) -> bool:
        """Ask the driver for its power events (:meth:`power_changed`); False when it only answers polls."""
        return bool(self.host.driver.register_power_events(self.power_changed))

    def power_changed(self, instance_uuid: str, state: PowerState) -> None:
        """The driver saw an instance change power by itself: sync now, off the driver's event thread.

        Bursts of events coalesce into one sync; the sync reads the database and the driver
        afresh, so the event's own ``state`` is only a hint.
        """
        with self._event_lock:
            if self._event_sync_due:
                return
            self._event_sync_due = True
        threading.Thread(target=self._event_sync, name=f"power-events-{self.host.name}", daemon=True).start()

    def _event_sync(self) -> None:
        with self._event_lock:
            self._event_sync_due = False
        self.sync_power_states()

    def init_host(self) -> int:
        """Settle what a previous run of this host left half done; call before serving RPC.

        Nothing else works on this host's instances (one process serves a host, and it is
        starting), so every instance of this host still in a task state was interrupted:

        * a build (``scheduling``/``networking``/``spawning``): its leftovers are cleaned up
          (hypervisor, ports, claim) and it goes to ERROR with a fault saying why;
        * ``deleting``: the delete is finished;
        * power and rescue operations (reboot, stop, start, pause, suspend, rescue...): the
          state is read back from the hypervisor and the task state cleared;
        * a snapshot or a resize not yet under way: the task state is cleared;
        * a rebuild or a resize under way: ERROR with a fault (the disk may be half moved);
        * the moves (:meth:`_reconcile_move`): a shelve is undone (the hypervisor's state is believed),
          an offload finished, an unshelve or a live migration settled by where the hypervisor runs the
          guest.

        Then instances the hypervisor runs that the database has deleted are destroyed, and volumes
        left ``attaching`` or ``detaching`` are given back or detached (:meth:`.Volumes.reconcile`).
        Returns how many instances and volumes were settled.
        """
        name = self.host.name
        with db.transaction() as s:
            rows = s.execute(sa.select(Instance.uuid).where(
                Instance.host == name, Instance.deleted.is_(False),
                sa.or_(Instance.task_state.is_not(None), Instance.vm_state == st.BUILDING))).all()
        settled = 0
        for r in rows:
            try:
                settled += self._reconcile(r.uuid)
            except Exception:
                LOG.exception("Host %s: reconciling instance %s failed", name, r.uuid)
        self._reap_deleted()
        try:
            settled += self.volumes.reconcile()
        except Exception:
            LOG.exception("Host %s: settling interrupted volume attachments failed", name)
        if settled:
            LOG.info("Host %s: settled %d instance(s) interrupted by the previous run", name, settled)
        return settled

    def _reconcile(self, uuid: str) -> int:
        host = self.host
        ctx = RequestContext(roles=["admin"], is_admin=True)
        try:
            inst = objects.get_instance(uuid, with_tags=False)
        except exception.NotFound:
            return 0
        task, vm = inst["task_state"], inst["vm_state"]
        if task == st.DELETING:
            self.builds.terminate_instance(ctx, uuid)
            return 1
        with host.locks.lock(uuid):
            if vm == st.BUILDING or task in BUILD_TASK_STATES:
                self.builds.cleanup_build(ctx, inst, host.network.vifs(ctx, uuid), True)
                self._interrupted(ctx, inst, "build", error=True)
                release_claims(host.hub, ctx, [uuid])
            elif task in SYNC_TASK_STATES or task == st.SHELVING:
                self._sync_interrupted(ctx, inst)
            elif task in (st.SHELVING_OFFLOADING, st.UNSHELVING, st.MIGRATING):
                self._reconcile_move(ctx, inst)
            elif task in (st.IMAGE_SNAPSHOT, st.RESIZE_PREP):
                values: dict[str, Any] = {"task_state": None}
                if task == st.RESIZE_PREP:
                    values["new_flavor"] = None
                    host.tracker.release(uuid + ":resize")
                self._interrupted(ctx, inst, operation(task), values=values)
            else:  # rebuilding, a resize under way, or a task this version does not know
                self._interrupted(ctx, inst, operation(task), error=True)
        return 1

    def _reconcile_move(self, ctx: RequestContext, inst: dict[str, Any]) -> None:
        """An offload, unshelve or live migration was interrupted (called with the instance lock held)."""
        host = self.host
        uuid, task = inst["uuid"], inst["task_state"]
        try:
            running = PowerState(host.driver.get_power_state(host.driver_instance(inst))) == PowerState.RUNNING
        except InstanceNotFound:
            running = False
        if task == st.SHELVING_OFFLOADING:
            try:
                host.driver.destroy(host.driver_instance(inst), [])
            except Exception:
                LOG.exception("Host %s: removing shelved instance %s failed", host.name, uuid)
            host.tracker.release(uuid)
            self._interrupted(ctx, inst, "shelve offload", values={
                "vm_state": st.SHELVED_OFFLOADED, "host": None, "node": None}, extra="The offload was finished.")
        elif task == st.UNSHELVING:
            if running:
                meta = {k: v for k, v in (inst.get("system_metadata") or {}).items()
                        if k not in ("shelved_at", "shelved_image_id", "shelved_host")}
                self._interrupted(ctx, inst, "unshelve", values={
                    "vm_state": st.ACTIVE, "power_state": int(PowerState.RUNNING), "system_metadata": meta})
            elif inst["vm_state"] == st.SHELVED_OFFLOADED:
                host.tracker.release(uuid)
                self._interrupted(ctx, inst, "unshelve", values={"host": None, "node": None},
                                  extra="The server is still shelved; unshelve it again.")
            else:
                self._interrupted(ctx, inst, "unshelve", extra="The server is still shelved; unshelve it again.")
        else:  # a live migration from this host
            records.set_status(uuid, "error", types=(records.LIVE,))
            if running:
                self._interrupted(ctx, inst, "live migration", extra="The server still runs on this host.")
            else:
                self._interrupted(ctx, inst, "live migration", error=True,
                                  extra="The hypervisor of this host no longer runs the server.")

    def _sync_interrupted(self, ctx: RequestContext, inst: dict[str, Any]) -> None:
        """A power or rescue operation was interrupted: believe the hypervisor, clear the task."""
        what = operation(inst["task_state"])
        try:
            power = PowerState(self.host.driver.get_power_state(self.host.driver_instance(inst)))
        except InstanceNotFound:
            self._interrupted(ctx, inst, what, error=True, extra="The hypervisor no longer has the instance.")
            return
        if power == PowerState.CRASHED:
            self._interrupted(ctx, inst, what, error=True, extra="The instance has crashed.")
            return
        vm = {PowerState.PAUSED: st.PAUSED, PowerState.SUSPENDED: st.SUSPENDED,
              PowerState.SHUTDOWN: st.STOPPED, PowerState.NOSTATE: st.STOPPED}.get(power)
        if vm is None:  # running
            vm = st.RESCUED if inst["vm_state"] == st.RESCUED else st.ACTIVE
        self._interrupted(ctx, inst, what, values={"vm_state": vm, "power_state": int(power), "task_state": None})

    def _interrupted(self, ctx: RequestContext, inst: dict[str, Any], what: str, *, error: bool = False,
                     values: dict[str, Any] | None = None, extra: str = "") -> None:
        """Record that ``what`` was cut short by a restart of this host; ERROR it or apply ``values``."""
        name = self.host.name
        uuid, task = inst["uuid"], inst["task_state"]
        message = f"The {what} was interrupted by a restart of its compute host."
        if error:
            message += " " + (extra or ("Delete the server and create it again." if what == "build"
                                        else "Check the server, then rebuild or delete it."))
        elif extra:
            message += " " + extra
        LOG.warning("Instance %s on %s: %s", uuid, name, message)
        objects.add_fault(uuid, message, 500, f"{message} Host: {name}; task_state was {task}.", name)
        update = dict(values or {})
        update.setdefault("task_state", None)
        if error:
            update["vm_state"] = st.ERROR
        try:
            objects.update_instance(uuid, update, expected_task_state=task)
        except exception.CumuloError as err:
            LOG.info("Instance %s changed while it was reconciled: %s", uuid, err)
        objects.finish_action(ctx, uuid, "Error" if error else None)

    def _reap_deleted(self) -> None:
        """Destroy what the hypervisor still runs for instances the database has deleted.

        Only instances the database knows as deleted: a hypervisor may run guests that are
        not this cloud's, and those are left alone.
        """
        host = self.host
        try:
            running = list(host.driver.list_power_states())
        except Exception:
            LOG.exception("Host %s: listing the hypervisor's instances failed", host.name)
            return
        if not running:
            return
        with db.transaction() as s:
            deleted = list(s.scalars(sa.select(Instance.uuid).where(Instance.uuid.in_(running),
                                                                     Instance.deleted.is_(True))))
        for uuid in deleted:
            LOG.warning("Host %s: destroying instance %s, which the database has deleted", host.name, uuid)
            try:
                host.driver.destroy(virt.instance({"uuid": uuid}), [])
            except Exception:
                LOG.exception("Host %s: destroying leftover instance %s failed", host.name, uuid)
            host.tracker.release(uuid)

    def sync_power_states(self) -> None:
        """Record the hypervisor's view; an instance the hypervisor lost is stopped (never left 'running').

        The database is read *before* the hypervisor: an instance that turns
        active in between is not in the rows (a build marks it active only
        after the driver has it), so a fresh instance is never mistaken for a
        lost one. Instances with a task under way are left alone.
        """
        host = self.host
        with db.transaction() as s:
            rows = s.execute(sa.select(Instance.uuid, Instance.vm_state, Instance.task_state, Instance.power_state)
                             .where(Instance.host == host.name, Instance.deleted.is_(False),
                                    Instance.task_state.is_(None))).all()
        if not rows:
            return
        try:
            seen = host.driver.list_power_states()
        except Exception:
            LOG.exception("Power state sync on %s failed", host.name)
            return
        for r in rows:
            power = int(seen.get(r.uuid, PowerState.NOSTATE))
            if power == r.power_state:
                continue
            values: dict[str, Any] = {"power_state": power}
            if r.vm_state == st.ACTIVE and power in (PowerState.SHUTDOWN, PowerState.NOSTATE, PowerState.CRASHED):
                values["vm_state"] = st.STOPPED
            try:
                objects.update_instance(r.uuid, values, expected_task_state=None, expected_vm_state=r.vm_state)
            except exception.CumuloError:
                pass
