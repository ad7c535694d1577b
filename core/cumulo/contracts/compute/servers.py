"""The compute contract's server protocols: a server, its actions, consoles, metadata, log and groups.

Parts of :class:`~cumulo.contracts.compute.ComputeService` (``hub.compute``),
whose docstring states the rules every method follows (what the caller sees,
locked servers, "wrong state"). A caller that needs only one resource may be
typed against its protocol alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from cumulo.context import RequestContext
from cumulo.contracts.compute.views import (
    ConsoleView,
    InstanceActionView,
    InterfaceAttachmentView,
    ServerSecurityGroupView,
    ServerView,
)
from cumulo.contracts.compute.volumes import BlockDeviceRequest

#: The ``system_metadata`` key of a server's disk configuration (Nova's ``OS-DCF:diskConfig``: "True" for
#: AUTO, "False" for MANUAL, absent for never set), which ``update_server`` sets from ``auto_disk_config``
#: (contract 1.5).
AUTO_DISK_CONFIG = "auto_disk_config"

__all__ = [
    "AUTO_DISK_CONFIG", "InstanceActionService", "ServerActionService", "ServerConsoleService", "ServerInterfaceService",
    "ServerMetadataService", "ServerPowerService", "ServerSecurityGroupService", "ServerService",
]


@runtime_checkable
class ServerService(Protocol):
    """Servers: create, read, list, update and delete them, and their builds.

    ``finish_delete`` and ``schedule_and_build`` are the compute hosts' (a failed build comes back
    to be placed again); the rules of :class:`ComputeService` apply.
    """

    def create_servers(self, ctx: RequestContext, *, name: str, image_ref: str | None, flavor_id: str,
                       min_count: int = 1, max_count: int = 1, key_name: str | None = None,
                       user_data: str | None = None, metadata: dict[str, str] | None = None,
                       networks: str | list[dict[str, str]] = "auto", security_groups: list[str] | None = None,
                       availability_zone: str | None = None, scheduler_hints: dict[str, Any] | None = None,
                       admin_password: str | None = None, description: str | None = None,
                       tags: list[str] | None = None, config_drive: bool = False,
                       access_ip_v4: str | None = None, access_ip_v6: str | None = None,
                       hostname: str | None = None,
                       block_devices: Sequence[BlockDeviceRequest] = (),
                       auto_disk_config: bool | None = None) -> list[ServerView]:
        """Create ``min_count``..``max_count`` servers (as many as quota allows) in BUILD; builds start later.

        ``availability_zone`` may force a host (``zone:host[:node]``). ``networks``: "auto", "none" or
        requests ({"uuid"|"port", "fixed_ip", "tag"}). ``block_devices`` (contract 1.3): the
        block-device mapping; a volume at boot index 0 makes a volume-backed server (no
        ``image_ref``; its ``image_ref`` is ""): an existing volume is reserved now, one made from an
        image is made by the build before the spawn. ``auto_disk_config`` (contract 1.5): Nova's
        ``OS-DCF:diskConfig`` (AUTO: True, MANUAL: False), kept with the server; None keeps no choice.

        :raises Invalid: an unknown or disabled flavor, a missing or inactive image, a flavor too small for
            it, an unknown key pair, zone, host, network, port or security group; an invalid block-device
            mapping (an unknown or unavailable volume, no size for a volume made from an image, several
            servers with one volume, no volume service).
        :raises QuotaExceeded: instances, cores, ram, metadata_items or server_group_members.
        :raises NotFound: an unknown server group.
        :raises Conflict: a requested port in use.
        """

    def get_server(self, ctx: RequestContext, uuid: str) -> ServerView:
        """One server. :raises NotFound: no such server the caller can see."""

    def list_servers(self, ctx: RequestContext, *, filters: dict[str, Any] | None = None,
                     all_projects: bool = False, limit: int | None = None, marker: str | None = None,
                     sort: list[tuple[str, str]] | None = None, deleted: bool = False) -> list[ServerView]:
        """Servers matching Nova's list filters (name regex, status, tags...), sorted (newest first) and paged.

        :raises Invalid: an unknown sort key, ``marker`` or a bad name regex.
        """

    def update_server(self, ctx: RequestContext, uuid: str, values: dict[str, Any]) -> ServerView:
        """Set names, description or access IPs (other keys are ignored).

        Contract 1.5: ``auto_disk_config`` (a bool) sets the server's disk configuration, kept in its
        ``system_metadata`` under :data:`AUTO_DISK_CONFIG`.

        :raises NotFound: no such server.
        :raises Conflict: locked.
        """

    def delete_server(self, ctx: RequestContext, uuid: str, force: bool = False) -> None:
        """Start deleting (its host finishes; a server on no live host is deleted now).

        :raises NotFound: no such server.
        :raises Conflict: locked.
        """

    def finish_delete(self, ctx: RequestContext, inst: dict[str, Any]) -> None:
        """Mark server ``inst`` (a :data:`ServerView`) deleted and give its quota back, once (the hosts call it)."""

    def schedule_and_build(self, ctx: RequestContext, uuids: list[str], spec: dict[str, Any], *, attempt: int = 1,
                           ignore_hosts: list[str] | None = None, admin_password: str | None = None,
                           requested_networks: Any = "auto", security_groups: list[str] | None = None,
                           last_error: str | None = None) -> None:
        """Place servers in BUILD and cast their builds; a host that failed one hands it back here.

        Raises nothing for a lack of hosts: the servers go to ERROR with a fault.
        """


@runtime_checkable
class ServerPowerService(Protocol):
    """A server's power state; each moves the server to the action's task state and casts to its host."""

    def reboot(self, ctx: RequestContext, uuid: str, hard: bool = False) -> None:
        """Reboot. :raises NotFound: no such server. :raises Conflict: locked or wrong state."""

    def stop(self, ctx: RequestContext, uuid: str) -> None:
        """Power off. :raises NotFound: no such server. :raises Conflict: locked or wrong state."""

    def start(self, ctx: RequestContext, uuid: str) -> None:
        """Power on. :raises NotFound: no such server. :raises Conflict: locked or wrong state."""

    def pause(self, ctx: RequestContext, uuid: str) -> None:
        """Pause. :raises NotFound: no such server. :raises Conflict: locked or wrong state."""

    def unpause(self, ctx: RequestContext, uuid: str) -> None:
        """Unpause. :raises NotFound: no such server. :raises Conflict: locked or wrong state."""

    def suspend(self, ctx: RequestContext, uuid: str) -> None:
        """Suspend. :raises NotFound: no such server. :raises Conflict: locked or wrong state."""

    def resume(self, ctx: RequestContext, uuid: str) -> None:
        """Resume. :raises NotFound: no such server. :raises Conflict: locked or wrong state."""


@runtime_checkable
class ServerActionService(Protocol):
    """The other server actions: rescue, password, lock, rebuild, resize, snapshot.

    Those that change the server move it to the action's task state and cast to its host.
    """

    def reset_state(self, ctx: RequestContext, uuid: str, state: str) -> None:
        """Set the vm_state (``active`` or ``error``) and clear the task state, whatever they were
        (an administrator's repair; nothing is cast to the host; contract 1.4).

        :raises NotFound: no such server.
        :raises ValidationError: ``state`` is not ``active`` or ``error``.
        """

    def rescue(self, ctx: RequestContext, uuid: str, password: str | None = None,
               rescue_image_ref: str | None = None) -> str:
        """Boot the rescue image; returns the rescue password (generated when None).

        :raises NotFound: no such server.
        :raises Conflict: locked or wrong state.
        :raises Invalid: an unknown or inactive rescue image; a volume-backed server (contract 1.3).
        """

    def unrescue(self, ctx: RequestContext, uuid: str) -> None:
        """Leave rescue. :raises NotFound: no such server. :raises Conflict: locked or wrong state."""

    def change_password(self, ctx: RequestContext, uuid: str, password: str) -> None:
        """Set the admin password. :raises NotFound: no such server. :raises Conflict: locked or wrong state."""

    def lock(self, ctx: RequestContext, uuid: str, reason: str | None = None) -> None:
        """Lock against changes by non-administrators. :raises NotFound: no such server."""

    def unlock(self, ctx: RequestContext, uuid: str) -> None:
        """Unlock. :raises NotFound: no such server. :raises Forbidden: locked by an administrator."""

    def rebuild(self, ctx: RequestContext, uuid: str, image_ref: str, *, admin_password: str | None = None,
                name: str | None = None, metadata: dict[str, str] | None = None, description: str | None = ...,
                key_name: str | None = ..., user_data: str | None = ...) -> tuple[ServerView, str]:
        """Rebuild from ``image_ref``; returns the server and its new admin password.

        ``description``, ``key_name`` and ``user_data`` left out stay as they are (None clears them).

        :raises Invalid: an unknown or inactive image, or too big for the flavor; a volume-backed server
            (contract 1.3).
        :raises NotFound: no such server or key pair.
        :raises Conflict: locked or wrong state.
        """

    def resize(self, ctx: RequestContext, uuid: str, flavor_id: str) -> None:
        """Start a resize to another flavor (confirmed or reverted later).

        :raises Invalid: an unknown or the same flavor, a smaller disk, no host for it.
        :raises QuotaExceeded: cores or ram.
        :raises NotFound: no such server.
        :raises Conflict: locked or wrong state; volumes attached (contract 1.3).
        """

    def confirm_resize(self, ctx: RequestContext, uuid: str) -> None:
        """Confirm a resize. :raises NotFound: no such server. :raises Conflict: locked or not resized."""

    def revert_resize(self, ctx: RequestContext, uuid: str) -> None:
        """Revert a resize. :raises NotFound: no such server. :raises Conflict: locked or not resized."""

    def create_image(self, ctx: RequestContext, uuid: str, name: str, metadata: dict[str, str] | None = None) -> str:
        """Snapshot the server into a new image; returns the image id.

        :raises NotFound: no such server.
        :raises Conflict: locked, wrong state, or no image service.
        """


@runtime_checkable
class ServerConsoleService(Protocol):
    """A server's consoles, asked of its host.

    Besides the errors named, each may raise :class:`cumulo.exception.MessagingTimeout`.
    """

    def console_output(self, ctx: RequestContext, uuid: str, length: int | None = None) -> str:
        """The last ``length`` lines of the console log (all when None), asked of its host.

        :raises NotFound: no such server.
        :raises Conflict: not running, host down, or not supported.
        """

    def remote_console(self, ctx: RequestContext, uuid: str, console_type: str) -> ConsoleView:
        """Where to reach the server's ``console_type`` console, asked of its host.

        :raises NotFound: no such server.
        :raises Conflict: not running, host down, or not supported.
        """


@runtime_checkable
class ServerMetadataService(Protocol):
    """A server's metadata (key/value pairs) and tags."""

    def get_metadata(self, ctx: RequestContext, uuid: str) -> dict[str, str]:
        """The server's metadata. :raises NotFound: no such server."""

    def update_metadata(self, ctx: RequestContext, uuid: str, metadata: dict[str, str],
                        replace: bool = False) -> dict[str, str]:
        """Merge (or ``replace``) metadata; returns all of it.

        :raises NotFound: no such server.
        :raises Conflict: locked or being deleted.
        :raises QuotaExceeded: ``metadata_items``.
        """

    def delete_metadata(self, ctx: RequestContext, uuid: str, key: str) -> None:
        """Remove one key. :raises NotFound: no such server or key. :raises Conflict: locked."""

    def get_tags(self, ctx: RequestContext, uuid: str) -> list[str]:
        """The server's tags, sorted. :raises NotFound: no such server."""

    def set_tags(self, ctx: RequestContext, uuid: str, tags: list[str]) -> list[str]:
        """Replace the tags; returns them sorted.

        :raises NotFound: no such server.
        :raises Invalid: over 50 tags.
        :raises Conflict: wrong state.
        """

    def add_tag(self, ctx: RequestContext, uuid: str, tag: str) -> bool:
        """Add a tag; False when the server had it.

        :raises NotFound: no such server.
        :raises Invalid: over 50 tags.
        :raises Conflict: wrong state.
        """

    def delete_tag(self, ctx: RequestContext, uuid: str, tag: str) -> None:
        """Remove a tag. :raises NotFound: no such server or tag. :raises Conflict: wrong state."""

    def delete_tags(self, ctx: RequestContext, uuid: str) -> None:
        """Remove every tag. :raises NotFound: no such server. :raises Conflict: wrong state."""


@runtime_checkable
class InstanceActionService(Protocol):
    """A server's action log: the requests made on it and the steps its host ran."""

    def list_instance_actions(self, ctx: RequestContext, uuid: str) -> list[InstanceActionView]:
        """The requests made on a server (deleted too), newest first. :raises NotFound: no such server."""

    def get_instance_action(self, ctx: RequestContext, uuid: str, request_id: str) -> InstanceActionView:
        """One request with its events. :raises NotFound: no such server or request."""


@runtime_checkable
class ServerSecurityGroupService(Protocol):
    """The security groups of a server's ports (through the network service).

    Without a network service a server has only the names it was created with.
    """

    def security_groups(self, ctx: RequestContext, uuid: str) -> list[ServerSecurityGroupView]:
        """The server's security groups. :raises NotFound: no such server."""

    def add_security_group(self, ctx: RequestContext, uuid: str, group: str) -> None:
        """Add a group (name or id) to the server's ports.

        :raises NotFound: no such server or group.
        :raises Conflict: no network service.
        :raises Invalid: the server has it already.
        """

    def remove_security_group(self, ctx: RequestContext, uuid: str, group: str) -> None:
        """Remove a group (name or id) from the server's ports.

        :raises NotFound: no such server or group.
        :raises Conflict: no network service.
        :raises Invalid: the server does not have it.
        """


@runtime_checkable
class ServerInterfaceService(Protocol):
    """The ports plugged into a server, attached and detached while it exists (contract 1.2).

    Attaching and detaching need the network service, a server in ACTIVE, SHUTOFF or PAUSED
    with no task under way (else Conflict: wrong state), and a host whose hypervisor hot-plugs
    interfaces (capability ``attach_interface``). Both ask the server's host, so they may also
    raise :class:`cumulo.exception.MessagingTimeout`.
    """

    def list_interfaces(self, ctx: RequestContext, uuid: str) -> list[InterfaceAttachmentView]:
        """The server's interfaces, oldest first ([] without a network service). :raises NotFound: no such server."""

    def get_interface(self, ctx: RequestContext, uuid: str, port_id: str) -> InterfaceAttachmentView:
        """One interface. :raises NotFound: no such server, or ``port_id`` is not one of its ports."""

    def attach_interface(self, ctx: RequestContext, uuid: str, *, port_id: str | None = None,
                         network_id: str | None = None, fixed_ip: str | None = None,
                         tag: str | None = None) -> InterfaceAttachmentView:
        """Plug the user's port, or a new port on ``network_id`` (on ``fixed_ip``), into the server.

        Neither given: a port on the project's one network. A port made here goes away when it is
        detached or the server deleted; the user's is only unbound. A port the host's hypervisor
        fails to plug is undone.

        :raises NotFound: no such server, network or port.
        :raises Invalid: both a port and a network, a fixed IP without a network, a network without
            a subnet or the fixed IP not on it; no network to choose.
        :raises Conflict: locked, wrong state, no network service, the port in use, the fixed IP taken,
            no address left, several networks to choose from.
        :raises QuotaExceeded: no port left in the project's quota.
        """

    def detach_interface(self, ctx: RequestContext, uuid: str, port_id: str) -> None:
        """Unplug a port from the server, then delete it (made for the server) or unbind it (the user's).

        :raises NotFound: no such server, or not one of its ports.
        :raises Conflict: locked, wrong state, or no network service.
        """

    def add_fixed_ip(self, ctx: RequestContext, uuid: str, network_id: str) -> None:
        """Nova's ``addFixedIp``: a new interface on ``network_id`` (errors as :meth:`attach_interface`)."""

    def remove_fixed_ip(self, ctx: RequestContext, uuid: str, address: str) -> None:
        """Nova's ``removeFixedIp``: detach the interface holding fixed IP ``address`` (and no other address).

        :raises NotFound: no such server.
        :raises Invalid: no interface of the server holds ``address``.
        :raises Conflict: the interface holds other addresses too; or as :meth:`detach_interface`.
        """
