"""The network area as one compute host calls it: the kernel contract
:class:`cumulo.contracts.network.NetworkService`, typed records only.

A build allocates the instance's ports (:class:`~cumulo.contracts.network.InstancePort`
records); every later driver call reads them back and hands them to the driver as
:class:`~cumulo.interfaces.hypervisor.VIF` records (:func:`.virt.vifs`), so the port's
MAC, fixed IPs, network, MTU and bridge reach the hypervisor. A cloud without a
network service gives no ports.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import cumulo_service_compute.virt as virt
from cumulo.context import RequestContext
from cumulo.contracts.network import AUTO, NONE, InstancePort, NetworkService
from cumulo.interfaces.hypervisor import VIF
from cumulo_service_compute.common import network_request
from cumulo_service_compute.host_common import optional

LOG = logging.getLogger(__name__)


class HostNetwork:
    """``hub.network`` for the instances of compute host ``host``."""

    def __init__(self, hub: Any, host: str) -> None:
        self.hub, self.host = hub, host

    def service(self) -> NetworkService | None:
        """``hub.network``, or None when this cloud runs no network service."""
        net: NetworkService | None = optional(self.hub, "network")
        return net

    def allocate(self, ctx: RequestContext, instance_uuid: str, requested_networks: Any,
                 security_groups: Sequence[str] | None) -> list[InstancePort]:
        """Make (or bind) the instance's ports on this host, as the server asked (``"none"``: no port).

        Errors are the network service's; it has undone its part when one propagates.
        """
        net = self.service()
        if net is None or requested_networks == NONE:
            return []
        return list(net.allocate_instance_ports(ctx, instance_uuid, self.host,
                                                network_request(requested_networks or AUTO),
                                                list(security_groups or ["default"])))

    def vifs(self, ctx: RequestContext, instance_uuid: str) -> list[VIF]:
        """The instance's ports as the driver's VIFs; [] without a network service or when reading fails.

        A driver call (destroy, resize, rebuild...) goes ahead without them rather than fail on the network.
        """
        net = self.service()
        if net is None:
            return []
        try:
            return virt.vifs(net.instance_ports(ctx, instance_uuid))
        except Exception:
            LOG.exception("Network info for %s failed", instance_uuid)
            return []

    def deallocate(self, ctx: RequestContext, instance_uuid: str) -> None:
        """Release the instance's ports; a failure is logged (the instance is being cleaned up anyway)."""
        net = self.service()
        if net is None:
            return
        try:
            net.deallocate_for_instance(ctx, instance_uuid)
        except Exception:
            LOG.exception("Deallocating network of %s failed", instance_uuid)
