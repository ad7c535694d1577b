"""Moves that run on the compute hosts: live migration, evacuation, shelving, backup rotation.

* Live migration: the destination claims the flavor (``pre_live_migration``), the source has its
  driver move the running guest (``live_migration``), the destination takes it over and becomes its
  host (``post_live_migration_at_destination``); a failure on the source gives the claim back.
* Evacuation (``evacuate_instance``, on the destination): the source is down, so the instance is
  spawned here again from its image with its ports; the source removes its stale copy when it comes
  back (:meth:`Moves.cleanup_evacuated`, at start-up and with each power sync).
* Shelving: ``shelve_instance`` powers off and snapshots to the image made for it, then (with
  ``[compute] shelved_offload_time`` 0) offloads: destroyed here, claim released, no host.
  ``unshelve_instance`` powers the shelved guest on again, or (offloaded) spawns it from the image
  on the host the scheduler chose, then deletes the image.
* ``rotate_backups``: after a createBackup's snapshot, the oldest backups beyond the rotation go.
"""

from __future__ import annotations

import logging
from typing import Any

import cumulo_service_compute.migration_records as records
import cumulo_service_compute.objects as objects
import cumulo_service_compute.states as st
import cumulo_service_compute.virt as virt
from cumulo import exception
from cumulo.conf import CONF
from cumulo.db.models.base import utcnow
from cumulo.interfaces.hypervisor import PowerState
from cumulo_service_compute.host import ComputeHost
from cumulo_service_compute.host_common import as_ctx, jsonable

LOG = logging.getLogger(__name__)

#: system_metadata keys of a shelved server (as Nova's).
SHELVED_KEYS = ("shelved_at", "shelved_image_id", "shelved_host")


class Moves:
    """The move steps that run on ``host``."""

    def __init__(self, host: ComputeHost) -> None:
        self.host = host

    def _cast(self, ctx: Any, method: str, server: str, **kwargs: Any) -> None:
        self.host.hub.compute.rpc.cast(ctx, method, server=server, **kwargs)

    def _failed(self, uuid: str, event: str, err: BaseException, task_state: str, status: str = "error") -> None:
        records.set_status(uuid, status)
        self.host.op_failed(uuid, event, err, task_state)

    # -- live migration ----------------------------------------------------------
    def pre_live_migration(self, ctx: Any, instance_uuid: str, source_host: str, block_migration: bool) -> None:
        """On the destination: claim the flavor, then ask the source to move the guest."""
        ctx = as_ctx(ctx)
        host = self.host
        try:
            inst = objects.get_instance(instance_uuid)
            with objects.action_event(ctx, instance_uuid, "compute_pre_live_migration", host.name):
                host.tracker.claim(instance_uuid, inst["flavor"])
            records.set_status(instance_uuid, "preparing", types=(records.LIVE,))
        except Exception as err:
            self._failed(instance_uuid, "compute_pre_live_migration", err, st.MIGRATING)
            objects.finish_action(ctx, instance_uuid, "Error")
            return
        self._cast(ctx, "live_migration", source_host, instance_uuid=instance_uuid, dest_host=host.name,
                   block_migration=block_migration)

    def live_migration(self, ctx: Any, instance_uuid: str, dest_host: str, block_migration: bool) -> None:
        """On the source: the driver moves the running guest; then the destination takes it over."""
        ctx = as_ctx(ctx)
        host = self.host
        with host.locks.lock(instance_uuid):
            inst = objects.get_instance(instance_uuid)
            try:
                records.set_status(instance_uuid, "running", types=(records.LIVE,))
                with objects.action_event(ctx, instance_uuid, "compute_live_migration", host.name):
                    data = host.driver.live_migration(host.driver_instance(inst), dest_host,
                                                      host.network.vifs(ctx, instance_uuid), block_migration)
            except Exception as err:
                self._cast(ctx, "rollback_live_migration_at_destination", dest_host, instance_uuid=instance_uuid)
                self._failed(instance_uuid, "compute_live_migration", err, st.MIGRATING)
                objects.finish_action(ctx, instance_uuid, "Error")
                return
            host.tracker.release(instance_uuid)
        self._cast(ctx, "post_live_migration_at_destination", dest_host, instance_uuid=instance_uuid,
                   migrate_data=jsonable(data), source_host=host.name)

    def rollback_live_migration_at_destination(self, ctx: Any, instance_uuid: str) -> None:
        """On the destination: the source could not move the guest; give the claim back."""
        self.host.tracker.release(instance_uuid)

    def post_live_migration_at_destination(self, ctx: Any, instance_uuid: str, migrate_data: dict[str, Any],
                                           source_host: str) -> None:
        """On the destination: take the guest over; this host is now the instance's."""
        ctx = as_ctx(ctx)
        host = self.host
        with host.locks.lock(instance_uuid):
            inst = objects.get_instance(instance_uuid)
            try:
                with objects.action_event(ctx, instance_uuid, "compute_post_live_migration_at_destination",
                                          host.name):
                    host.driver.post_live_migration_at_destination(host.driver_instance(inst), migrate_data,
                                                                   host.network.vifs(ctx, instance_uuid))
                    objects.update_instance(instance_uuid, {
                        "host": host.name, "node": host.name, "task_state": None,
                        "availability_zone": inst["availability_zone"],
                        "power_state": int(host.power_state({**inst, "host": host.name}))},
                        expected_task_state=st.MIGRATING)
                records.set_status(instance_uuid, "completed", types=(records.LIVE,))
            except Exception as err:
                host.tracker.release(instance_uuid)
                self._failed(instance_uuid, "compute_post_live_migration_at_destination", err, st.MIGRATING)
                objects.update_instance(instance_uuid, {"vm_state": st.ERROR})
            finally:
                objects.finish_action(ctx, instance_uuid)

    # -- evacuation -----------------------------------------------------------------
    def evacuate_instance(self, ctx: Any, instance_uuid: str, source_host: str,
                          admin_password: str | None = None) -> None:
        """On the destination: spawn the instance of the down ``source_host`` here, from its image."""
        ctx = as_ctx(ctx)
        host = self.host
        with host.locks.lock(instance_uuid):
            inst = objects.get_instance(instance_uuid)
            stopped = (inst.get("system_metadata") or {}).get("evacuated_from_state") == st.STOPPED
            try:
                with objects.action_event(ctx, instance_uuid, "compute_rebuild_instance", host.name):
                    host.tracker.claim(instance_uuid, inst["flavor"])
                    image = host.image(ctx, inst["image_ref"])
                    driver_inst = host.driver_instance(inst)
                    host.driver.spawn(driver_inst, image, host.network.vifs(ctx, instance_uuid), (),
                                      admin_password=admin_password)
                    if stopped:
                        host.driver.power_off(driver_inst, 0)
                    meta = dict(inst.get("system_metadata") or {})
                    meta.pop("evacuated_from_state", None)
                    objects.update_instance(instance_uuid, {
                        "vm_state": st.STOPPED if stopped else st.ACTIVE, "task_state": None,
                        "host": host.name, "node": host.name, "launched_at": utcnow(), "system_metadata": meta,
                        "power_state": int(PowerState.SHUTDOWN if stopped else PowerState.RUNNING)},
                        expected_task_state=st.REBUILDING)
                records.set_status(instance_uuid, "done", types=(records.EVACUATION,))
            except Exception as err:
                host.tracker.release(instance_uuid)
                records.set_status(instance_uuid, "failed", types=(records.EVACUATION,))
                host.op_failed(instance_uuid, "compute_rebuild_instance", err, st.REBUILDING)
                objects.update_instance(instance_uuid, {"vm_state": st.ERROR})
            finally:
                objects.finish_action(ctx, instance_uuid)

    def cleanup_evacuated(self) -> int:
        """On a source that is up again: destroy the copies of instances evacuated away from it.

        Each evacuation ``done`` from this host becomes ``completed`` once its copy here is gone (as
        Nova's ``_destroy_evacuated_instances``). Returns how many were removed.
        """
        host = self.host
        hosts = getattr(host.hub.compute, "hosts", None)
        if hosts is not None and host.name in hosts.down_hosts():
            return 0  # still down (or forced down): Nova cleans up only when the service is back
        done = 0
        for m in records.evacuations_from(host.name):
            try:
                inst = objects.get_instance(m["instance_uuid"], read_deleted=True, with_tags=False)
            except exception.NotFound:
                inst = {"uuid": m["instance_uuid"]}
            if inst.get("host") == host.name and not inst.get("deleted"):
                continue  # evacuated back here meanwhile
            with host.locks.lock(m["instance_uuid"]):
                try:
                    host.driver.destroy(virt.instance({**inst, "uuid": m["instance_uuid"]}), [])
                except Exception:
                    LOG.exception("Host %s: removing evacuated instance %s failed", host.name, m["instance_uuid"])
                    continue
                host.tracker.release(m["instance_uuid"])
            records.mark(m["uuid"], "completed")
            LOG.info("Host %s: removed instance %s, evacuated to %s", host.name, m["instance_uuid"],
                     m["dest_compute"])
            done += 1
        return done

    # -- shelving ---------------------------------------------------------------------
    def shelve_instance(self, ctx: Any, instance_uuid: str, image_id: str) -> None:
        """Power off, snapshot to ``image_id``, SHELVED; offloaded at once with ``shelved_offload_time`` 0."""
        ctx = as_ctx(ctx)
        host = self.host
        with host.locks.lock(instance_uuid):
            inst = objects.get_instance(instance_uuid)
            try:
                with objects.action_event(ctx, instance_uuid, "compute_shelve_instance", host.name):
                    driver_inst = host.driver_instance(inst)
                    host.driver.power_off(driver_inst, CONF.compute.shutdown_timeout
                                          if inst["vm_state"] == st.ACTIVE else 0)
                    image_svc = host.image_service()
                    if image_svc is not None and "snapshot" in host.driver.capabilities:
                        _snapshot_to(host, ctx, driver_inst, image_svc, image_id)
                    meta = {**(inst.get("system_metadata") or {}), "shelved_at": utcnow().isoformat(),
                            "shelved_image_id": image_id, "shelved_host": host.name}
                    objects.update_instance(instance_uuid, {
                        "vm_state": st.SHELVED, "task_state": None, "system_metadata": meta,
                        "power_state": int(PowerState.SHUTDOWN)}, expected_task_state=st.SHELVING)
            except Exception as err:
                host.op_failed(instance_uuid, "compute_shelve_instance", err, st.SHELVING)
                return
            finally:
                objects.finish_action(ctx, instance_uuid)
        if CONF.compute.shelved_offload_time == 0:
            try:
                objects.update_instance(instance_uuid, {"task_state": st.SHELVING_OFFLOADING},
                                        expected_task_state=None, expected_vm_state=st.SHELVED)
            except exception.CumuloError:
                return
            self.shelve_offload_instance(ctx, instance_uuid)

    def shelve_offload_instance(self, ctx: Any, instance_uuid: str) -> None:
        """Destroy the shelved guest here and release the host: SHELVED_OFFLOADED."""
        ctx = as_ctx(ctx)
        host = self.host
        with host.locks.lock(instance_uuid):
            inst = objects.get_instance(instance_uuid)
            try:
                with objects.action_event(ctx, instance_uuid, "compute_shelve_offload_instance", host.name):
                    host.driver.destroy(host.driver_instance(inst), host.network.vifs(ctx, instance_uuid))
                    host.tracker.release(instance_uuid)
                    objects.update_instance(instance_uuid, {
                        "vm_state": st.SHELVED_OFFLOADED, "task_state": None, "host": None, "node": None,
                        "power_state": int(PowerState.SHUTDOWN)}, expected_task_state=st.SHELVING_OFFLOADING)
            except Exception as err:
                host.op_failed(instance_uuid, "compute_shelve_offload_instance", err, st.SHELVING_OFFLOADING)
            finally:
                objects.finish_action(ctx, instance_uuid)

    def unshelve_instance(self, ctx: Any, instance_uuid: str) -> None:
        """Run the shelved instance here again (power on, or spawn from its shelved image); delete the image."""
        ctx = as_ctx(ctx)
        host = self.host
        with host.locks.lock(instance_uuid):
            inst = objects.get_instance(instance_uuid)
            meta = dict(inst.get("system_metadata") or {})
            image_id = meta.get("shelved_image_id")
            offloaded = inst["vm_state"] == st.SHELVED_OFFLOADED
            try:
                with objects.action_event(ctx, instance_uuid, "compute_unshelve_instance", host.name):
                    driver_inst = host.driver_instance(inst)
                    if offloaded:
                        host.tracker.claim(instance_uuid, inst["flavor"])
                        image = host.image(ctx, image_id or inst["image_ref"])
                        host.driver.spawn(driver_inst, image, host.network.vifs(ctx, instance_uuid), (),
                                          admin_password=None)
                    else:
                        host.driver.power_on(driver_inst)
                    for key in SHELVED_KEYS:
                        meta.pop(key, None)
                    objects.update_instance(instance_uuid, {
                        "vm_state": st.ACTIVE, "task_state": None, "host": host.name, "node": host.name,
                        "system_metadata": meta, "power_state": int(PowerState.RUNNING)},
                        expected_task_state=st.UNSHELVING)
            except Exception as err:
                if offloaded:
                    host.tracker.release(instance_uuid)
                    try:
                        host.driver.destroy(host.driver_instance(inst), [])
                    except Exception:
                        LOG.exception("Cleanup of failed unshelve of %s failed", instance_uuid)
                    objects.update_instance(instance_uuid, {"host": None, "node": None})
                host.op_failed(instance_uuid, "compute_unshelve_instance", err, st.UNSHELVING)
                return
            finally:
                objects.finish_action(ctx, instance_uuid)
        _delete_image(host, ctx, image_id)

    # -- backups ------------------------------------------------------------------------
    def rotate_backups(self, ctx: Any, instance_uuid: str, backup_type: str, rotation: int) -> int:
        """Delete the oldest ``backup_type`` backups of the instance beyond ``rotation``; returns how many."""
        ctx = as_ctx(ctx)
        image_svc = self.host.image_service()
        if image_svc is None:
            return 0
        images = image_svc.list(ctx, {"image_type": "backup", "backup_type": backup_type,
                                      "instance_uuid": instance_uuid}, sort=[("created_at", "desc")])
        excess = list(images)[rotation:]
        for image in excess:
            _delete_image(self.host, ctx, image["id"])
        return len(excess)


def _snapshot_to(host: ComputeHost, ctx: Any, driver_inst: Any, image_svc: Any, image_id: str) -> None:
    import tempfile

    from cumulo_service_compute.host_rebuild import _chunks

    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        host.driver.snapshot(driver_inst, spool.write)
        spool.seek(0)
        image_svc.upload(ctx, image_id, _chunks(spool))


def _delete_image(host: ComputeHost, ctx: Any, image_id: str | None) -> None:
    image_svc = host.image_service()
    if not image_id or image_svc is None:
        return
    try:
        image_svc.delete(ctx, image_id)
    except exception.NotFound:
        pass
    except Exception:
        LOG.exception("Deleting image %s failed", image_id)
