"""What the per-host compute components share: task-state groups, per-instance locks, small helpers.

A leaf module (it imports no compute component), so the API-side components
(:mod:`.common`, :mod:`.servers`, the scheduling and housekeeping steps) may
import it as well as the host's (:mod:`.manager` and the ``host_*`` modules).
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import cumulo_service_compute.objects as objects
import cumulo_service_compute.states as st
from cumulo import exception
from cumulo.context import RequestContext

LOG = logging.getLogger(__name__)

#: The task states of a build (vm_state building).
BUILD_TASK_STATES = (st.SCHEDULING, st.NETWORKING, st.SPAWNING)
#: Task states whose outcome the hypervisor's power state tells (after a restart: sync, clear).
SYNC_TASK_STATES = (st.REBOOTING, st.REBOOTING_HARD, st.POWERING_OFF, st.POWERING_ON, st.PAUSING, st.UNPAUSING,
                    st.SUSPENDING, st.RESUMING, st.RESCUING, st.UNRESCUING, st.UPDATING_PASSWORD)
#: system_metadata key naming the process (``[DEFAULT] host``) that schedules an unplaced build.
SCHEDULED_BY = "scheduled_by"


def as_ctx(ctx: Any) -> RequestContext:
    """The request context of an RPC call (a context, its dict form off the wire, or none: an empty one)."""
    if isinstance(ctx, RequestContext):
        return ctx
    if isinstance(ctx, dict):
        return RequestContext.from_dict(ctx)
    return RequestContext()


def optional(hub: Any, area: str) -> Any | None:
    """``hub.<area>`` or None when the kernel has no such service (yet)."""
    try:
        return hub.get(area)
    except LookupError:
        return None


def release_claims(hub: Any, ctx: RequestContext, uuids: list[str]) -> None:
    """Tell the scheduler (when it keeps claims) that these instances will not land."""
    scheduler = optional(hub, "scheduler")
    if scheduler is not None and hasattr(scheduler, "release"):
        try:
            scheduler.release(ctx, uuids)
        except Exception:
            LOG.debug("Scheduler release of %s failed", uuids, exc_info=True)


class InstanceLocks:
    """One lock per instance: calls for the same instance run one at a time, others in parallel."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, uuid: str) -> threading.Lock:
        """The lock of instance ``uuid`` (made on first use)."""
        with self._guard:
            return self._locks.setdefault(uuid, threading.Lock())

    def forget(self, uuid: str) -> None:
        """Drop the lock of a deleted instance."""
        with self._guard:
            self._locks.pop(uuid, None)


_OPERATIONS = {
    st.REBOOTING: "reboot", st.REBOOTING_HARD: "hard reboot", st.POWERING_OFF: "stop", st.POWERING_ON: "start",
    st.PAUSING: "pause", st.UNPAUSING: "unpause", st.SUSPENDING: "suspend", st.RESUMING: "resume",
    st.RESCUING: "rescue", st.UNRESCUING: "unrescue", st.UPDATING_PASSWORD: "password change",
    st.IMAGE_SNAPSHOT: "snapshot", st.REBUILDING: "rebuild",
}


def operation(task_state: str | None) -> str:
    """What the user asked for, in words, from the task state it set (for fault messages)."""
    label = _OPERATIONS.get(task_state or "")
    if label:
        return label
    if task_state and task_state.startswith("resize"):
        return "resize"
    return f"operation ({task_state})"


def instance_exists(uuid: str) -> bool:
    """Whether the instance is still in the database (not deleted)."""
    try:
        objects.get_instance(uuid, with_tags=False)
        return True
    except exception.NotFound:
        return False


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (what an RPC reply or cast argument may carry)."""
    return json.loads(json.dumps(value, default=str)) if value is not None else None
