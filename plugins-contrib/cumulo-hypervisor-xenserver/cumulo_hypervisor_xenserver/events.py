"""Power-state changes from XAPI's event stream (``event.from`` on the ``vm`` class).

A thread of its own, with a session of its own (``event.from`` blocks for up to
its timeout), follows the VMs this host owns and calls back on each change of
an instance's power state, whoever caused it (the compute host syncs at once;
a change it asked for itself compares equal and does nothing). An instance's
state is its rescue VM's while it has one, as ``get_power_state`` says. A lost
session or EVENTS_LOST starts over from a fresh token.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from cumulo.interfaces.hypervisor import PowerState
from cumulo_hypervisor_xenserver import vm
from cumulo_hypervisor_xenserver.session import XapiClient

LOG = logging.getLogger(__name__)

#: Seconds each event.from call waits for news (XAPI's own clients use 30 to 60).
WAIT = 30.0


class PowerEvents:
    """Follow the ``vm`` events of ``host``'s instances and call ``callback(uuid, state)`` on changes."""

    def __init__(self, x: XapiClient, host: str, callback: Callable[[str, PowerState], None],
                 wait: float = WAIT) -> None:
        self.x, self.host, self.callback, self.wait = x, host, callback, wait
        self.states: dict[str, PowerState] = {}  # instance uuid -> its effective state
        self.vms: dict[str, tuple[str, str, PowerState]] = {}  # VM ref -> (instance uuid, role, state)
        self._stop = threading.Event()
        self._session: Any = None
        self._token = ""
        self._thread = threading.Thread(target=self._run, name=f"xenserver-events-{host}", daemon=True)

    def start(self) -> None:
        """Log in and take the VMs' current states before returning (no change between the caller's last
        poll and the stream's start goes unseen), then follow the stream in the thread.

        :raises HypervisorError: the pool master cannot be reached (the caller learns it now).
        """
        self._session = self.x.login(timeout=self.wait + 30)
        self._token = self._next("")
        self._thread.start()

    def _next(self, token: str) -> str:
        result = getattr(self._session.xenapi.event, "from")(["vm"], token, 0.0 if not token else self.wait)
        for event in result["events"]:
            self._seen(event)
        return str(result["token"])

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        token = self._token
        while not self._stop.is_set():
            try:
                if self._session is None:
                    self._session = self.x.login(timeout=self.wait + 30)
                    token = ""
                    self.vms.clear()  # rebuilt from the fresh token's snapshot; states stay to compare
                token = self._next(token)
            except Exception as err:  # a lost session or connection, EVENTS_LOST: start over after a pause
                if self._stop.is_set():
                    break
                LOG.warning("XenServer event stream of %s: %s; reconnecting", self.host, err)
                self._session, token = None, ""
                self._stop.wait(2)
        if self._session is not None:
            self.x.logout(self._session)

    def _seen(self, event: dict[str, Any]) -> None:
        """Track each VM of this host's instances; call back when an instance's effective state changes
        (its rescue VM's while it has one, as ``get_power_state`` reports)."""
        ref = str(event.get("ref"))
        snap = event.get("snapshot") or {}
        other = snap.get("other_config") or {}
        uuid = other.get(vm.TAG_UUID)
        if event.get("operation") == "del" or not uuid or other.get(vm.TAG_HOST) != self.host \
                or other.get(vm.TAG_ROLE) not in (vm.INSTANCE, vm.RESCUE) or snap.get("is_a_snapshot"):
            gone = self.vms.pop(ref, None)
            if gone is None:
                return
            uuid = gone[0]
        else:
            state = vm.POWER_STATES.get(str(snap.get("power_state")), PowerState.NOSTATE)
            self.vms[ref] = (uuid, str(other[vm.TAG_ROLE]), state)
        now = self._effective(uuid)
        before = self.states.get(uuid)
        if now is None:
            self.states.pop(uuid, None)  # destroyed: the compute area knows, it asked
            return
        self.states[uuid] = now
        if before is not None and before != now:
            try:
                self.callback(uuid, now)
            except Exception:  # the compute host's business; the stream goes on
                LOG.exception("power event callback for %s failed", uuid)

    def _effective(self, uuid: str) -> PowerState | None:
        roles = {role: state for u, role, state in self.vms.values() if u == uuid}
        return roles.get(vm.RESCUE, roles.get(vm.INSTANCE))
