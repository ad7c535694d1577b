"""A resize (or cold migration) across two hosts, and its confirm or revert.

The steps alternate between the hosts over RPC: the destination claims the new
flavor (``prep_resize``), the source powers off and hands the disk over
(``resize_instance``), the destination starts the resized instance and it waits
in VERIFY_RESIZE (``finish_resize``). Confirming drops the source's copy
(``confirm_resize``); reverting removes the destination's and restarts the
original (``revert_resize`` then ``finish_revert_resize``). Each side plugs
the instance's ports from the network contract (its VIFs).
"""

from __future__ import annotations

from typing import Any

import cumulo_service_compute.migration_records as records
import cumulo_service_compute.objects as objects
import cumulo_service_compute.states as st
import cumulo_service_compute.virt as virt
from cumulo.interfaces.hypervisor import PowerState
from cumulo_service_compute.host import ComputeHost
from cumulo_service_compute.host_common import as_ctx, instance_exists, jsonable

#: The migration records a resize moves on (a cold migration is a resize to the same flavor).
_COLD = (records.RESIZE, records.MIGRATION)


def _size(flavor: dict[str, Any]) -> dict[str, Any]:
    """The instance row's size columns for ``flavor``."""
    return {"vcpus": flavor["vcpus"], "memory_mb": flavor["ram"], "root_gb": flavor["disk"],
            "ephemeral_gb": flavor.get("ephemeral", 0) or 0}


class Resizes:
    """The resize steps that run on ``host`` (as source or destination)."""

    def __init__(self, host: ComputeHost) -> None:
        self.host = host

    def _cast(self, ctx: Any, method: str, server: str, **kwargs: Any) -> None:
        self.host.hub.compute.rpc.cast(ctx, method, server=server, **kwargs)

    def prep_resize(self, ctx: Any, instance_uuid: str, new_flavor: dict[str, Any], source_host: str) -> None:
        """On the destination: claim the new flavor, then ask the source to move the disk."""
        ctx = as_ctx(ctx)
        host = self.host
        try:
            with objects.action_event(ctx, instance_uuid, "compute_prep_resize", host.name):
                host.tracker.claim(instance_uuid + ":resize", new_flavor)
                objects.update_instance(instance_uuid, {"task_state": st.RESIZE_MIGRATING},
                                        expected_task_state=st.RESIZE_PREP)
        except Exception as err:
            host.tracker.release(instance_uuid + ":resize")
            records.set_status(instance_uuid, "error", types=_COLD)
            host.op_failed(instance_uuid, "compute_prep_resize", err, st.RESIZE_PREP)
            if instance_exists(instance_uuid):
                objects.update_instance(instance_uuid, {"new_flavor": None, "resize": None})
            return
        self._cast(ctx, "resize_instance", source_host, instance_uuid=instance_uuid, dest_host=host.name,
                   new_flavor=new_flavor)

    def resize_instance(self, ctx: Any, instance_uuid: str, dest_host: str, new_flavor: dict[str, Any]) -> None:
        """On the source: power off and hand the disk to the destination."""
        ctx = as_ctx(ctx)
        host = self.host
        with host.locks.lock(instance_uuid):
            inst = objects.get_instance(instance_uuid)
            try:
                records.set_status(instance_uuid, "migrating", types=_COLD)
                with objects.action_event(ctx, instance_uuid, "compute_resize_instance", host.name):
                    disk_info = host.driver.migrate_disk_and_power_off(host.driver_instance(inst), dest_host,
                                                                       virt.flavor(new_flavor))
                    objects.update_instance(instance_uuid, {"task_state": st.RESIZE_FINISH},
                                            expected_task_state=st.RESIZE_MIGRATING)
            except Exception as err:
                self._cast(ctx, "abort_resize_claim", dest_host, instance_uuid=instance_uuid)
                records.set_status(instance_uuid, "error", types=_COLD)
                host.op_failed(instance_uuid, "compute_resize_instance", err, st.RESIZE_MIGRATING)
                return
        self._cast(ctx, "finish_resize", dest_host, instance_uuid=instance_uuid, disk_info=jsonable(disk_info),
                   source_host=host.name)

    def abort_resize_claim(self, ctx: Any, instance_uuid: str) -> None:
        """On the destination: the source failed; give the new flavor's claim back."""
        self.host.tracker.release(instance_uuid + ":resize")

    def finish_resize(self, ctx: Any, instance_uuid: str, disk_info: dict[str, Any], source_host: str) -> None:
        """On the destination: start the instance with the new flavor; it waits in VERIFY_RESIZE."""
        ctx = as_ctx(ctx)
        host = self.host
        with host.locks.lock(instance_uuid):
            inst = objects.get_instance(instance_uuid)
            new_flavor = inst["new_flavor"] or inst["flavor"]
            resized = host.driver_instance(inst, new_flavor)
            was_active = inst["vm_state"] == st.ACTIVE
            try:
                with objects.action_event(ctx, instance_uuid, "compute_finish_resize", host.name):
                    vifs = host.network.vifs(ctx, instance_uuid)
                    host.driver.finish_migration(resized, disk_info, vifs, host.image_meta(ctx, inst["image_ref"]),
                                                 resize_instance=True, power_on=was_active)
                    host.tracker.release(instance_uuid + ":resize")
                    host.tracker.replace(instance_uuid, new_flavor)
                    objects.update_instance(instance_uuid, {
                        "vm_state": st.RESIZED, "task_state": None, "host": host.name, "node": host.name,
                        "old_flavor": inst["flavor"], "flavor": new_flavor, "new_flavor": None, **_size(new_flavor),
                        "power_state": int(PowerState.RUNNING if was_active else PowerState.SHUTDOWN),
                        "resize": {"source_host": source_host, "dest_host": host.name,
                                   "was_active": was_active}}, expected_task_state=st.RESIZE_FINISH)
                records.set_status(instance_uuid, "finished", types=_COLD)
            except Exception as err:
                host.tracker.release(instance_uuid + ":resize")
                records.set_status(instance_uuid, "error", types=_COLD)
                host.op_failed(instance_uuid, "compute_finish_resize", err, st.RESIZE_FINISH)
                objects.update_instance(instance_uuid, {"vm_state": st.ERROR})
            finally:
                objects.finish_action(ctx, instance_uuid)

    def confirm_resize(self, ctx: Any, instance_uuid: str) -> None:
        """On the source: drop what was kept for a revert."""
        ctx = as_ctx(ctx)
        host = self.host
        inst = objects.get_instance(instance_uuid)
        try:
            with objects.action_event(ctx, instance_uuid, "compute_confirm_resize", host.name):
                if inst.get("resize", {}).get("source_host") == host.name and inst["host"] != host.name:
                    host.driver.confirm_migration(host.driver_instance(inst), host.network.vifs(ctx, instance_uuid))
                    host.tracker.release(instance_uuid)
                elif inst["host"] == host.name:
                    host.driver.confirm_migration(host.driver_instance(inst), host.network.vifs(ctx, instance_uuid))
                was_active = (inst.get("resize") or {}).get("was_active", True)
                objects.update_instance(instance_uuid, {
                    "vm_state": st.ACTIVE if was_active else st.STOPPED, "task_state": None, "old_flavor": None,
                    "resize": None}, expected_task_state=st.RESIZE_CONFIRMING)
                records.set_status(instance_uuid, "confirmed", types=_COLD)
        except Exception as err:
            host.op_failed(instance_uuid, "compute_confirm_resize", err, st.RESIZE_CONFIRMING)
        finally:
            objects.finish_action(ctx, instance_uuid)

    def revert_resize(self, ctx: Any, instance_uuid: str) -> None:
        """On the destination: remove the resized copy, then the source restarts the original."""
        ctx = as_ctx(ctx)
        host = self.host
        inst = objects.get_instance(instance_uuid)
        resize = inst.get("resize") or {}
        source = resize.get("source_host") or host.name
        try:
            with objects.action_event(ctx, instance_uuid, "compute_revert_resize", host.name):
                if source != host.name:
                    host.driver.destroy(host.driver_instance(inst), host.network.vifs(ctx, instance_uuid))
                    host.tracker.release(instance_uuid)
        except Exception as err:
            host.op_failed(instance_uuid, "compute_revert_resize", err, st.RESIZE_REVERTING)
            return
        self._cast(ctx, "finish_revert_resize", source, instance_uuid=instance_uuid)

    def finish_revert_resize(self, ctx: Any, instance_uuid: str) -> None:
        """On the source: restart the original instance with its old flavor."""
        ctx = as_ctx(ctx)
        host = self.host
        inst = objects.get_instance(instance_uuid)
        old = inst["old_flavor"] or inst["flavor"]
        was_active = (inst.get("resize") or {}).get("was_active", True)
        try:
            with objects.action_event(ctx, instance_uuid, "compute_finish_revert_resize", host.name):
                reverted = host.driver_instance(inst, old)
                host.driver.finish_revert_migration(reverted, host.network.vifs(ctx, instance_uuid),
                                                    power_on=was_active)
                host.tracker.release(instance_uuid + ":resize")
                host.tracker.replace(instance_uuid, old)
                objects.update_instance(instance_uuid, {
                    "vm_state": st.ACTIVE if was_active else st.STOPPED, "task_state": None, "host": host.name,
                    "node": host.name, "flavor": old, "old_flavor": None, "resize": None, **_size(old),
                    "power_state": int(PowerState.RUNNING if was_active else PowerState.SHUTDOWN)},
                    expected_task_state=st.RESIZE_REVERTING)
                records.set_status(instance_uuid, "reverted", types=_COLD)
        except Exception as err:
            host.op_failed(instance_uuid, "compute_finish_revert_resize", err, st.RESIZE_REVERTING)
        finally:
            objects.finish_action(ctx, instance_uuid)
