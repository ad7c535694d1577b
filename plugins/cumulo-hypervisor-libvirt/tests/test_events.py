"""Tests of :mod:`cumulo_hypervisor_libvirt.events`: state mapping and lifecycle callbacks on test:///default."""

from __future__ import annotations

import threading
import uuid as uuidlib

import libvirt
import pytest
from cumulo_hypervisor_libvirt import events

from cumulo.interfaces.hypervisor import PowerState


@pytest.mark.parametrize(("event", "detail", "state"), [
    (libvirt.VIR_DOMAIN_EVENT_STARTED, 0, PowerState.RUNNING),
    (libvirt.VIR_DOMAIN_EVENT_RESUMED, 0, PowerState.RUNNING),
    (libvirt.VIR_DOMAIN_EVENT_SUSPENDED, 0, PowerState.PAUSED),
    (libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN, PowerState.SHUTDOWN),
    (libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED, PowerState.SHUTDOWN),
    (libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_SAVED, PowerState.SUSPENDED),
    (libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED, PowerState.CRASHED),
    (libvirt.VIR_DOMAIN_EVENT_CRASHED, 0, PowerState.CRASHED),
    (libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED, 0, PowerState.SUSPENDED),
    (libvirt.VIR_DOMAIN_EVENT_SHUTDOWN, libvirt.VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED, PowerState.SHUTDOWN),
    (libvirt.VIR_DOMAIN_EVENT_SHUTDOWN, libvirt.VIR_DOMAIN_EVENT_SHUTDOWN_GUEST, None),
    (libvirt.VIR_DOMAIN_EVENT_DEFINED, 0, None),
    (libvirt.VIR_DOMAIN_EVENT_UNDEFINED, 0, None),
])
def test_lifecycle_power_state(event: int, detail: int, state: PowerState | None) -> None:
    assert events.lifecycle_power_state(event, detail) == state


def test_watcher_reports_owned_domains_only() -> None:
    events.ensure_event_loop()
    events.ensure_event_loop()  # once per process
    conn = libvirt.open("test:///default")
    seen: list[tuple[str, PowerState]] = []
    done = threading.Event()
    mine, other = str(uuidlib.uuid4()), str(uuidlib.uuid4())

    def note(uuid: str, state: PowerState) -> None:
        seen.append((uuid, state))
        if state == PowerState.SHUTDOWN:
            done.set()

    def broken(uuid: str, state: PowerState) -> None:
        raise RuntimeError("callback errors stay in the log")

    watcher = events.LifecycleWatcher(conn, broken, lambda dom: dom.UUIDString() == mine)
    watcher.add(note)  # after one that raises: still called
    doms = []
    try:
        for u in (other, mine):
            dom = conn.defineXML(f"<domain type='test'><name>ev-{u}</name><uuid>{u}</uuid>"
                                 "<memory>65536</memory><os><type>hvm</type></os></domain>")
            doms.append(dom)
            dom.create()
            dom.destroy()
        assert done.wait(5), seen
        assert seen == [(mine, PowerState.RUNNING), (mine, PowerState.SHUTDOWN)]
    finally:
        watcher.stop()
        watcher.stop()
        for dom in doms:
            dom.undefine()


def test_a_rebound_watcher_reports_from_the_new_connection() -> None:
    """After a reconnection (libvirtd restarted) the watcher moves to the new connection and keeps reporting."""
    old, new = libvirt.open("test:///default"), libvirt.open("test:///default")
    seen: list[tuple[str, PowerState]] = []
    done = threading.Event()
    mine = str(uuidlib.uuid4())

    def note(uuid: str, state: PowerState) -> None:
        seen.append((uuid, state))
        if state == PowerState.SHUTDOWN:
            done.set()

    watcher = events.LifecycleWatcher(old, note, lambda dom: dom.UUIDString() == mine)
    watcher.rebind(new)
    old.close()
    dom = new.defineXML(f"<domain type='test'><name>ev-{mine}</name><uuid>{mine}</uuid>"
                        "<memory>65536</memory><os><type>hvm</type></os></domain>")
    try:
        dom.create()
        dom.destroy()
        assert done.wait(5), seen
        assert seen == [(mine, PowerState.RUNNING), (mine, PowerState.SHUTDOWN)]
    finally:
        watcher.stop()
        dom.undefine()
        new.close()
