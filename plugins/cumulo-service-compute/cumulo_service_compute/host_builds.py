"""Building and deleting instances on one host.

A build claims the flavor on the host, allocates the instance's ports through the
network contract, makes and exports its volumes (:class:`~.host_volumes.Volumes`) and
spawns it with their VIFs and block devices. A build that fails here is cleaned up
(hypervisor, ports, the volumes' exports, claim) and handed back to the scheduling step
with this host excluded, up to ``[compute] max_attempts``; a client's mistake (a bad
network, a port in use, quota) or a volume that cannot be set up fails at once. A delete
destroys the instance, gives its volumes back (deleting those with ``delete_on_termination``)
and finishes the record (``hub.compute.finish_delete``).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence
from typing import Any

import cumulo_service_compute.block_devices as bdms
import cumulo_service_compute.objects as objects
import cumulo_service_compute.states as st
import cumulo_service_compute.virt as virt
from cumulo import exception
from cumulo.conf import CONF
from cumulo.context import RequestContext
from cumulo.contracts.network import InstancePort
from cumulo.db.models.base import utcnow
from cumulo.interfaces.hypervisor import VIF, PowerState
from cumulo_service_compute.host import ComputeHost
from cumulo_service_compute.host_common import BUILD_TASK_STATES, SCHEDULED_BY, as_ctx, release_claims
from cumulo_service_compute.host_volumes import BlockDeviceSetupFailed, Volumes

LOG = logging.getLogger(__name__)


class Builds:
    """Build, delete and post-resize cleanup of the instances of ``host``."""

    def __init__(self, host: ComputeHost, volumes: Volumes) -> None:
        self.host, self.volumes = host, volumes

    def build_and_run_instance(self, ctx: Any, instance_uuid: str, admin_password: str | None = None,
                               requested_networks: Any = None, security_groups: list[str] | None = None,
                               attempt: int = 1, ignore_hosts: list[str] | None = None,
                               request_spec: dict[str, Any] | None = None) -> None:
        ctx = as_ctx(ctx)
        host = self.host
        with host.locks.lock(instance_uuid):
            try:
                inst = objects.get_instance(instance_uuid)
            except exception.NotFound:
                return
            if inst["task_state"] == st.DELETING or inst["vm_state"] != st.BUILDING or inst["host"] != host.name:
                LOG.info("Instance %s: build on %s abandoned (%s/%s on %s)", instance_uuid, host.name,
                         inst["vm_state"], inst["task_state"], inst["host"])
                return
            ports: list[InstancePort] = []
            claimed = False
            phase = "resource claim"
            try:
                with objects.action_event(ctx, instance_uuid, "compute__do_build_and_run_instance", host.name):
                    host.tracker.claim(instance_uuid, inst["flavor"])
                    claimed = True
                    phase = "network setup"
                    objects.update_instance(instance_uuid, {"task_state": st.NETWORKING},
                                            expected_task_state=[st.SCHEDULING, st.NETWORKING, st.SPAWNING])
                    ports = host.network.allocate(ctx, instance_uuid, requested_networks, security_groups)
                    phase = "block device setup"
                    objects.update_instance(instance_uuid, {"task_state": st.SPAWNING},
                                            expected_task_state=st.NETWORKING)
                    block_devices = self.volumes.prepare(ctx, inst)
                    phase = "spawn"
                    image = host.image(ctx, inst["image_ref"] or self._root_image(block_devices, inst))
                    host.driver.spawn(host.driver_instance(inst), image, virt.vifs(ports), block_devices,
                                      admin_password=admin_password)
                    objects.update_instance(instance_uuid, {
                        "vm_state": st.ACTIVE, "task_state": None, "power_state": int(PowerState.RUNNING),
                        "launched_at": utcnow(), "progress": 100}, expected_task_state=st.SPAWNING)
            except Exception as err:
                self.cleanup_build(ctx, inst, virt.vifs(ports), claimed)
                # A NotFound or Conflict may mean the server was deleted (or taken over) while it
                # was building: then there is nothing to report. Anything else, a not-found security
                # group or an exhausted subnet included, is this build's failure and goes to the fault.
                if not self._still_building_here(instance_uuid):
                    LOG.info("Instance %s: build on %s stopped, the server was deleted or moved on (%s)",
                             instance_uuid, host.name, err)
                    return
                self._build_failed(ctx, inst, err, attempt, list(ignore_hosts or []), request_spec,
                                   admin_password, requested_networks, security_groups, phase)
                return
            finally:
                objects.finish_action(ctx, instance_uuid)

    @staticmethod
    def _root_image(block_devices: Sequence[object], inst: dict[str, Any]) -> str | None:
        """The image a volume-backed server was made from (its image is "": the driver boots the volume)."""
        for m in bdms.mappings(inst["uuid"]):
            if m["boot_index"] == 0 and m["image_id"]:
                return str(m["image_id"])
        return None

    def _still_building_here(self, uuid: str) -> bool:
        """Whether the instance still exists, is building, not being deleted, and on this host."""
        try:
            inst = objects.get_instance(uuid, with_tags=False)
        except exception.NotFound:
            return False
        return (inst["vm_state"] == st.BUILDING and inst["task_state"] in BUILD_TASK_STATES
                and inst["host"] == self.host.name)

    def cleanup_build(self, ctx: RequestContext, inst: dict[str, Any], vifs: Sequence[VIF], claimed: bool) -> None:
        """Undo a build: the hypervisor's instance, the ports, the volumes' exports (each stays reserved
        for the server), the claim (when it was made). Never raises."""
        host = self.host
        try:
            host.driver.destroy(host.driver_instance(inst), vifs, bdms.driver_block_devices(inst["uuid"]))
        except Exception:
            LOG.exception("Cleanup of %s on %s failed", inst["uuid"], host.name)
        host.network.deallocate(ctx, inst["uuid"])
        self.volumes.undo_build(ctx, inst["uuid"])
        if claimed:
            host.tracker.release(inst["uuid"])

    def _build_failed(self, ctx: RequestContext, inst: dict[str, Any], err: BaseException, attempt: int,
                      ignore_hosts: list[str], request_spec: dict[str, Any] | None, admin_password: str | None,
                      requested_networks: Any, security_groups: list[str] | None, phase: str = "build") -> None:
        host = self.host
        uuid = inst["uuid"]
        LOG.warning("Build of %s failed on %s during %s (attempt %d): %s", uuid, host.name, phase, attempt, err)
        # A client mistake (bad network, port in use, quota) fails the same everywhere: no retry.
        retryable = not (isinstance(err, exception.CumuloError) and 400 <= err.code < 500
                         and not isinstance(err, exception.NotImplementedByDriver)) \
            and not isinstance(err, BlockDeviceSetupFailed)
        if retryable and attempt < CONF.compute.max_attempts:
            owner = getattr(host.hub.compute, "owner", None)
            values: dict[str, Any] = {"host": None, "node": None, "task_state": st.SCHEDULING}
            if owner:
                values["system_metadata"] = {**(inst.get("system_metadata") or {}), SCHEDULED_BY: owner}
            try:
                objects.update_instance(uuid, values, expected_task_state=[st.NETWORKING, st.SPAWNING, st.SCHEDULING])
            except exception.CumuloError:
                return  # deleted meanwhile
            host.hub.compute.schedule_and_build(
                ctx, [uuid], request_spec or {}, attempt=attempt + 1, ignore_hosts=ignore_hosts + [host.name],
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
        objects.add_fault(uuid, message, code, details, host.name)
        try:
            objects.update_instance(uuid, {"vm_state": st.ERROR, "task_state": None},
                                    expected_task_state=[st.NETWORKING, st.SPAWNING, st.SCHEDULING])
        except exception.CumuloError:
            pass
        release_claims(host.hub, ctx, [uuid])

    def terminate_instance(self, ctx: Any, instance_uuid: str) -> None:
        ctx = as_ctx(ctx)
        host = self.host
        with host.locks.lock(instance_uuid):
            try:
                inst = objects.get_instance(instance_uuid)
            except exception.NotFound:
                return
            try:
                with objects.action_event(ctx, instance_uuid, "compute_terminate_instance", host.name):
                    vifs = host.network.vifs(ctx, instance_uuid)
                    host.driver.destroy(host.driver_instance(inst), vifs, bdms.driver_block_devices(instance_uuid))
                    bdms.release_volumes(host.hub, ctx, instance_uuid)
                    resize = inst.get("resize") or {}
                    if resize.get("source_host") == host.name:  # resized on this host: drop the copy kept
                        host.driver.confirm_migration(host.driver_instance(inst), vifs)  # for a revert too
                    host.hub.compute.finish_delete(ctx, inst)
                    host.tracker.release(instance_uuid)
                    host.tracker.release(instance_uuid + ":resize")
                    if resize.get("source_host") and resize.get("source_host") != host.name:
                        host.hub.compute.rpc.cast(ctx, "cleanup_resize_source", server=resize["source_host"],
                                                  instance_uuid=instance_uuid)
            except Exception as err:
                LOG.exception("Delete of %s on %s failed", instance_uuid, host.name)
                objects.set_error(instance_uuid, f"Delete failed on {host.name}: {err}", host=host.name)
            finally:
                objects.finish_action(ctx, instance_uuid)
        host.locks.forget(instance_uuid)

    def cleanup_resize_source(self, ctx: Any, instance_uuid: str) -> None:
        """On a resize's source, after the resized instance was deleted: drop the copy kept for a revert."""
        host = self.host
        try:
            gone = virt.instance({"uuid": instance_uuid})
            host.driver.destroy(gone, [])
            host.driver.confirm_migration(gone, [])  # the copy kept for a revert (``<uuid>_resize``)
        except Exception:
            LOG.exception("Cleanup of resize source of %s failed", instance_uuid)
        host.tracker.release(instance_uuid)
        host.tracker.release(instance_uuid + ":resize")
