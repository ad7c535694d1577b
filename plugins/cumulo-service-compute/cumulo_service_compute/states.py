"""The instance state machine: vm_state (stable) + task_state (in progress).

A server's API ``status`` is derived from the pair (Nova's mapping). Every
action names the vm_states it may start from and the task_state it sets; the
API moves the instance with one conditional UPDATE so two racing actions
cannot both start (the loser gets 409).
"""

from __future__ import annotations

from types import EllipsisType

from cumulo.contracts.compute import TaskStates, VmStates

# vm_states and task_states: the contract's values (cumulo.contracts.compute), by their short names here
BUILDING = VmStates.BUILDING
ACTIVE = VmStates.ACTIVE
STOPPED = VmStates.STOPPED
PAUSED = VmStates.PAUSED
SUSPENDED = VmStates.SUSPENDED
RESCUED = VmStates.RESCUED
RESIZED = VmStates.RESIZED
SHELVED = VmStates.SHELVED
SHELVED_OFFLOADED = VmStates.SHELVED_OFFLOADED
ERROR = VmStates.ERROR
DELETED = VmStates.DELETED

SCHEDULING = TaskStates.SCHEDULING
NETWORKING = TaskStates.NETWORKING
SPAWNING = TaskStates.SPAWNING
DELETING = TaskStates.DELETING
REBOOTING = TaskStates.REBOOTING
REBOOTING_HARD = TaskStates.REBOOTING_HARD
POWERING_OFF = TaskStates.POWERING_OFF
POWERING_ON = TaskStates.POWERING_ON
PAUSING = TaskStates.PAUSING
UNPAUSING = TaskStates.UNPAUSING
SUSPENDING = TaskStates.SUSPENDING
RESUMING = TaskStates.RESUMING
RESCUING = TaskStates.RESCUING
UNRESCUING = TaskStates.UNRESCUING
RESIZE_PREP = TaskStates.RESIZE_PREP
RESIZE_MIGRATING = TaskStates.RESIZE_MIGRATING
RESIZE_FINISH = TaskStates.RESIZE_FINISH
RESIZE_REVERTING = TaskStates.RESIZE_REVERTING
RESIZE_CONFIRMING = TaskStates.RESIZE_CONFIRMING
REBUILDING = TaskStates.REBUILDING
IMAGE_SNAPSHOT = TaskStates.IMAGE_SNAPSHOT
UPDATING_PASSWORD = TaskStates.UPDATING_PASSWORD
MIGRATING = TaskStates.MIGRATING
SHELVING = TaskStates.SHELVING
SHELVING_OFFLOADING = TaskStates.SHELVING_OFFLOADING
UNSHELVING = TaskStates.UNSHELVING

_STATUS: dict[str, dict[str | None, str]] = {
    BUILDING: {None: "BUILD"},
    ACTIVE: {None: "ACTIVE", REBOOTING: "REBOOT", REBOOTING_HARD: "HARD_REBOOT", REBUILDING: "REBUILD",
             RESIZE_PREP: "RESIZE", RESIZE_MIGRATING: "RESIZE", RESIZE_FINISH: "RESIZE",
             UPDATING_PASSWORD: "PASSWORD", MIGRATING: "MIGRATING"},
    STOPPED: {None: "SHUTOFF", RESIZE_PREP: "RESIZE", RESIZE_MIGRATING: "RESIZE", RESIZE_FINISH: "RESIZE",
              REBUILDING: "REBUILD"},
    PAUSED: {None: "PAUSED"},
    SUSPENDED: {None: "SUSPENDED"},
    RESCUED: {None: "RESCUE"},
    RESIZED: {None: "VERIFY_RESIZE", RESIZE_REVERTING: "REVERT_RESIZE"},
    SHELVED: {None: "SHELVED"},
    SHELVED_OFFLOADED: {None: "SHELVED_OFFLOADED"},
    ERROR: {None: "ERROR", REBUILDING: "REBUILD"},
    DELETED: {None: "DELETED"},
}

#: API status -> (vm_state, task_state or ...) for the ``status`` list filter.
STATUS_FILTER: dict[str, list[tuple[str, str | None | EllipsisType]]] = {
    "BUILD": [(BUILDING, ...)],
    "ACTIVE": [(ACTIVE, None), (ACTIVE, IMAGE_SNAPSHOT), (ACTIVE, DELETING), (ACTIVE, POWERING_OFF),
               (ACTIVE, PAUSING), (ACTIVE, SUSPENDING), (ACTIVE, RESCUING)],
    "SHUTOFF": [(STOPPED, None), (STOPPED, POWERING_ON), (STOPPED, DELETING)],
    "PAUSED": [(PAUSED, ...)],
    "SUSPENDED": [(SUSPENDED, ...)],
    "RESCUE": [(RESCUED, ...)],
    "VERIFY_RESIZE": [(RESIZED, None)],
    "SHELVED": [(SHELVED, ...)],
    "SHELVED_OFFLOADED": [(SHELVED_OFFLOADED, ...)],
    "MIGRATING": [(ACTIVE, MIGRATING)],
    "ERROR": [(ERROR, ...)],
    "DELETED": [(DELETED, ...)],
    "REBOOT": [(ACTIVE, REBOOTING)],
    "HARD_REBOOT": [(ACTIVE, REBOOTING_HARD)],
    "RESIZE": [(ACTIVE, RESIZE_PREP), (ACTIVE, RESIZE_MIGRATING), (ACTIVE, RESIZE_FINISH),
               (STOPPED, RESIZE_PREP), (STOPPED, RESIZE_MIGRATING), (STOPPED, RESIZE_FINISH)],
    "REBUILD": [(ACTIVE, REBUILDING), (STOPPED, REBUILDING), (ERROR, REBUILDING)],
}


def status(vm_state: str, task_state: str | None) -> str:
    """The API ``status`` of a server."""
    table = _STATUS.get(vm_state, {})
    return table.get(task_state, table.get(None, "UNKNOWN"))


#: action -> (allowed vm_states, task_state it sets)
ACTIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    # As Nova: a rescued server is not rebooted (409; unrescue it first).
    "reboot": ((ACTIVE, STOPPED, PAUSED, SUSPENDED, ERROR), REBOOTING),
    "reboot_hard": ((ACTIVE, STOPPED, PAUSED, SUSPENDED, ERROR), REBOOTING_HARD),
    "stop": ((ACTIVE, RESCUED, ERROR), POWERING_OFF),
    "start": ((STOPPED,), POWERING_ON),
    "pause": ((ACTIVE,), PAUSING),
    "unpause": ((PAUSED,), UNPAUSING),
    "suspend": ((ACTIVE,), SUSPENDING),
    "resume": ((SUSPENDED,), RESUMING),
    "rescue": ((ACTIVE, STOPPED, ERROR), RESCUING),
    "unrescue": ((RESCUED,), UNRESCUING),
    "resize": ((ACTIVE, STOPPED), RESIZE_PREP),
    "confirmResize": ((RESIZED,), RESIZE_CONFIRMING),
    "revertResize": ((RESIZED,), RESIZE_REVERTING),
    "rebuild": ((ACTIVE, STOPPED, ERROR), REBUILDING),
    "createImage": ((ACTIVE, STOPPED, PAUSED, SUSPENDED), IMAGE_SNAPSHOT),
    "changePassword": ((ACTIVE,), UPDATING_PASSWORD),
    "createBackup": ((ACTIVE, STOPPED, PAUSED, SUSPENDED), IMAGE_SNAPSHOT),
    "migrate": ((ACTIVE, STOPPED), RESIZE_PREP),
    "live-migration": ((ACTIVE, PAUSED), MIGRATING),
    "evacuate": ((ACTIVE, STOPPED, ERROR), REBUILDING),
    "shelve": ((ACTIVE, STOPPED, PAUSED, SUSPENDED), SHELVING),
    "shelveOffload": ((SHELVED,), SHELVING_OFFLOADING),
    "unshelve": ((SHELVED, SHELVED_OFFLOADED), UNSHELVING),
}

#: Capabilities (cumulo.interfaces.hypervisor.CAPABILITIES) an action needs.
CAPABILITY_OF = {
    "pause": "pause", "unpause": "pause", "suspend": "suspend", "resume": "suspend",
    "rescue": "rescue", "unrescue": "rescue", "resize": "resize", "confirmResize": "resize",
    "revertResize": "resize", "rebuild": "rebuild", "createImage": "snapshot",
    "changePassword": "set_admin_password", "reboot": None, "createBackup": "snapshot", "migrate": "resize",
    "live-migration": "live_migration", "shelve": "snapshot", "console_output": "console_output",
    "remote_console": "remote_console",
}
