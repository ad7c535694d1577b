"""The compute area's contract: what ``hub.compute`` offers its frontends and the kernel's other parts.

The compute service (``cumulo_service_compute``) implements
:class:`ComputeService`, the typed facade of ``hub.compute``: every method,
grouped by resource, with the errors it raises. It answers with the views
below, plain dicts typed as TypedDicts (:data:`ServerView`,
:data:`FlavorView`, :data:`KeypairView`...): protocol-neutral (no API
microversion, no URL), which the Compute API frontend renders as Nova JSON.

Servers move through the vm and task states below (``vm_state`` and
``task_state`` of every :data:`ServerView`); a server's API ``status`` is
derived from the pair by the service. Server-group policies, quota resources
and key-pair types are validated against the values here, which the frontend
publishes in its JSON schemas. Neither side imports the other.

The errors are the kernel's (:mod:`cumulo.exception`), re-exported here by
name, each carrying its HTTP status: :class:`NotFound` (404),
:class:`Conflict` (409), :class:`Invalid` and its :class:`ValidationError`
(400), :class:`Forbidden` and its :class:`QuotaExceeded` (403).
"""

from __future__ import annotations

import datetime
from typing import Any, Final, Protocol, TypedDict, runtime_checkable

from cumulo.context import RequestContext
from cumulo.exception import Conflict, Forbidden, Invalid, NotFound, QuotaExceeded, ValidationError
from cumulo.interfaces.scheduler import HostState

#: Version of this contract ("MAJOR.MINOR"): a new value, view key, error or method is a minor
#: change, a removed or renamed one a major change. 1.1: :class:`ComputeService` and its views.
CONTRACT_VERSION = "1.1"

__all__ = [
    "CONTRACT_VERSION", "KEYPAIR_TYPES", "QUOTA_RESOURCES", "SERVER_GROUP_POLICIES", "TASK_STATES", "VM_STATES",
    "TaskStates", "VmStates",
    # the facade and its views
    "AggregateView", "AvailabilityZoneView", "ComputeService", "ConsoleView", "FaultView", "FlavorAccessView",
    "FlavorView", "HypervisorServerView", "HypervisorView", "InstanceActionEventView", "InstanceActionView",
    "KeypairView", "QuotaUsageView", "ServerFlavorView", "ServerGroupView", "ServerSecurityGroupView",
    "ServerView", "ServiceView", "ZoneServiceView",
    # errors (the kernel's)
    "Conflict", "Forbidden", "Invalid", "NotFound", "QuotaExceeded", "ValidationError",
]


class VmStates:
    """A server's stable state (``vm_state``): where it rests between operations."""

    BUILDING: Final = "building"
    ACTIVE: Final = "active"
    STOPPED: Final = "stopped"
    PAUSED: Final = "paused"
    SUSPENDED: Final = "suspended"
    RESCUED: Final = "rescued"
    #: Resized, waiting for the resize to be confirmed or reverted.
    RESIZED: Final = "resized"
    ERROR: Final = "error"
    DELETED: Final = "deleted"


class TaskStates:
    """The operation under way on a server (``task_state``; None when there is none)."""

    SCHEDULING: Final = "scheduling"
    NETWORKING: Final = "networking"
    SPAWNING: Final = "spawning"
    DELETING: Final = "deleting"
    REBOOTING: Final = "rebooting"
    REBOOTING_HARD: Final = "rebooting_hard"
    POWERING_OFF: Final = "powering-off"
    POWERING_ON: Final = "powering-on"
    PAUSING: Final = "pausing"
    UNPAUSING: Final = "unpausing"
    SUSPENDING: Final = "suspending"
    RESUMING: Final = "resuming"
    RESCUING: Final = "rescuing"
    UNRESCUING: Final = "unrescuing"
    RESIZE_PREP: Final = "resize_prep"
    RESIZE_MIGRATING: Final = "resize_migrating"
    RESIZE_FINISH: Final = "resize_finish"
    RESIZE_REVERTING: Final = "resize_reverting"
    RESIZE_CONFIRMING: Final = "resize_confirming"
    REBUILDING: Final = "rebuilding"
    IMAGE_SNAPSHOT: Final = "image_snapshot"
    UPDATING_PASSWORD: Final = "updating_password"


#: Every vm_state, in lifecycle order.
VM_STATES: tuple[str, ...] = (
    VmStates.BUILDING, VmStates.ACTIVE, VmStates.STOPPED, VmStates.PAUSED, VmStates.SUSPENDED, VmStates.RESCUED,
    VmStates.RESIZED, VmStates.ERROR, VmStates.DELETED)
#: Every task_state.
TASK_STATES: tuple[str, ...] = (
    TaskStates.SCHEDULING, TaskStates.NETWORKING, TaskStates.SPAWNING, TaskStates.DELETING, TaskStates.REBOOTING,
    TaskStates.REBOOTING_HARD, TaskStates.POWERING_OFF, TaskStates.POWERING_ON, TaskStates.PAUSING,
    TaskStates.UNPAUSING, TaskStates.SUSPENDING, TaskStates.RESUMING, TaskStates.RESCUING, TaskStates.UNRESCUING,
    TaskStates.RESIZE_PREP, TaskStates.RESIZE_MIGRATING, TaskStates.RESIZE_FINISH, TaskStates.RESIZE_REVERTING,
    TaskStates.RESIZE_CONFIRMING, TaskStates.REBUILDING, TaskStates.IMAGE_SNAPSHOT, TaskStates.UPDATING_PASSWORD)

#: How a server group places its members; the first two are the only ones before
#: Compute API microversion 2.15.
SERVER_GROUP_POLICIES: tuple[str, ...] = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")
#: The kinds of key pair: an OpenSSH public key, or an X.509 certificate (imported only).
KEYPAIR_TYPES: tuple[str, ...] = ("ssh", "x509")
#: Every quota resource a project limit may name (``[quota]`` holds their defaults).
QUOTA_RESOURCES: tuple[str, ...] = (
    "instances", "cores", "ram", "key_pairs", "server_groups", "server_group_members", "metadata_items",
    "injected_files", "injected_file_content_bytes", "injected_file_path_bytes")

# -- views: what the service's methods answer (plain dicts; times are naive UTC datetimes) -------


class ServerFlavorView(TypedDict, total=False):
    """The copy of a flavor a server keeps: a later change to the flavor does not change the server.

    ``original_name`` is the flavor's name when it was copied; empty for a server recorded without one.
    """

    id: str
    name: str
    original_name: str
    vcpus: int
    ram: int
    disk: int
    ephemeral: int
    swap: int
    extra_specs: dict[str, str]
    description: str | None


class FaultView(TypedDict):
    """A server's latest fault: why it is in ERROR (``details`` may name hosts: administrators only)."""

    code: int
    message: str
    details: str | None
    created: datetime.datetime
    host: str | None


class _ServerRecord(TypedDict):
    # identity and owner (``name`` is the hypervisor's name for it, ``display_name`` the user's)
    uuid: str
    name: str
    display_name: str
    display_description: str | None
    hostname: str | None
    project_id: str
    user_id: str
    reservation_id: str | None
    launch_index: int
    # state (``vm_state`` in VM_STATES, ``task_state`` in TASK_STATES or None)
    vm_state: str
    task_state: str | None
    task_updated_at: datetime.datetime | None
    power_state: int
    progress: int
    locked: bool
    locked_by: str | None
    locked_reason: str | None
    # placement
    host: str | None
    node: str | None
    availability_zone: str | None
    requested_availability_zone: str | None
    # what it was built with (``requested_networks``: "auto", "none" or the requests)
    flavor: ServerFlavorView
    old_flavor: ServerFlavorView | None
    new_flavor: ServerFlavorView | None
    vcpus: int
    memory_mb: int
    root_gb: int
    ephemeral_gb: int
    image_ref: str | None
    key_name: str | None
    key_data: str | None
    user_data: str | None
    config_drive: str | None
    access_ip_v4: str | None
    access_ip_v6: str | None
    metadata: dict[str, str]
    system_metadata: dict[str, Any]
    tags: list[str]
    security_groups: list[str]
    requested_networks: str | list[dict[str, str]] | None
    scheduler_hints: dict[str, Any]
    resize: dict[str, Any] | None
    created_at: datetime.datetime
    updated_at: datetime.datetime | None
    launched_at: datetime.datetime | None
    terminated_at: datetime.datetime | None
    deleted_at: datetime.datetime | None
    deleted: bool


class ServerView(_ServerRecord, total=False):
    """A server (Nova's instance): its record, and what every method but ``create_servers`` adds to it.

    The API ``status``, the latest ``fault`` (or None), the ``host_id`` the project sees, the
    ``host_status`` (UP, DOWN, "" without a host) and the ``ports`` (the network service's port
    dicts, [] without one).
    """

    status: str
    fault: FaultView | None
    host_id: str
    host_status: str
    ports: list[dict[str, Any]]


class FlavorView(TypedDict):
    """A flavor: ``ram`` and ``swap`` in MiB, ``disk`` and ``ephemeral`` in GiB."""

    id: str
    name: str
    vcpus: int
    ram: int
    disk: int
    ephemeral: int
    swap: int
    rxtx_factor: float
    is_public: bool
    disabled: bool
    description: str | None
    extra_specs: dict[str, str]


class FlavorAccessView(TypedDict):
    """A project on a private flavor's access list."""

    flavor_id: str
    tenant_id: str


class _KeypairRecord(TypedDict):
    id: int
    name: str
    user_id: str
    fingerprint: str
    public_key: str
    type: str
    created_at: datetime.datetime
    updated_at: datetime.datetime | None
    deleted: bool
    deleted_at: None


class KeypairView(_KeypairRecord, total=False):
    """A user's key pair; ``private_key`` only in the answer that generated it (it is not stored)."""

    private_key: str


class ServerGroupView(TypedDict):
    """A server group: one of :data:`SERVER_GROUP_POLICIES` over its ``members`` (server uuids)."""

    id: str
    name: str
    project_id: str
    user_id: str
    policy: str
    rules: dict[str, Any]
    members: list[str]
    metadata: dict[str, str]


class QuotaUsageView(TypedDict):
    """One resource of a detailed quota set (``-1``: unlimited)."""

    limit: int
    in_use: int
    reserved: int


class _Named(TypedDict):
    name: str


class ServerSecurityGroupView(_Named, total=False):
    """A security group of a server (Neutron's keys), or only its name when the cloud runs no network service."""

    id: str
    description: str
    project_id: str
    tenant_id: str
    stateful: bool
    security_group_rules: list[dict[str, Any]]


class InstanceActionEventView(TypedDict):
    """One step a host (or the scheduler) ran for a request on a server, with its result."""

    event: str
    start_time: datetime.datetime
    finish_time: datetime.datetime | None
    result: str | None
    traceback: str | None
    host: str | None
    details: str | None


class _InstanceActionRecord(TypedDict):
    action: str
    instance_uuid: str
    request_id: str
    user_id: str | None
    project_id: str | None
    start_time: datetime.datetime
    finish_time: datetime.datetime | None
    message: str | None
    updated_at: datetime.datetime


class InstanceActionView(_InstanceActionRecord, total=False):
    """One request made on a server; ``events`` only from :meth:`ComputeService.get_instance_action`."""

    events: list[InstanceActionEventView]


class ConsoleView(TypedDict):
    """Where a console proxy reaches a server's console (the hypervisor's answer)."""

    host: str
    port: int
    token: str
    internal_access_path: str | None
    url: str | None
    type: str


class HypervisorView(TypedDict):
    """A compute node (``id`` is its uuid) and its service (``state`` up/down, ``status`` enabled/disabled).

    ``service`` is ``{"host", "id", "disabled_reason"}`` of its ``cumulo-compute`` record.
    """

    id: str
    hypervisor_hostname: str
    host: str
    hypervisor_type: str
    hypervisor_version: int
    host_ip: str | None
    vcpus: int
    memory_mb: int
    local_gb: int
    vcpus_used: int
    memory_mb_used: int
    local_gb_used: int
    running_vms: int
    cpu_info: str | None
    state: str
    status: str
    service: dict[str, str | None]
    uptime: None


class HypervisorServerView(TypedDict):
    """A server on a hypervisor."""

    uuid: str
    name: str


class ServiceView(TypedDict):
    """A service record (any binary) with its ``state`` (up/down) and ``status`` (enabled/disabled)."""

    id: int
    uuid: str
    host: str
    binary: str
    topic: str
    availability_zone: str
    disabled: bool
    disabled_reason: str | None
    forced_down: bool
    last_seen_up: datetime.datetime | None
    report_count: int
    created_at: datetime.datetime
    updated_at: datetime.datetime | None
    state: str
    status: str


class ZoneServiceView(TypedDict):
    """One service of a host in an availability zone."""

    available: bool
    active: bool
    updated_at: datetime.datetime | None


class AvailabilityZoneView(TypedDict):
    """An availability zone; ``hosts`` (host -> binary -> service) only in the detailed list, else None."""

    zoneName: str
    zoneState: dict[str, bool]
    hosts: dict[str, dict[str, ZoneServiceView]] | None


class AggregateView(TypedDict):
    """A host aggregate: ``id`` is its number; ``availability_zone`` is its metadata's."""

    id: int
    uuid: str
    name: str
    availability_zone: str | None
    metadata: dict[str, str]
    hosts: list[str]
    created_at: datetime.datetime
    updated_at: datetime.datetime | None
    deleted: bool
    deleted_at: None


# -- the service ---------------------------------------------------------------------------------


@runtime_checkable
class ComputeService(Protocol):
    """``hub.compute``: the compute area's methods, with the views above.

    Methods take the caller's :class:`~cumulo.context.RequestContext` first (but
    the host-state, metadata-lookup and housekeeping ones, which the kernel's own
    parts call). Policy is the frontend's; the service decides only what the
    caller can see: its project's servers and groups (every project's for an
    administrator), public flavors and the private ones its project is given.
    A server the caller cannot see is :class:`NotFound`; a locked one changed by
    a non-administrator is a :class:`Conflict`, as is an action on a server in the
    wrong state, without a host, or whose hypervisor lacks the capability ("wrong
    state" below). The methods that ask a host (consoles) may also raise
    :class:`cumulo.exception.MessagingTimeout`.
    """

    # -- flavors
    def list_flavors(self, ctx: RequestContext, *, is_public: bool | None = True, min_ram: int | None = None,
                     min_disk: int | None = None, sort_key: str = "flavorid", sort_dir: str = "asc",
                     limit: int | None = None, marker: str | None = None) -> list[FlavorView]:
        """The enabled flavors the caller can see (``is_public`` None: all of them), sorted and paged.

        :raises ValidationError: an unknown ``sort_key``.
        :raises Invalid: an unknown ``marker``.
        """

    def get_flavor(self, ctx: RequestContext, flavor_id: str) -> FlavorView:
        """One flavor. :raises NotFound: no such flavor the caller can see."""

    def create_flavor(self, ctx: RequestContext, *, name: str, vcpus: int, ram: int, disk: int,
                      flavorid: str | None = None, ephemeral: int = 0, swap: int = 0, rxtx_factor: float = 1.0,
                      is_public: bool = True, description: str | None = None) -> FlavorView:
        """A new flavor (``flavorid`` None, "" or "auto": a new uuid). :raises Conflict: the name or id exists."""

    def update_flavor(self, ctx: RequestContext, flavor_id: str, description: str | None) -> FlavorView:
        """Set a flavor's description (its only mutable field). :raises NotFound: no such flavor."""

    def delete_flavor(self, ctx: RequestContext, flavor_id: str) -> None:
        """Delete a flavor with its extra specs and access list. :raises NotFound: no such flavor."""

    def get_extra_specs(self, ctx: RequestContext, flavor_id: str) -> dict[str, str]:
        """A flavor's extra specs. :raises NotFound: no such flavor."""

    def set_extra_specs(self, ctx: RequestContext, flavor_id: str, specs: dict[str, str]) -> dict[str, str]:
        """Add or overwrite extra specs; returns ``specs``. :raises NotFound: no such flavor."""

    def delete_extra_spec(self, ctx: RequestContext, flavor_id: str, key: str) -> None:
        """Remove one extra spec. :raises NotFound: no such flavor or key."""

    def flavor_access(self, ctx: RequestContext, flavor_id: str) -> list[FlavorAccessView]:
        """The projects a private flavor is given to. :raises NotFound: no such flavor, or a public one."""

    def add_flavor_access(self, ctx: RequestContext, flavor_id: str, project_id: str) -> list[FlavorAccessView]:
        """Give a private flavor to a project; returns the access list.

        :raises NotFound: no such flavor.
        :raises Conflict: a public flavor, or the project has it already.
        """

    def remove_flavor_access(self, ctx: RequestContext, flavor_id: str,
                             project_id: str) -> list[FlavorAccessView]:
        """Take a private flavor from a project; returns the access list. :raises NotFound: no such flavor or access."""

    # -- key pairs (per user: ``user_id`` defaults to the caller's)
    def create_keypair(self, ctx: RequestContext, name: str, public_key: str | None = None,
                       key_type: str = "ssh", user_id: str | None = None) -> KeypairView:
        """Import ``public_key``, or generate an RSA pair (the private key is returned once).

        :raises Invalid: a malformed key, or generating an x509 pair.
        :raises QuotaExceeded: ``key_pairs``.
        :raises Conflict: the user has a key pair of that name.
        """

    def list_keypairs(self, ctx: RequestContext, user_id: str | None = None, limit: int | None = None,
                      marker: str | None = None) -> list[KeypairView]:
        """A user's key pairs by name, paged by name. :raises NotFound: an unknown ``marker``."""

    def get_keypair(self, ctx: RequestContext, name: str, user_id: str | None = None) -> KeypairView:
        """One key pair. :raises NotFound: the user has none of that name."""

    def delete_keypair(self, ctx: RequestContext, name: str, user_id: str | None = None) -> None:
        """Delete a key pair (its quota is given back). :raises NotFound: the user has none of that name."""

    # -- server groups
    def create_server_group(self, ctx: RequestContext, name: str, policy: str,
                            rules: dict[str, Any] | None = None) -> ServerGroupView:
        """A new group of the caller's project.

        :raises ValidationError: an unknown policy.
        :raises Invalid: ``rules`` without anti-affinity.
        :raises QuotaExceeded: ``server_groups``.
        """

    def get_server_group(self, ctx: RequestContext, group_id: str) -> ServerGroupView:
        """One group. :raises NotFound: no such group the caller can see."""

    def list_server_groups(self, ctx: RequestContext, all_projects: bool = False) -> list[ServerGroupView]:
        """The caller's project's groups (every project's for an administrator asking ``all_projects``)."""

    def delete_server_group(self, ctx: RequestContext, group_id: str) -> None:
        """Delete a group (its members stay). :raises NotFound: no such group the caller can see."""

    def server_group_of(self, ctx: RequestContext, uuid: str) -> str | None:
        """The uuid of the group server ``uuid`` belongs to, or None (raises nothing)."""

    # -- quotas (limits per project; ``key_pairs`` is counted per user)
    def quota_set(self, ctx: RequestContext, project_id: str, detail: bool = False,
                  user_id: str | None = None) -> dict[str, int] | dict[str, QuotaUsageView]:
        """A project's limit per resource; with ``detail``, limit and usage per resource (raises nothing)."""

    def update_quota_set(self, ctx: RequestContext, project_id: str, values: dict[str, int],
                         force: bool = False) -> dict[str, int]:
        """Set limits; returns every limit of the project.

        :raises Invalid: a limit below the usage (unless ``force``).
        :raises ValidationError: an unknown resource.
        """

    def quota_defaults(self, ctx: RequestContext) -> dict[str, int]:
        """The ``[quota]`` default limits (raises nothing)."""

    def delete_quota_set(self, ctx: RequestContext, project_id: str) -> None:
        """Drop a project's limits: the defaults apply again (raises nothing)."""

    # -- servers
    def create_servers(self, ctx: RequestContext, *, name: str, image_ref: str | None, flavor_id: str,
                       min_count: int = 1, max_count: int = 1, key_name: str | None = None,
                       user_data: str | None = None, metadata: dict[str, str] | None = None,
                       networks: str | list[dict[str, str]] = "auto", security_groups: list[str] | None = None,
                       availability_zone: str | None = None, scheduler_hints: dict[str, Any] | None = None,
                       admin_password: str | None = None, description: str | None = None,
                       tags: list[str] | None = None, config_drive: bool = False,
                       access_ip_v4: str | None = None, access_ip_v6: str | None = None,
                       hostname: str | None = None) -> list[ServerView]:
        """Create ``min_count``..``max_count`` servers (as many as quota allows) in BUILD; builds start later.

        ``availability_zone`` may force a host (``zone:host[:node]``). ``networks``: "auto", "none" or
        requests ({"uuid"|"port", "fixed_ip", "tag"}).

        :raises Invalid: an unknown or disabled flavor, a missing or inactive image, a flavor too small for
            it, an unknown key pair, zone, host, network, port or security group.
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

    # -- server actions (each moves the server to the action's task state and casts to its host)
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

    def rescue(self, ctx: RequestContext, uuid: str, password: str | None = None,
               rescue_image_ref: str | None = None) -> str:
        """Boot the rescue image; returns the rescue password (generated when None).

        :raises NotFound: no such server.
        :raises Conflict: locked or wrong state.
        :raises Invalid: an unknown or inactive rescue image.
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

        :raises Invalid: an unknown or inactive image, or too big for the flavor.
        :raises NotFound: no such server or key pair.
        :raises Conflict: locked or wrong state.
        """

    def resize(self, ctx: RequestContext, uuid: str, flavor_id: str) -> None:
        """Start a resize to another flavor (confirmed or reverted later).

        :raises Invalid: an unknown or the same flavor, a smaller disk, no host for it.
        :raises QuotaExceeded: cores or ram.
        :raises NotFound: no such server.
        :raises Conflict: locked or wrong state.
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

    # -- a server's metadata, tags, action log and security groups
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

    def list_instance_actions(self, ctx: RequestContext, uuid: str) -> list[InstanceActionView]:
        """The requests made on a server (deleted too), newest first. :raises NotFound: no such server."""

    def get_instance_action(self, ctx: RequestContext, uuid: str, request_id: str) -> InstanceActionView:
        """One request with its events. :raises NotFound: no such server or request."""

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

    # -- hosts, hypervisors, services, availability zones
    def host_states(self) -> list[HostState]:
        """Every compute host for the scheduler (cached; the same objects until the next refresh)."""

    def invalidate_host_states(self) -> None:
        """Drop the cached host states: the next :meth:`host_states` reads the tables."""

    def list_hypervisors(self, ctx: RequestContext, pattern: str | None = None) -> list[HypervisorView]:
        """The compute nodes (whose hostname contains ``pattern``), oldest first (raises nothing)."""

    def get_hypervisor(self, ctx: RequestContext, hypervisor_id: str) -> HypervisorView:
        """One compute node by number or uuid. :raises NotFound: no such node."""

    def hypervisor_servers(self, ctx: RequestContext, host: str) -> list[HypervisorServerView]:
        """The live servers on ``host`` (raises nothing)."""

    def list_services(self, ctx: RequestContext, host: str | None = None,
                      binary: str | None = None) -> list[ServiceView]:
        """The service records (of ``host``, ``binary``) with their zones (raises nothing)."""

    def set_service(self, ctx: RequestContext, service_id: str | None = None, *, host: str | None = None,
                    binary: str | None = None, disabled: bool | None = None, reason: str | None = None,
                    forced_down: bool | None = None) -> ServiceView:
        """Enable/disable or force down a service, by id or by host and binary. :raises NotFound: no such service."""

    def delete_service(self, ctx: RequestContext, service_id: str) -> None:
        """Delete a service record (a compute one with its node).

        :raises NotFound: no such service.
        :raises Conflict: a compute service hosting servers.
        """

    def availability_zones(self, ctx: RequestContext, detail: bool = False) -> list[AvailabilityZoneView]:
        """The zones by name; with ``detail``, also "internal" and every zone's hosts (raises nothing)."""

    # -- host aggregates (``agg_id``: number or uuid)
    def list_aggregates(self, ctx: RequestContext) -> list[AggregateView]:
        """Every aggregate, oldest first (raises nothing)."""

    def get_aggregate(self, ctx: RequestContext, agg_id: str | int) -> AggregateView:
        """One aggregate. :raises NotFound: no such aggregate."""

    def create_aggregate(self, ctx: RequestContext, name: str, availability_zone: str | None = None) -> AggregateView:
        """A new aggregate (in ``availability_zone``). :raises Conflict: the name exists."""

    def update_aggregate(self, ctx: RequestContext, agg_id: str | int, name: str | None = None,
                         availability_zone: str | None = None) -> AggregateView:
        """Rename an aggregate or move it to a zone. :raises NotFound: no such aggregate."""

    def delete_aggregate(self, ctx: RequestContext, agg_id: str | int) -> None:
        """Delete an empty aggregate. :raises NotFound: no such aggregate. :raises Invalid: it has hosts."""

    def aggregate_add_host(self, ctx: RequestContext, agg_id: str | int, host: str) -> AggregateView:
        """Add a compute host. :raises NotFound: no such aggregate or host. :raises Conflict: it is there already."""

    def aggregate_remove_host(self, ctx: RequestContext, agg_id: str | int, host: str) -> AggregateView:
        """Remove a host. :raises NotFound: no such aggregate, or the host is not in it."""

    def set_aggregate_metadata(self, ctx: RequestContext, agg_id: str | int,
                               metadata: dict[str, str | None]) -> AggregateView:
        """Set metadata keys (None removes one). :raises NotFound: no such aggregate."""

    # -- the metadata service's lookups (no token: the caller has authenticated the server)
    def instance_for_metadata(self, instance_uuid: str | None = None, remote_address: str | None = None,
                              network_id: str | None = None) -> ServerView:
        """The server a metadata request comes from: by its uuid, or by the request's source address.

        :raises NotFound: no server matches.
        """

    def instance_by_address(self, address: str, network_id: str | None = None) -> str | None:
        """The uuid of the server holding fixed IP ``address`` (on ``network_id``), or None (raises nothing)."""

    # -- housekeeping (the process that runs the compute hosts)
    def reconcile_builds(self) -> int:
        """At start-up: settle the unplaced servers a previous run left in a task state; returns how many."""

    def sweep_task_states(self) -> int:
        """Put servers stuck in a task state (timed out, or host down) in ERROR; returns how many."""

    def shutdown(self, wait: bool = True) -> None:
        """Stop scheduling: no new build is picked up; with ``wait``, those under way finish first."""
