"""The compute area's contract: what ``hub.compute`` offers its frontends and the kernel's other parts.

The compute service (``cumulo_service_compute``) implements
:class:`ComputeService`, the typed facade of ``hub.compute``: every method
with the errors it raises, composed of one protocol per resource
(:class:`FlavorService`, :class:`ServerService`, :class:`ServerActionService`,
:class:`HostService`...) so that a caller can depend on less. It answers with
views, plain dicts typed as TypedDicts (:data:`ServerView`,
:data:`FlavorView`, :data:`KeypairView`...): protocol-neutral (no API
microversion, no URL), which the Compute API frontend renders as Nova JSON.

The package holds the values below; the views are in
:mod:`cumulo.contracts.compute.views`, the protocols in
:mod:`cumulo.contracts.compute.service` and
:mod:`cumulo.contracts.compute.servers` and :mod:`cumulo.contracts.compute.volumes`, all re-exported here: import them
from ``cumulo.contracts.compute``.

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

from typing import Final

from cumulo.contracts.compute.moves import MigrationView, ServerMoveService
from cumulo.contracts.compute.servers import (
    InstanceActionService,
    ServerActionService,
    ServerConsoleService,
    ServerInterfaceService,
    ServerMetadataService,
    ServerPowerService,
    ServerSecurityGroupService,
    ServerService,
)
from cumulo.contracts.compute.service import (
    AggregateService,
    ComputeService,
    FlavorAccessService,
    FlavorExtraSpecService,
    FlavorService,
    HostService,
    HousekeepingService,
    KeypairService,
    MetadataLookupService,
    QuotaService,
    ServerGroupService,
)
from cumulo.contracts.compute.views import (
    AggregateView,
    AvailabilityZoneView,
    ConsoleView,
    FaultView,
    FlavorAccessView,
    FlavorView,
    HypervisorServerView,
    HypervisorView,
    InstanceActionEventView,
    InstanceActionView,
    InterfaceAttachmentView,
    InterfaceFixedIPView,
    KeypairView,
    QuotaUsageView,
    ServerFlavorView,
    ServerGroupView,
    ServerSecurityGroupView,
    ServerView,
    ServiceView,
    VolumeAttachmentView,
    ZoneServiceView,
)
from cumulo.contracts.compute.volumes import (
    BDM_DESTINATION_TYPES,
    BDM_SOURCE_TYPES,
    BlockDeviceRequest,
    ServerVolumeService,
)
from cumulo.exception import Conflict, Forbidden, Invalid, NotFound, QuotaExceeded, ValidationError

#: Version of this contract ("MAJOR.MINOR"): a new value, view key, error or method is a minor
#: change, a removed or renamed one a major change. 1.1: :class:`ComputeService` and its views;
#: 1.2: :class:`ServerInterfaceService` (attach and detach interfaces) and :data:`InterfaceAttachmentView`;
#: 1.3: :class:`ServerVolumeService` (attach and detach volumes), :data:`VolumeAttachmentView`,
#: ``create_servers(block_devices=)`` with :class:`BlockDeviceRequest`, ``ServerView.volumes_attached``;
#: 1.4: ``reset_state`` (ServerActionService), ``quota_class_set`` and ``update_quota_class_set`` (QuotaService);
#: 1.5: :class:`ServerMoveService` (backups, cold and live migration, evacuation, shelving, migration records),
#: :data:`MigrationView`, the shelved vm_states and the moving task states.
CONTRACT_VERSION = "1.5"

__all__ = [
    "BDM_DESTINATION_TYPES", "BDM_SOURCE_TYPES", "CONTRACT_VERSION", "KEYPAIR_TYPES", "QUOTA_RESOURCES", "SERVER_GROUP_POLICIES", "TASK_STATES", "VM_STATES",
    "TaskStates", "VmStates",
    # the facade and its parts
    "ComputeService",
    "AggregateService", "FlavorAccessService", "FlavorExtraSpecService", "FlavorService", "HostService",
    "HousekeepingService", "InstanceActionService", "KeypairService", "MetadataLookupService", "QuotaService",
    "ServerActionService", "ServerConsoleService", "ServerGroupService", "ServerInterfaceService",
    "ServerMetadataService", "ServerMoveService", "ServerPowerService", "ServerSecurityGroupService",
    "ServerService", "ServerVolumeService",
    # the block-device mapping of a new server
    "BlockDeviceRequest",
    # the views
    "AggregateView", "AvailabilityZoneView", "ConsoleView", "FaultView", "FlavorAccessView",
    "FlavorView", "HypervisorServerView", "HypervisorView", "InstanceActionEventView", "InstanceActionView",
    "InterfaceAttachmentView", "InterfaceFixedIPView", "KeypairView", "MigrationView", "QuotaUsageView", "ServerFlavorView",
    "ServerGroupView", "ServerSecurityGroupView", "ServerView", "ServiceView", "VolumeAttachmentView", "ZoneServiceView",
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
    #: Shelved: stopped, snapshotted to the image service, still on its host (contract 1.5).
    SHELVED: Final = "shelved"
    #: Shelved and offloaded: no host holds it; unshelving schedules it again (contract 1.5).
    SHELVED_OFFLOADED: Final = "shelved_offloaded"
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
    #: Being live-migrated to another host (contract 1.5).
    MIGRATING: Final = "migrating"
    #: Being shelved, offloaded, unshelved (contract 1.5).
    SHELVING: Final = "shelving"
    SHELVING_OFFLOADING: Final = "shelving_offloading"
    UNSHELVING: Final = "unshelving"


#: Every vm_state, in lifecycle order.
VM_STATES: tuple[str, ...] = (
    VmStates.BUILDING, VmStates.ACTIVE, VmStates.STOPPED, VmStates.PAUSED, VmStates.SUSPENDED, VmStates.RESCUED,
    VmStates.RESIZED, VmStates.SHELVED, VmStates.SHELVED_OFFLOADED, VmStates.ERROR, VmStates.DELETED)
#: Every task_state.
TASK_STATES: tuple[str, ...] = (
    TaskStates.SCHEDULING, TaskStates.NETWORKING, TaskStates.SPAWNING, TaskStates.DELETING, TaskStates.REBOOTING,
    TaskStates.REBOOTING_HARD, TaskStates.POWERING_OFF, TaskStates.POWERING_ON, TaskStates.PAUSING,
    TaskStates.UNPAUSING, TaskStates.SUSPENDING, TaskStates.RESUMING, TaskStates.RESCUING, TaskStates.UNRESCUING,
    TaskStates.RESIZE_PREP, TaskStates.RESIZE_MIGRATING, TaskStates.RESIZE_FINISH, TaskStates.RESIZE_REVERTING,
    TaskStates.RESIZE_CONFIRMING, TaskStates.REBUILDING, TaskStates.IMAGE_SNAPSHOT, TaskStates.UPDATING_PASSWORD,
    TaskStates.MIGRATING, TaskStates.SHELVING, TaskStates.SHELVING_OFFLOADING, TaskStates.UNSHELVING)

#: How a server group places its members; the first two are the only ones before
#: Compute API microversion 2.15.
SERVER_GROUP_POLICIES: tuple[str, ...] = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")
#: The kinds of key pair: an OpenSSH public key, or an X.509 certificate (imported only).
KEYPAIR_TYPES: tuple[str, ...] = ("ssh", "x509")
#: Every quota resource a project limit may name (``[quota]`` holds their defaults).
QUOTA_RESOURCES: tuple[str, ...] = (
    "instances", "cores", "ram", "key_pairs", "server_groups", "server_group_members", "metadata_items",
    "injected_files", "injected_file_content_bytes", "injected_file_path_bytes")
