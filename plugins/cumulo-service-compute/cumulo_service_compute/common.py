"""What the compute service's components share: the hub's plumbing and small helpers on instances.

A leaf module: it imports no component, so every component may import it.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
from collections.abc import Collection, Mapping
from typing import Any, Protocol

import cumulo_service_compute.objects as objects
import cumulo_service_compute.rpc as rpc
from cumulo import exception
from cumulo.conf import CONF
from cumulo.context import RequestContext
from cumulo.contracts.network import NetworkRequest, NetworkService, RequestedNetwork
from cumulo.db.models.base import utcnow
from cumulo_service_compute.host_common import optional


class HostStates(Protocol):
    """What :func:`ready_to_plug` reads of the hosts (:class:`cumulo_service_compute.hosts.Hosts`,
    which imports this module)."""

    def capabilities(self, host: str | None) -> set[str] | None: ...

    def down_hosts(self) -> set[str]: ...

#: The service the compute hosts register and heartbeat as.
BINARY = "cumulo-compute"


class Plumbing:
    """One per ``hub.compute``: the hub, the RPC client to the hosts, the scheduling pool, who schedules."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self._rpc: Any = None
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=CONF.compute.build_workers,
                                                          thread_name_prefix="compute-schedule")
        #: Who schedules the builds this process accepts (recorded on each: ``scheduled_by``), so a
        #: restart of this process knows which unplaced builds were its own (``reconcile_builds``).
        self.owner: str = str(CONF.host)
        #: When this service was built: work recorded later is this run's own.
        self.started = utcnow()

    @property
    def rpc(self) -> Any:
        """The RPC client of topic ``compute`` (built on first use; replaceable)."""
        if self._rpc is None:
            self._rpc = rpc.client(self.hub)
        return self._rpc

    @rpc.setter
    def rpc(self, value: Any) -> None:
        self._rpc = value

    def network(self) -> NetworkService | None:
        """``hub.network`` (the kernel's network contract), or None when this cloud runs no network service."""
        net: NetworkService | None = optional(self.hub, "network")
        return net

    def image(self) -> Any | None:
        """``hub.image``, or None when this cloud runs no image service."""
        return optional(self.hub, "image")


def network_request(requested: Any) -> NetworkRequest | None:
    """A server's requested networks as the network contract takes them.

    The compute area keeps (and casts to the hosts) what the API gave it: ``"auto"``,
    ``"none"``, None or Nova's ``{"uuid", "port", "fixed_ip"}`` items. Items become
    :class:`~cumulo.contracts.network.RequestedNetwork`; anything else is passed as is,
    for the network service to refuse with its own message.
    """
    if not isinstance(requested, list | tuple):
        return requested
    return [_requested_network(item) if isinstance(item, Mapping) else item for item in requested]


def _requested_network(item: Mapping[str, Any]) -> RequestedNetwork:
    # The alternatives read as the network service reads a dict item (first one set wins).
    return RequestedNetwork(network_id=item.get("uuid") or item.get("network_id"),
                            port_id=item.get("port") or item.get("port_id"),
                            fixed_ip=item.get("fixed_ip") or item.get("fixed_ip_address"))


def instance_for(ctx: RequestContext, uuid: str) -> dict[str, Any]:
    """The instance ``uuid`` if ``ctx`` may see it (its project's, or any for an administrator); else 404."""
    return objects.get_instance(uuid, project_id=None if ctx.is_admin else ctx.project_id)


def check_locked(ctx: RequestContext, inst: dict[str, Any]) -> None:
    """409 when the server is locked and the caller is not an administrator."""
    if inst["locked"] and not ctx.is_admin:
        raise exception.Conflict(f"Instance {inst['uuid']} is locked")


def ready_to_plug(ctx: RequestContext, hosts: HostStates, uuid: str, action: str, states: Collection[str],
                  capability: str) -> dict[str, Any]:
    """The server, if a device (a volume, a port) may be plugged into or out of it now; else 409.

    It must be unlocked (or the caller an administrator), in one of ``states`` with no task, on a
    host that is up and whose hypervisor has ``capability``.
    """
    inst = instance_for(ctx, uuid)
    check_locked(ctx, inst)
    if inst["vm_state"] not in states or inst["task_state"] is not None:
        raise exception.Conflict(
            f"Cannot '{action}' instance {uuid} while it is in vm_state {inst['vm_state']}"
            + (f", task_state {inst['task_state']}" if inst["task_state"] else ""))
    host = inst["host"]
    if not host:
        raise exception.Conflict(f"Instance {uuid} has no host; it cannot '{action}'.")
    caps = hosts.capabilities(host)
    if caps is not None and capability not in caps:
        raise exception.Conflict(f"The hypervisor of host {host} does not support {action} "
                                 f"(capability '{capability}').")
    if host in hosts.down_hosts():
        raise exception.Conflict(f"Host {host} of instance {uuid} is down.")
    return inst


def resolve_image(image_svc: Any | None, ctx: RequestContext, image_ref: str | None) -> dict[str, Any]:
    """The active image ``image_ref`` from ``image_svc`` (``hub.image``); 400 when it is missing or not active.

    Without an image service the reference is taken as is (an active image with no requirements).
    """
    if not image_ref:
        raise exception.Invalid(reason="An image, or a volume as the boot device, is required to boot a server.")
    if image_svc is None:
        return {"id": image_ref, "status": "active", "min_ram": 0, "min_disk": 0, "properties": {}}
    try:
        image = dict(image_svc.get(ctx, image_ref))
    except exception.NotFound:
        raise exception.Invalid(reason=f"Image {image_ref} could not be found.") from None
    if image.get("status", "active") != "active":
        raise exception.Invalid(reason=f"Image {image_ref} is not active (status {image.get('status')}).")
    return image


def image_props(image: dict[str, Any]) -> dict[str, Any]:
    """What the scheduler and the hosts need of an image (a build's request spec)."""
    return {k: image.get(k) for k in ("id", "name", "min_ram", "min_disk", "disk_format", "container_format",
                                      "properties") if k in image}


def flavor_snapshot(flavor: dict[str, Any]) -> dict[str, Any]:
    """The copy of a flavor a server keeps (a later change to the flavor does not change the server)."""
    snapshot = {k: flavor[k] for k in ("id", "name", "vcpus", "ram", "disk", "ephemeral", "swap", "extra_specs",
                                       "description")}
    snapshot["original_name"] = flavor["name"]
    return snapshot


def host_id(project_id: str, host: str | None) -> str:
    """The ``hostId`` a project sees for a host (same host, same id; another project cannot correlate it)."""
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()
