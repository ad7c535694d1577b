"""libvirt states as power states, and their changes pushed by libvirt (event loop, lifecycle callback).

:func:`power_state` maps a domain's state; :func:`lifecycle_power_state` a lifecycle event.

libvirt delivers domain events only to a process that registered an event
loop implementation *before* opening its connections and then runs it.
:func:`ensure_event_loop` does both once per process (a daemon thread running
``virEventRunDefaultImpl``); :class:`LifecycleWatcher` registers a lifecycle
callback on a connection and reports ``(instance_uuid, PowerState)`` for the
domains Cumulo owns, so a guest that shuts itself down shows SHUTOFF at once
instead of at the next sync.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import libvirt

from cumulo.interfaces.hypervisor import PowerState

LOG = logging.getLogger(__name__)

#: What a power-change callback receives: the instance's uuid and its new power state.
PowerCallback = Callable[[str, PowerState], None]

_LOOP_LOCK = threading.Lock()
_LOOP_THREAD: threading.Thread | None = None


def ensure_event_loop() -> None:
    """Register libvirt's default event implementation and run it in a daemon thread (once per process).

    Call it before opening the connections whose events are wanted.
    """
    global _LOOP_THREAD
    with _LOOP_LOCK:
        if _LOOP_THREAD is not None:
            return
        libvirt.virEventRegisterDefaultImpl()
        _LOOP_THREAD = threading.Thread(target=_run_loop, name="libvirt-events", daemon=True)
        _LOOP_THREAD.start()


def _run_loop() -> None:
    while True:
        try:
            libvirt.virEventRunDefaultImpl()
        except libvirt.libvirtError:  # a broken connection: keep serving the others
            LOG.exception("libvirt event loop iteration failed")


_POWER_STATES: Mapping[int, PowerState] = {
    libvirt.VIR_DOMAIN_NOSTATE: PowerState.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: PowerState.RUNNING,  # running, waiting on I/O
    libvirt.VIR_DOMAIN_PAUSED: PowerState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: PowerState.SHUTDOWN,  # being shut down, as Nova reports it
    libvirt.VIR_DOMAIN_SHUTOFF: PowerState.SHUTDOWN,
    libvirt.VIR_DOMAIN_CRASHED: PowerState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: PowerState.SUSPENDED,
}


def power_state(state: int, managed_save: bool = False) -> PowerState:
    """The :class:`PowerState` of a libvirt domain state; a shut-off domain with a managed save is SUSPENDED.

    (The state's reason is not used: libvirt keeps ``SHUTOFF_SAVED`` after the save image is removed.)
    """
    if state == libvirt.VIR_DOMAIN_SHUTOFF and managed_save:
        return PowerState.SUSPENDED
    return _POWER_STATES.get(state, PowerState.NOSTATE)


def lifecycle_power_state(event: int, detail: int) -> PowerState | None:
    """The power state a lifecycle ``(event, detail)`` leads to; None for events that change none."""
    if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
        if detail == libvirt.VIR_DOMAIN_EVENT_STOPPED_SAVED:
            return PowerState.SUSPENDED  # managed save (suspend)
        if detail == libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED:
            return PowerState.CRASHED
        return PowerState.SHUTDOWN
    if event == libvirt.VIR_DOMAIN_EVENT_SHUTDOWN:
        if detail == libvirt.VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED:
            return PowerState.SHUTDOWN
        return None  # the guest began shutting down; STOPPED follows
    return {
        libvirt.VIR_DOMAIN_EVENT_STARTED: PowerState.RUNNING,
        libvirt.VIR_DOMAIN_EVENT_RESUMED: PowerState.RUNNING,
        libvirt.VIR_DOMAIN_EVENT_SUSPENDED: PowerState.PAUSED,
        libvirt.VIR_DOMAIN_EVENT_CRASHED: PowerState.CRASHED,
        libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: PowerState.SUSPENDED,
    }.get(event)


class LifecycleWatcher:
    r"""Calls each callback ``(instance_uuid, power_state)`` on lifecycle events of the domains ``owns`` accepts.

    One watcher per connection: libvirt-python registers every lifecycle
    callback through the same C function, and libvirt refuses it twice on one
    connection, so further callbacks are :meth:`add`\ ed to this one.
    ``owns(domain)`` says whether a domain is one of this host's instances;
    callback errors are logged, never raised into libvirt's loop.
    """

    def __init__(self, conn: Any, callback: PowerCallback, owns: Callable[[Any], bool]) -> None:
        ensure_event_loop()
        self._conn = conn
        self._callbacks = [callback]
        self._owns = owns
        self._id: int | None = conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_event, None)

    def add(self, callback: PowerCallback) -> None:
        """Also call ``callback`` on every change."""
        self._callbacks.append(callback)

    def rebind(self, conn: Any) -> None:
        """Watch ``conn`` instead (a new connection after the old one closed, e.g. libvirtd restarted)."""
        self.stop()
        self._conn = conn
        self._id = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_event, None)

    def _on_event(self, conn: Any, dom: Any, event: int, detail: int, opaque: Any) -> None:
        state = lifecycle_power_state(event, detail)
        if state is None:
            return
        try:
            if not self._owns(dom):
                return
            uuid = dom.UUIDString()
        except libvirt.libvirtError:  # undefined meanwhile
            return
        for callback in list(self._callbacks):
            try:
                callback(uuid, state)
            except Exception:  # never propagate into libvirt's C loop
                LOG.exception("power-state callback failed for instance %s", uuid)

    def stop(self) -> None:
        """Deregister from libvirt (again is fine)."""
        if self._id is not None:
            try:
                self._conn.domainEventDeregisterAny(self._id)
            except libvirt.libvirtError:
                pass
            self._id = None
