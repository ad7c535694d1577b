"""The compute manager: one per compute host, the RPC endpoint of topic ``compute``.

It owns what happens on its host: resource claims, the hypervisor driver calls,
and moving the instance's state when the work is done. Calls for the same
instance are serialised by a per-instance lock; different instances run in
parallel. A build that fails here is cleaned up and handed back to the
scheduling step with this host excluded (up to ``[compute] max_attempts``).
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import traceback
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

import cumulo_service_compute.objects as objects
import cumulo_service_compute.states as st
import cumulo_service_compute.virt as virt
from cumulo import db, exception
from cumulo.conf import CONF
from cumulo.context import RequestContext
from cumulo.db.models.base import new_id, utcnow
from cumulo.interfaces import hypervisor as hv
from cumulo.interfaces.hypervisor import HypervisorError, PowerState
from cumulo_service_compute.models import ComputeNode, Instance, ServerGroupMember

LOG = logging.getLogger(__name__)

#: The task states of a build (vm_state building).
BUILD_TASK_STATES = (st.SCHEDULING, st.NETWORKING, st.SPAWNING)
#: Task states whose outcome the hypervisor's power state tells (after a restart: sync, clear).
SYNC_TASK_STATES = (st.REBOOTING, st.REBOOTING_HARD, st.POWERING_OFF, st.POWERING_ON, st.PAUSING, st.UNPAUSING,
                    st.SUSPENDING, st.RESUMING, st.RESCUING, st.UNRESCUING, st.UPDATING_PASSWORD)
#: system_metadata key naming the process (``[DEFAULT] host``) that schedules an unplaced build.
SCHEDULED_BY = "scheduled_by"


def as_ctx(ctx: Any) -> RequestContext:
    if isinstance(ctx, RequestContext):
        return ctx
    if isinstance(ctx, dict):
        return RequestContext.from_dict(ctx)
    return RequestContext()


def optional(hub: Any, area: str) -> Any | None:
    """``hub.<area>`` or None when the kernel has no such service (yet)."""
    try:
        return hub.get(area)
    except LookupError:
        return None


class ResourceTracker:
    """What this host has promised to instances; a claim beyond capacity fails."""

    def __init__(self, host: str, resources: dict[str, Any]) -> None:
        self.host = host
        self.total = resources
        self.claims: dict[str, dict[str, int]] = {}
        self.lock = threading.Lock()

    def load(self) -> None:
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
        want = {"vcpus": int(flavor.get("vcpus", 0)), "memory_mb": int(flavor.get("ram", 0)),
                "local_gb": int(flavor.get("disk", 0)) + int(flavor.get("ephemeral", 0) or 0)}
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

    def release(self, key: str) -> None:
        with self.lock:
            self.claims.pop(key, None)


class ComputeManager:
    """RPC endpoint for one host. Methods are ``method(ctx, **kwargs)`` with JSON-able kwargs."""

    def __init__(self, host: str, driver: Any, hub: Any) -> None:
        self.host, self.driver, self.hub = host, driver, hub
        self.tracker = ResourceTracker(host, self._resources())
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    # -- helpers -----------------------------------------------------------
    def _resources(self) -> dict[str, Any]:
        try:
            return virt.resources(self.driver.get_host_resources())
        except Exception:
            LOG.exception("Host %s: driver failed to report resources", self.host)
            return {"vcpus": 0, "memory_mb": 0, "local_gb": 0}

    def _lock(self, uuid: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(uuid, threading.Lock())

    def _forget(self, uuid: str) -> None:
        with self._locks_lock:
            self._locks.pop(uuid, None)

    def _network(self) -> Any | None:
        return optional(self.hub, "network")

    def _nw_info(self, ctx: RequestContext, uuid: str) -> list[hv.VIF]:
        net = self._network()
        if net is None:
            return []
        try:
            return virt.vifs(net.get_instance_nw_info(ctx, uuid) or [])
        except Exception:
            LOG.exception("Network info for %s failed", uuid)
            return []

    def _image_meta(self, ctx: RequestContext, image_ref: str | None) -> hv.ImageMeta:
        image_svc = optional(self.hub, "image")
        view: dict[str, Any] | None = None
        if image_ref and image_svc is not None:
            try:
                view = dict(image_svc.get(ctx, image_ref))
            except exception.NotFound:
                view = None
        return virt.image_meta(image_ref, view)

    def _image(self, ctx: RequestContext, image_ref: str | None) -> hv.ImageReader:
        """The image's reader: its bytes are fetched from the image area only if the driver reads them."""
        return virt.image_reader(optional(self.hub, "image"), ctx, self._image_meta(ctx, image_ref),
                                 virt.image_cache_dir(CONF.state_path))

    def _driver_instance(self, inst: dict[str, Any], flavor: dict[str, Any] | None = None) -> hv.Instance:
        return virt.instance(inst, flavor)

    def _state_op(self, ctx: Any, instance_uuid: str, event: str, task_state: str, work: Any,
                  done: dict[str, Any]) -> None:
        """Run ``work(instance)`` under the instance lock and move to ``done``; errors go to the fault."""
        ctx = as_ctx(ctx)
        with self._lock(instance_uuid):
            try:
                inst = objects.get_instance(instance_uuid)
            except exception.NotFound:
                return
            if inst["task_state"] != task_state:
                LOG.info("Instance %s: %s skipped, task_state is %s", instance_uuid, event, inst["task_state"])
                return
            try:
                with objects.action_event(ctx, instance_uuid, event, self.host):
                    work(self._driver_instance(inst))
                    values = dict(done)
                    values.setdefault("power_state", int(self._power_state(inst)))
                    objects.update_instance(instance_uuid, {**values, "task_state": None},
                                            expected_task_state=task_state)
            except exception.CumuloError as err:
                self._op_failed(instance_uuid, inst, event, err, task_state)
            except Exception as err:
                self._op_failed(instance_uuid, inst, event, err, task_state)
            finally:
                objects.finish_action(ctx, instance_uuid)

    def _op_failed(self, uuid: str, inst: dict[str, Any], event: str, err: BaseException, task_state: str) -> None:
        LOG.warning("Instance %s: %s failed on %s: %s", uuid, event, self.host, err)
        objects.add_fault(uuid, f"{type(err).__name__}: {err}", getattr(err, "code", 500) or 500,
                          traceback.format_exc()[-4000:], self.host)
        try:
            # A failed non-build operation leaves the instance where it was, with the
            # fault recorded; a driver that lost the instance puts it in ERROR.
            from cumulo.interfaces.hypervisor import InstanceNotFound

            values: dict[str, Any] = {"task_state": None}
            if isinstance(err, InstanceNotFound):
                values["vm_state"] = st.ERROR
            objects.update_instance(uuid, values, expected_task_state=task_state)
        except exception.CumuloError:
            pass

    def _power_state(self, inst: dict[str, Any]) -> PowerState:
        try:
            return PowerState(self.driver.get_power_state(self._driver_instance(inst)))
        except Exception:
            return PowerState.NOSTATE

    # -- start-up --------------------------------------------------------------
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
        * a rebuild or a resize under way: ERROR with a fault (the disk may be half moved).

        Then instances the hypervisor runs that the database has deleted are destroyed.
        Returns how many instances were settled.
        """
        with db.transaction() as s:
            rows = s.execute(sa.select(Instance.uuid).where(
                Instance.host == self.host, Instance.deleted.is_(False),
                sa.or_(Instance.task_state.is_not(None), Instance.vm_state == st.BUILDING))).all()
        settled = 0
        for r in rows:
            try:
                settled += self._reconcile(r.uuid)
            except Exception:
                LOG.exception("Host %s: reconciling instance %s failed", self.host, r.uuid)
        self._reap_deleted()
        if settled:
            LOG.info("Host %s: settled %d instance(s) interrupted by the previous run", self.host, settled)
        return settled

    def _reconcile(self, uuid: str) -> int:
        ctx = RequestContext(roles=["admin"], is_admin=True)
        try:
            inst = objects.get_instance(uuid, with_tags=False)
        except exception.NotFound:
            return 0
        task, vm = inst["task_state"], inst["vm_state"]
        if task == st.DELETING:
            self.terminate_instance(ctx, uuid)
            return 1
        with self._lock(uuid):
            if vm == st.BUILDING or task in BUILD_TASK_STATES:
                self._cleanup_build(ctx, inst, self._nw_info(ctx, uuid), True)
                self._interrupted(ctx, inst, "build", error=True)
                release_claims(self.hub, ctx, [uuid])
            elif task in SYNC_TASK_STATES:
                self._sync_interrupted(ctx, inst)
            elif task in (st.IMAGE_SNAPSHOT, st.RESIZE_PREP):
                values: dict[str, Any] = {"task_state": None}
                if task == st.RESIZE_PREP:
                    values["new_flavor"] = None
                    self.tracker.release(uuid + ":resize")
                self._interrupted(ctx, inst, _operation(task), values=values)
            else:  # rebuilding, a resize under way, or a task this version does not know
                self._interrupted(ctx, inst, _operation(task), error=True)
        return 1

    def _sync_interrupted(self, ctx: RequestContext, inst: dict[str, Any]) -> None:
        """A power or rescue operation was interrupted: believe the hypervisor, clear the task."""
        from cumulo.interfaces.hypervisor import InstanceNotFound

        try:
            power = PowerState(self.driver.get_power_state(self._driver_instance(inst)))
        except InstanceNotFound:
            self._interrupted(ctx, inst, _operation(inst["task_state"]), error=True,
                              extra="The hypervisor no longer has the instance.")
            return
        if power == PowerState.CRASHED:
            self._interrupted(ctx, inst, _operation(inst["task_state"]), error=True,
                              extra="The instance has crashed.")
            return
        vm = {PowerState.PAUSED: st.PAUSED, PowerState.SUSPENDED: st.SUSPENDED,
              PowerState.SHUTDOWN: st.STOPPED, PowerState.NOSTATE: st.STOPPED}.get(power)
        if vm is None:  # running
            vm = st.RESCUED if inst["vm_state"] == st.RESCUED else st.ACTIVE
        self._interrupted(ctx, inst, _operation(inst["task_state"]),
                          values={"vm_state": vm, "power_state": int(power), "task_state": None})

    def _interrupted(self, ctx: RequestContext, inst: dict[str, Any], what: str, *, error: bool = False,
                     values: dict[str, Any] | None = None, extra: str = "") -> None:
        """Record that ``what`` was cut short by a restart of this host; ERROR it or apply ``values``."""
        uuid, task = inst["uuid"], inst["task_state"]
        message = f"The {what} was interrupted by a restart of its compute host."
        if error:
            message += " " + (extra or ("Delete the server and create it again." if what == "build"
                                        else "Check the server, then rebuild or delete it."))
        elif extra:
            message += " " + extra
        LOG.warning("Instance %s on %s: %s", uuid, self.host, message)
        objects.add_fault(uuid, message, 500, f"{message} Host: {self.host}; task_state was {task}.", self.host)
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
        try:
            running = list(self.driver.list_power_states())
        except Exception:
            LOG.exception("Host %s: listing the hypervisor's instances failed", self.host)
            return
        if not running:
            return
        with db.transaction() as s:
            deleted = list(s.scalars(sa.select(Instance.uuid).where(Instance.uuid.in_(running),
                                                                     Instance.deleted.is_(True))))
        for uuid in deleted:
            LOG.warning("Host %s: destroying instance %s, which the database has deleted", self.host, uuid)
            try:
                self.driver.destroy(virt.instance({"uuid": uuid}), [])
            except Exception:
                LOG.exception("Host %s: destroying leftover instance %s failed", self.host, uuid)
            self.tracker.release(uuid)

    # -- build / delete ------------------------------------------------------
    def build_and_run_instance(self, ctx: Any, instance_uuid: str, admin_password: str | None = None,
                               requested_networks: Any = None, security_groups: list[str] | None = None,
                               attempt: int = 1, ignore_hosts: list[str] | None = None,
                               request_spec: dict[str, Any] | None = None) -> None:
        ctx = as_ctx(ctx)
        with self._lock(instance_uuid):
            try:
                inst = objects.get_instance(instance_uuid)
            except exception.NotFound:
                return
            if inst["task_state"] == st.DELETING or inst["vm_state"] != st.BUILDING or inst["host"] != self.host:
                LOG.info("Instance %s: build on %s abandoned (%s/%s on %s)", instance_uuid, self.host,
                         inst["vm_state"], inst["task_state"], inst["host"])
                return
            ports: list[dict[str, Any]] = []
            claimed = False
            phase = "resource claim"
            try:
                with objects.action_event(ctx, instance_uuid, "compute__do_build_and_run_instance", self.host):
                    self.tracker.claim(instance_uuid, inst["flavor"])
                    claimed = True
                    phase = "network setup"
                    objects.update_instance(instance_uuid, {"task_state": st.NETWORKING},
                                            expected_task_state=[st.SCHEDULING, st.NETWORKING, st.SPAWNING])
                    net = self._network()
                    if net is not None and requested_networks != "none":
                        ports = list(net.allocate_for_instance(ctx, instance_uuid, self.host,
                                                               requested_networks or "auto",
                                                               security_groups or ["default"]) or [])
                    phase = "spawn"
                    objects.update_instance(instance_uuid, {"task_state": st.SPAWNING},
                                            expected_task_state=st.NETWORKING)
                    image = self._image(ctx, inst["image_ref"])
                    self.driver.spawn(self._driver_instance(inst), image, virt.vifs(ports), (),
                                      admin_password=admin_password)
                    objects.update_instance(instance_uuid, {
                        "vm_state": st.ACTIVE, "task_state": None, "power_state": int(PowerState.RUNNING),
                        "launched_at": utcnow(), "progress": 100}, expected_task_state=st.SPAWNING)
            except Exception as err:
                self._cleanup_build(ctx, inst, ports, claimed)
                # A NotFound or Conflict may mean the server was deleted (or taken over) while it
                # was building: then there is nothing to report. Anything else, a not-found security
                # group or an exhausted subnet included, is this build's failure and goes to the fault.
                if not self._still_building_here(instance_uuid):
                    LOG.info("Instance %s: build on %s stopped, the server was deleted or moved on (%s)",
                             instance_uuid, self.host, err)
                    return
                self._build_failed(ctx, inst, err, attempt, list(ignore_hosts or []), request_spec,
                                   admin_password, requested_networks, security_groups, phase)
                return
            finally:
                objects.finish_action(ctx, instance_uuid)

    def _still_building_here(self, uuid: str) -> bool:
        """Whether the instance still exists, is building, not being deleted, and on this host."""
        try:
            inst = objects.get_instance(uuid, with_tags=False)
        except exception.NotFound:
            return False
        return (inst["vm_state"] == st.BUILDING and inst["task_state"] in BUILD_TASK_STATES
                and inst["host"] == self.host)

    def _cleanup_build(self, ctx: RequestContext, inst: dict[str, Any], ports: list[Any], claimed: bool) -> None:
        try:
            self.driver.destroy(self._driver_instance(inst), virt.vifs(ports))
        except Exception:
            LOG.exception("Cleanup of %s on %s failed", inst["uuid"], self.host)
        net = self._network()
        if net is not None:
            try:
                net.deallocate_for_instance(ctx, inst["uuid"])
            except Exception:
                LOG.exception("Deallocating network of %s failed", inst["uuid"])
        if claimed:
            self.tracker.release(inst["uuid"])

    def _build_failed(self, ctx: RequestContext, inst: dict[str, Any], err: BaseException, attempt: int,
                      ignore_hosts: list[str], request_spec: dict[str, Any] | None, admin_password: str | None,
                      requested_networks: Any, security_groups: list[str] | None, phase: str = "build") -> None:
        uuid = inst["uuid"]
        LOG.warning("Build of %s failed on %s during %s (attempt %d): %s", uuid, self.host, phase, attempt, err)
        # A client mistake (bad network, port in use, quota) fails the same everywhere: no retry.
        retryable = not (isinstance(err, exception.CumuloError) and 400 <= err.code < 500
                         and not isinstance(err, exception.NotImplementedByDriver))
        if retryable and attempt < CONF.compute.max_attempts:
            owner = getattr(self.hub.compute, "owner", None)
            values: dict[str, Any] = {"host": None, "node": None, "task_state": st.SCHEDULING}
            if owner:
                values["system_metadata"] = {**(inst.get("system_metadata") or {}), SCHEDULED_BY: owner}
            try:
                objects.update_instance(uuid, values, expected_task_state=[st.NETWORKING, st.SPAWNING, st.SCHEDULING])
            except exception.CumuloError:
                return  # deleted meanwhile
            self.hub.compute.schedule_and_build(
                ctx, [uuid], request_spec or {}, attempt=attempt + 1, ignore_hosts=ignore_hosts + [self.host],
                admin_password=admin_password, requested_networks=requested_networks,
                security_groups=security_groups, last_error=str(err))
            return
        # The message is what the server's owner reads: the error itself, not this host's name.
        if retryable:
            message = f"Build of instance {uuid} failed after {attempt} attempt(s); last error ({phase}): {err}"
        else:
            message = f"Build of instance {uuid} failed during {phase}: {err}"
        code = getattr(err, "code", 500) or 500
        # Details of a non-500 fault are shown to the owner too: the message, not a traceback.
        details = traceback.format_exc()[-4000:] if code >= 500 else message
        objects.add_fault(uuid, message, code, details, self.host)
        try:
            objects.update_instance(uuid, {"vm_state": st.ERROR, "task_state": None},
                                    expected_task_state=[st.NETWORKING, st.SPAWNING, st.SCHEDULING])
        except exception.CumuloError:
            pass
        release_claims(self.hub, ctx, [uuid])

    def terminate_instance(self, ctx: Any, instance_uuid: str) -> None:
        ctx = as_ctx(ctx)
        with self._lock(instance_uuid):
            try:
                inst = objects.get_instance(instance_uuid)
            except exception.NotFound:
                return
            try:
                with objects.action_event(ctx, instance_uuid, "compute_terminate_instance", self.host):
                    nw = self._nw_info(ctx, instance_uuid)
                    self.driver.destroy(self._driver_instance(inst), nw)
                    resize = inst.get("resize") or {}
                    self.hub.compute.finish_delete(ctx, inst)
                    self.tracker.release(instance_uuid)
                    self.tracker.release(instance_uuid + ":resize")
                    if resize.get("source_host") and resize.get("source_host") != self.host:
                        self.hub.compute.rpc.cast(ctx, "cleanup_resize_source", server=resize["source_host"],
                                                  instance_uuid=instance_uuid)
            except Exception as err:
                LOG.exception("Delete of %s on %s failed", instance_uuid, self.host)
                objects.set_error(instance_uuid, f"Delete failed on {self.host}: {err}", host=self.host)
            finally:
                objects.finish_action(ctx, instance_uuid)
        self._forget(instance_uuid)

    def cleanup_resize_source(self, ctx: Any, instance_uuid: str) -> None:
        try:
            self.driver.destroy(virt.instance({"uuid": instance_uuid}), [])
        except Exception:
            LOG.exception("Cleanup of resize source of %s failed", instance_uuid)
        self.tracker.release(instance_uuid)
        self.tracker.release(instance_uuid + ":resize")

    # -- power ---------------------------------------------------------------
    def reboot_instance(self, ctx: Any, instance_uuid: str, hard: bool = False) -> None:
        task = st.REBOOTING_HARD if hard else st.REBOOTING
        soft = not hard and "soft_reboot" in self.driver.capabilities
        self._state_op(ctx, instance_uuid, "compute_reboot_instance", task,
                       lambda i: self.driver.reboot(i, hard=not soft), {"vm_state": st.ACTIVE})

    def stop_instance(self, ctx: Any, instance_uuid: str, clean_shutdown: bool = True) -> None:
        self._state_op(ctx, instance_uuid, "compute_stop_instance", st.POWERING_OFF,
                       lambda i: self.driver.power_off(i, CONF.compute.shutdown_timeout if clean_shutdown else 0),
                       {"vm_state": st.STOPPED})

    def start_instance(self, ctx: Any, instance_uuid: str) -> None:
        self._state_op(ctx, instance_uuid, "compute_start_instance", st.POWERING_ON, self.driver.power_on,
                       {"vm_state": st.ACTIVE})

    def pause_instance(self, ctx: Any, instance_uuid: str) -> None:
        self._state_op(ctx, instance_uuid, "compute_pause_instance", st.PAUSING, self.driver.pause,
                       {"vm_state": st.PAUSED})

    def unpause_instance(self, ctx: Any, instance_uuid: str) -> None:
        self._state_op(ctx, instance_uuid, "compute_unpause_instance", st.UNPAUSING, self.driver.unpause,
                       {"vm_state": st.ACTIVE})

    def suspend_instance(self, ctx: Any, instance_uuid: str) -> None:
        self._state_op(ctx, instance_uuid, "compute_suspend_instance", st.SUSPENDING, self.driver.suspend,
                       {"vm_state": st.SUSPENDED})

    def resume_instance(self, ctx: Any, instance_uuid: str) -> None:
        self._state_op(ctx, instance_uuid, "compute_resume_instance", st.RESUMING, self.driver.resume,
                       {"vm_state": st.ACTIVE})

    def rescue_instance(self, ctx: Any, instance_uuid: str, rescue_password: str,
                        rescue_image_ref: str | None = None) -> None:
        ctx = as_ctx(ctx)

        def work(i: hv.Instance) -> None:
            image = self._image(ctx, rescue_image_ref or i.image_ref)
            self.driver.rescue(i, image, rescue_password)

        self._state_op(ctx, instance_uuid, "compute_rescue_instance", st.RESCUING, work, {"vm_state": st.RESCUED})

    def unrescue_instance(self, ctx: Any, instance_uuid: str) -> None:
        self._state_op(ctx, instance_uuid, "compute_unrescue_instance", st.UNRESCUING, self.driver.unrescue,
                       {"vm_state": st.ACTIVE})

    def set_admin_password(self, ctx: Any, instance_uuid: str, password: str) -> None:
        self._state_op(ctx, instance_uuid, "compute_set_admin_password", st.UPDATING_PASSWORD,
                       lambda i: self.driver.set_admin_password(i, password), {"vm_state": st.ACTIVE})

    def rebuild_instance(self, ctx: Any, instance_uuid: str, image_ref: str, admin_password: str | None = None,
                         preserve_power_off: bool = False) -> None:
        ctx = as_ctx(ctx)

        def work(i: hv.Instance) -> None:
            image = self._image(ctx, image_ref)
            nw = self._nw_info(ctx, instance_uuid)
            self.driver.rebuild(i, image, nw, (), admin_password=admin_password)

        self._state_op(ctx, instance_uuid, "compute_rebuild_instance", st.REBUILDING, work,
                       {"vm_state": st.ACTIVE, "launched_at": utcnow()})

    def snapshot_instance(self, ctx: Any, instance_uuid: str, image_id: str) -> None:
        ctx = as_ctx(ctx)

        def work(i: hv.Instance) -> None:
            image_svc = optional(self.hub, "image")
            with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
                self.driver.snapshot(i, spool.write)
                spool.seek(0)
                if image_svc is not None:
                    image_svc.upload(ctx, image_id, _chunks(spool))

        inst_state = objects.get_instance(instance_uuid)["vm_state"]
        self._state_op(ctx, instance_uuid, "compute_snapshot_instance", st.IMAGE_SNAPSHOT, work,
                       {"vm_state": inst_state})

    # -- resize ---------------------------------------------------------------
    def prep_resize(self, ctx: Any, instance_uuid: str, new_flavor: dict[str, Any], source_host: str) -> None:
        """On the destination: claim the new flavor, then ask the source to move the disk."""
        ctx = as_ctx(ctx)
        try:
            with objects.action_event(ctx, instance_uuid, "compute_prep_resize", self.host):
                self.tracker.claim(instance_uuid + ":resize", new_flavor)
                objects.update_instance(instance_uuid, {"task_state": st.RESIZE_MIGRATING},
                                        expected_task_state=st.RESIZE_PREP)
        except Exception as err:
            self.tracker.release(instance_uuid + ":resize")
            self._op_failed(instance_uuid, {}, "compute_prep_resize", err, st.RESIZE_PREP)
            if _exists(instance_uuid):
                objects.update_instance(instance_uuid, {"new_flavor": None, "resize": None})
            return
        self.hub.compute.rpc.cast(ctx, "resize_instance", server=source_host, instance_uuid=instance_uuid,
                                  dest_host=self.host, new_flavor=new_flavor)

    def resize_instance(self, ctx: Any, instance_uuid: str, dest_host: str, new_flavor: dict[str, Any]) -> None:
        """On the source: power off and hand the disk to the destination."""
        ctx = as_ctx(ctx)
        with self._lock(instance_uuid):
            inst = objects.get_instance(instance_uuid)
            try:
                with objects.action_event(ctx, instance_uuid, "compute_resize_instance", self.host):
                    disk_info = self.driver.migrate_disk_and_power_off(self._driver_instance(inst), dest_host,
                                                                       virt.flavor(new_flavor))
                    objects.update_instance(instance_uuid, {"task_state": st.RESIZE_FINISH},
                                            expected_task_state=st.RESIZE_MIGRATING)
            except Exception as err:
                self.hub.compute.rpc.cast(ctx, "abort_resize_claim", server=dest_host, instance_uuid=instance_uuid)
                self._op_failed(instance_uuid, inst, "compute_resize_instance", err, st.RESIZE_MIGRATING)
                return
        self.hub.compute.rpc.cast(ctx, "finish_resize", server=dest_host, instance_uuid=instance_uuid,
                                  disk_info=_jsonable(disk_info), source_host=self.host)

    def abort_resize_claim(self, ctx: Any, instance_uuid: str) -> None:
        self.tracker.release(instance_uuid + ":resize")

    def finish_resize(self, ctx: Any, instance_uuid: str, disk_info: dict[str, Any], source_host: str) -> None:
        """On the destination: start the instance with the new flavor; it waits in VERIFY_RESIZE."""
        ctx = as_ctx(ctx)
        with self._lock(instance_uuid):
            inst = objects.get_instance(instance_uuid)
            new_flavor = inst["new_flavor"] or inst["flavor"]
            resized = self._driver_instance(inst, new_flavor)
            was_active = inst["vm_state"] == st.ACTIVE
            try:
                with objects.action_event(ctx, instance_uuid, "compute_finish_resize", self.host):
                    nw = self._nw_info(ctx, instance_uuid)
                    self.driver.finish_migration(resized, disk_info, nw, self._image_meta(ctx, inst["image_ref"]),
                                                 resize_instance=True, power_on=was_active)
                    self.tracker.release(instance_uuid + ":resize")
                    self.tracker.claims[instance_uuid] = {
                        "vcpus": int(new_flavor["vcpus"]), "memory_mb": int(new_flavor["ram"]),
                        "local_gb": int(new_flavor["disk"]) + int(new_flavor.get("ephemeral", 0) or 0)}
                    objects.update_instance(instance_uuid, {
                        "vm_state": st.RESIZED, "task_state": None, "host": self.host, "node": self.host,
                        "old_flavor": inst["flavor"], "flavor": new_flavor, "new_flavor": None,
                        "vcpus": new_flavor["vcpus"], "memory_mb": new_flavor["ram"], "root_gb": new_flavor["disk"],
                        "ephemeral_gb": new_flavor.get("ephemeral", 0) or 0,
                        "power_state": int(PowerState.RUNNING if was_active else PowerState.SHUTDOWN),
                        "resize": {"source_host": source_host, "dest_host": self.host,
                                   "was_active": was_active}}, expected_task_state=st.RESIZE_FINISH)
            except Exception as err:
                self.tracker.release(instance_uuid + ":resize")
                self._op_failed(instance_uuid, inst, "compute_finish_resize", err, st.RESIZE_FINISH)
                objects.update_instance(instance_uuid, {"vm_state": st.ERROR})
            finally:
                objects.finish_action(ctx, instance_uuid)

    def confirm_resize(self, ctx: Any, instance_uuid: str) -> None:
        """On the source: drop what was kept for a revert."""
        ctx = as_ctx(ctx)
        inst = objects.get_instance(instance_uuid)
        try:
            with objects.action_event(ctx, instance_uuid, "compute_confirm_resize", self.host):
                if inst.get("resize", {}).get("source_host") == self.host and inst["host"] != self.host:
                    self.driver.confirm_migration(self._driver_instance(inst), self._nw_info(ctx, instance_uuid))
                    self.tracker.release(instance_uuid)
                elif inst["host"] == self.host:
                    self.driver.confirm_migration(self._driver_instance(inst), self._nw_info(ctx, instance_uuid))
                was_active = (inst.get("resize") or {}).get("was_active", True)
                objects.update_instance(instance_uuid, {
                    "vm_state": st.ACTIVE if was_active else st.STOPPED, "task_state": None, "old_flavor": None,
                    "resize": None}, expected_task_state=st.RESIZE_CONFIRMING)
        except Exception as err:
            self._op_failed(instance_uuid, inst, "compute_confirm_resize", err, st.RESIZE_CONFIRMING)
        finally:
            objects.finish_action(ctx, instance_uuid)

    def revert_resize(self, ctx: Any, instance_uuid: str) -> None:
        """On the destination: remove the resized copy, then the source restarts the original."""
        ctx = as_ctx(ctx)
        inst = objects.get_instance(instance_uuid)
        resize = inst.get("resize") or {}
        source = resize.get("source_host") or self.host
        try:
            with objects.action_event(ctx, instance_uuid, "compute_revert_resize", self.host):
                if source != self.host:
                    self.driver.destroy(self._driver_instance(inst), self._nw_info(ctx, instance_uuid))
                    self.tracker.release(instance_uuid)
        except Exception as err:
            self._op_failed(instance_uuid, inst, "compute_revert_resize", err, st.RESIZE_REVERTING)
            return
        self.hub.compute.rpc.cast(ctx, "finish_revert_resize", server=source, instance_uuid=instance_uuid)

    def finish_revert_resize(self, ctx: Any, instance_uuid: str) -> None:
        ctx = as_ctx(ctx)
        inst = objects.get_instance(instance_uuid)
        old = inst["old_flavor"] or inst["flavor"]
        was_active = (inst.get("resize") or {}).get("was_active", True)
        try:
            with objects.action_event(ctx, instance_uuid, "compute_finish_revert_resize", self.host):
                reverted = self._driver_instance(inst, old)
                self.driver.finish_revert_migration(reverted, self._nw_info(ctx, instance_uuid), power_on=was_active)
                self.tracker.release(instance_uuid + ":resize")
                self.tracker.claims[instance_uuid] = {"vcpus": int(old["vcpus"]), "memory_mb": int(old["ram"]),
                                                      "local_gb": int(old["disk"]) + int(old.get("ephemeral", 0) or 0)}
                objects.update_instance(instance_uuid, {
                    "vm_state": st.ACTIVE if was_active else st.STOPPED, "task_state": None, "host": self.host,
                    "node": self.host, "flavor": old, "old_flavor": None, "resize": None, "vcpus": old["vcpus"],
                    "memory_mb": old["ram"], "root_gb": old["disk"], "ephemeral_gb": old.get("ephemeral", 0) or 0,
                    "power_state": int(PowerState.RUNNING if was_active else PowerState.SHUTDOWN)},
                    expected_task_state=st.RESIZE_REVERTING)
        except Exception as err:
            self._op_failed(instance_uuid, inst, "compute_finish_revert_resize", err, st.RESIZE_REVERTING)
        finally:
            objects.finish_action(ctx, instance_uuid)

    # -- synchronous calls -------------------------------------------------------
    def get_console_output(self, ctx: Any, instance_uuid: str, length: int | None = None) -> str:
        inst = objects.get_instance(instance_uuid)
        text = self.driver.get_console_output(self._driver_instance(inst)) or ""
        if length is not None and length >= 0:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-length:]) if length else ""
        return text

    def get_remote_console(self, ctx: Any, instance_uuid: str, console_type: str) -> dict[str, Any]:
        inst = objects.get_instance(instance_uuid)
        console = self.driver.get_remote_console(self._driver_instance(inst), console_type)
        return _jsonable({"host": console.host, "port": console.port, "token": console.token,
                          "internal_access_path": console.internal_access_path, "url": console.url,
                          "type": console.console_type})

    # -- periodic work -------------------------------------------------------------
    def report_resources(self) -> None:
        """Write this host's totals and usage to compute_nodes."""
        res = self._resources()
        self.tracker.total = res
        used = self.tracker.used()
        running = len([k for k in list(self.tracker.claims) if ":" not in k])
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
        except sa.exc.IntegrityError:
            _write()

    def sync_power_states(self) -> None:
        """Record the hypervisor's view; an instance the hypervisor lost is stopped (never left 'running').

        The database is read *before* the hypervisor: an instance that turns
        active in between is not in the rows (a build marks it active only
        after the driver has it), so a fresh instance is never mistaken for a
        lost one. Instances with a task under way are left alone.
        """
        with db.transaction() as s:
            rows = s.execute(sa.select(Instance.uuid, Instance.vm_state, Instance.task_state, Instance.power_state)
                             .where(Instance.host == self.host, Instance.deleted.is_(False),
                                    Instance.task_state.is_(None))).all()
        if not rows:
            return
        try:
            seen = self.driver.list_power_states()
        except Exception:
            LOG.exception("Power state sync on %s failed", self.host)
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

    def group_members(self, group_uuid: str) -> list[str]:
        with db.transaction() as s:
            return list(s.scalars(sa.select(ServerGroupMember.instance_uuid)
                                  .where(ServerGroupMember.group_uuid == group_uuid)))


def release_claims(hub: Any, ctx: RequestContext, uuids: list[str]) -> None:
    """Tell the scheduler (when it keeps claims) that these instances will not land."""
    scheduler = optional(hub, "scheduler")
    if scheduler is not None and hasattr(scheduler, "release"):
        try:
            scheduler.release(ctx, uuids)
        except Exception:
            LOG.debug("Scheduler release of %s failed", uuids, exc_info=True)


_OPERATIONS = {
    st.REBOOTING: "reboot", st.REBOOTING_HARD: "hard reboot", st.POWERING_OFF: "stop", st.POWERING_ON: "start",
    st.PAUSING: "pause", st.UNPAUSING: "unpause", st.SUSPENDING: "suspend", st.RESUMING: "resume",
    st.RESCUING: "rescue", st.UNRESCUING: "unrescue", st.UPDATING_PASSWORD: "password change",
    st.IMAGE_SNAPSHOT: "snapshot", st.REBUILDING: "rebuild",
}


def _operation(task_state: str | None) -> str:
    """What the user asked for, in words, from the task state it set (for fault messages)."""
    label = _OPERATIONS.get(task_state or "")
    if label:
        return label
    if task_state and task_state.startswith("resize"):
        return "resize"
    return f"operation ({task_state})"


def _exists(uuid: str) -> bool:
    try:
        objects.get_instance(uuid, with_tags=False)
        return True
    except exception.NotFound:
        return False


def _chunks(f: Any, size: int = 1024 * 1024) -> Iterator[bytes]:
    while True:
        data = f.read(size)
        if not data:
            return
        yield data


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str)) if value is not None else None

