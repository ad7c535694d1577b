"""Hot-plugging interfaces on one host's instances: what the API side asks (RPC calls) once the
network area has made or bound the port (:mod:`.server_interfaces`).

Each runs under the instance lock, reads the port back from the network area as the
driver's :class:`~cumulo.interfaces.hypervisor.VIF` and hands it to the driver's
``attach_interface`` / ``detach_interface``, recording the step in the server's action log.
Errors propagate to the caller, which gives the port back after a failed attach.
"""

from __future__ import annotations

from typing import Any

import cumulo_service_compute.objects as objects
from cumulo import exception
from cumulo.context import RequestContext
from cumulo.interfaces.hypervisor import VIF
from cumulo_service_compute.host import ComputeHost
from cumulo_service_compute.host_common import as_ctx


class Interfaces:
    """Plug and unplug the ports of the instances of ``host``."""

    def __init__(self, host: ComputeHost) -> None:
        self.host = host

    def _vif(self, ctx: RequestContext, instance_uuid: str, port_id: str) -> VIF:
        for vif in self.host.network.vifs(ctx, instance_uuid):
            if vif.id == port_id:
                return vif
        raise exception.NotFound(f"Port {port_id} is not attached to instance {instance_uuid}.")

    def attach_interface(self, ctx: Any, instance_uuid: str, port_id: str) -> None:
        """Plug port ``port_id`` (bound to the instance already) into the guest.

        :raises cumulo.exception.NotFound: no such instance, or the port is not the instance's.
        :raises cumulo.exception.NotImplementedByDriver: the hypervisor cannot hot-plug.
        """
        ctx = as_ctx(ctx)
        with self.host.locks.lock(instance_uuid):
            inst = objects.get_instance(instance_uuid)
            vif = self._vif(ctx, instance_uuid, port_id)
            with objects.action_event(ctx, instance_uuid, "compute_attach_interface", self.host.name):
                self.host.driver.attach_interface(self.host.driver_instance(inst), vif)

    def detach_interface(self, ctx: Any, instance_uuid: str, port_id: str) -> None:
        """Unplug port ``port_id`` from the guest (the caller gives the port back afterwards).

        :raises cumulo.exception.NotFound: no such instance, or the port is not the instance's.
        :raises cumulo.exception.NotImplementedByDriver: the hypervisor cannot hot-plug.
        """
        ctx = as_ctx(ctx)
        with self.host.locks.lock(instance_uuid):
            inst = objects.get_instance(instance_uuid)
            vif = self._vif(ctx, instance_uuid, port_id)
            with objects.action_event(ctx, instance_uuid, "compute_detach_interface", self.host.name):
                self.host.driver.detach_interface(self.host.driver_instance(inst), vif)
