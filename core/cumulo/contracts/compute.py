"""The compute area's contract: the values shared by ``hub.compute`` and its frontends.

The compute service (``cumulo_service_compute``) moves servers through these
vm and task states (the ``vm_state`` and ``task_state`` of every server it
returns), validates server-group policies and quota resources against these
values, and stores key pairs of these types; the Compute API frontend reads
the states in its server views and publishes the other values in its JSON
schemas. Neither imports the other.

A server's API ``status`` is derived from its (vm_state, task_state) pair by
the service (the ``status`` key of every server it returns). The errors the
service raises are the kernel's (:mod:`cumulo.exception`: NotFound, Conflict,
Invalid, QuotaExceeded...), each carrying its HTTP status.
"""

from __future__ import annotations

from typing import Final

#: Version of this contract ("MAJOR.MINOR"): a new value is a minor change, a
#: removed or renamed one a major change.
CONTRACT_VERSION = "1.0"

__all__ = ["CONTRACT_VERSION", "KEYPAIR_TYPES", "QUOTA_RESOURCES", "SERVER_GROUP_POLICIES", "TASK_STATES",
           "VM_STATES", "TaskStates", "VmStates"]


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
