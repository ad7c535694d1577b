"""One compute host as its components see it (:class:`ComputeHost`), and the run of an operation
that moves an instance from one task state to its end state (:func:`run_state_op`).

Every per-host component (builds, power actions, rebuilds, resizes, consoles,
reconciliation) is given the same :class:`ComputeHost`: its name, hypervisor
driver and hub, its resource claims, per-instance locks and network client.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import cumulo_service_compute.objects as objects
import cumulo_service_compute.states as st
import cumulo_service_compute.virt as virt
from cumulo import exception
from cumulo.conf import CONF
from cumulo.context import RequestContext
from cumulo.interfaces import hypervisor as hv
from cumulo.interfaces.hypervisor import InstanceNotFound, PowerState
from cumulo_service_compute.host_common import InstanceLocks, as_ctx, optional
from cumulo_service_compute.host_network import HostNetwork
from cumulo_service_compute.host_resources import ResourceTracker, host_resources

LOG = logging.getLogger(__name__)


class ComputeHost:
    """What the components of one host share: ``name``, ``driver``, ``hub``, ``tracker``, ``locks``, ``network``."""

    def __init__(self, name: str, driver: Any, hub: Any) -> None:
        self.name, self.driver, self.hub = name, driver, hub
        self.tracker = ResourceTracker(name, host_resources(driver, name))
        self.locks = InstanceLocks()
        self.network = HostNetwork(hub, name)

    def image_service(self) -> Any | None:
        """``hub.image``, or None when this cloud runs no image service."""
        return optional(self.hub, "image")

    def image_meta(self, ctx: RequestContext, image_ref: str | None) -> hv.ImageMeta:
        """The image's record for the driver (only its id when the image is gone)."""
        image_svc = self.image_service()
        view: dict[str, Any] | None = None
        if image_ref and image_svc is not None:
            try:
                view = dict(image_svc.get(ctx, image_ref))
            except exception.NotFound:
                view = None
        return virt.image_meta(image_ref, view)

    def image(self, ctx: RequestContext, image_ref: str | None) -> hv.ImageReader:
        """The image's reader: its bytes are fetched from the image area only if the driver reads them."""
        return virt.image_reader(self.image_service(), ctx, self.image_meta(ctx, image_ref),
                                 virt.image_cache_dir(CONF.state_path))

    @staticmethod
    def driver_instance(inst: Mapping[str, Any], flavor: Mapping[str, Any] | None = None) -> hv.Instance:
        """The instance row as the driver's record (``flavor`` overrides its flavor: a resize)."""
        return virt.instance(inst, flavor)

    def power_state(self, inst: Mapping[str, Any]) -> PowerState:
        """What the driver says of the instance; NOSTATE when it cannot tell."""
        try:
            return PowerState(self.driver.get_power_state(self.driver_instance(inst)))
        except Exception:
            return PowerState.NOSTATE

    def op_failed(self, uuid: str, event: str, err: BaseException, task_state: str) -> None:
        """Record a failed non-build operation: a fault, the task state cleared (ERROR if the driver lost it).

        Call from the ``except`` block: the fault's details are the current traceback.
        """
        LOG.warning("Instance %s: %s failed on %s: %s", uuid, event, self.name, err)
        objects.add_fault(uuid, f"{type(err).__name__}: {err}", getattr(err, "code", 500) or 500,
                          traceback.format_exc()[-4000:], self.name)
        try:
            # The instance stays where it was, with the fault recorded; a driver that lost the
            # instance puts it in ERROR.
            values: dict[str, Any] = {"task_state": None}
            if isinstance(err, InstanceNotFound):
                values["vm_state"] = st.ERROR
            objects.update_instance(uuid, values, expected_task_state=task_state)
        except exception.CumuloError:
            pass


def run_state_op(host: ComputeHost, ctx: Any, instance_uuid: str, event: str, task_state: str,
                 work: Callable[[hv.Instance], object], done: dict[str, Any]) -> None:
    """Run ``work(instance)`` under the instance lock, then move the instance to ``done``.

    Skipped when the instance is gone or no longer in ``task_state`` (another request won);
    the power state is read back from the driver unless ``done`` gives it. A failure is
    recorded as the instance's fault (:meth:`ComputeHost.op_failed`).
    """
    ctx = as_ctx(ctx)
    with host.locks.lock(instance_uuid):
        try:
            inst = objects.get_instance(instance_uuid)
        except exception.NotFound:
            return
        if inst["task_state"] != task_state:
            LOG.info("Instance %s: %s skipped, task_state is %s", instance_uuid, event, inst["task_state"])
            return
        try:
            with objects.action_event(ctx, instance_uuid, event, host.name):
                work(host.driver_instance(inst))
                values = dict(done)
                values.setdefault("power_state", int(host.power_state(inst)))
                objects.update_instance(instance_uuid, {**values, "task_state": None},
                                        expected_task_state=task_state)
        except Exception as err:
            host.op_failed(instance_uuid, event, err, task_state)
        finally:
            objects.finish_action(ctx, instance_uuid)
