"""After a crash: each compute host and the scheduler settle what they owned, at start-up.

A "crash" here: instances are left in the states a killed process leaves them in, the
hosts are stopped without cleaning anything, and a new hub (a new process: new compute
API, new managers, the fake hypervisor reloading its persisted records) starts on the
same database.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cumulo_service_compute import objects, virt
from cumulo_service_compute import states as st
from cumulo_service_compute.models import Instance

from cumulo import db
from cumulo.conf import CONF
from cumulo.context import RequestContext
from cumulo.testing.fixtures import FakeHub, running_compute, use_fake_hypervisor


class Cloud:
    """Starts the compute hosts on a hub; ``crash()`` drops them, ``restart()`` starts a new process's."""

    def __init__(self) -> None:
        self.hub: Any = None
        self._running = contextlib.ExitStack()
        self.start()

    def start(self) -> None:
        self.hub = self._running.enter_context(running_compute(FakeHub(without=("network", "image", "volume"))))

    def crash(self) -> None:
        """Stop the hosts, cleaning nothing up (closing an already closed stack does nothing)."""
        self._running.close()

    def restart(self) -> float:
        self.crash()
        t0 = time.monotonic()
        self.start()
        return time.monotonic() - t0

    def manager(self, host: str) -> Any:
        return next(m for m in self.hub.compute_hosts.managers if m.host == host)


@pytest.fixture
def cloud(cumulo_db: Any) -> Iterator[Cloud]:
    use_fake_hypervisor(cumulo_db, host_count=2)
    c = Cloud()
    yield c
    c.crash()


def _active(cloud: Cloud, ctx: RequestContext, name: str) -> dict[str, Any]:
    [inst] = cloud.hub.compute.create_servers(ctx, name=name, image_ref="img", flavor_id="42")
    deadline = time.monotonic() + 10
    while objects.get_instance(inst["uuid"])["vm_state"] != st.ACTIVE:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return objects.get_instance(inst["uuid"])


def _leave(uuid: str, **values: Any) -> None:
    """Put the instance in the state a killed process leaves, dated a while ago."""
    with db.transaction() as s:
        row = s.get(Instance, uuid)
        for k, v in values.items():
            setattr(row, k, v)
        row.task_updated_at = datetime.datetime(2020, 1, 1)


def test_interrupted_work_is_settled_at_start(cloud, ctx):
    hub = cloud.hub
    building = _active(cloud, ctx, "building")
    unplaced = _active(cloud, ctx, "unplaced")
    deleting = _active(cloud, ctx, "deleting")
    rebooting = _active(cloud, ctx, "rebooting")
    stopping = _active(cloud, ctx, "stopping")
    rebuilding = _active(cloud, ctx, "rebuilding")
    snapshot = _active(cloud, ctx, "snapshot")
    settled = _active(cloud, ctx, "settled")
    # The hypervisor had finished the power-off when the process died; the database never heard.
    cloud.manager(stopping["host"]).driver.power_off(virt.instance({"uuid": stopping["uuid"]}), 0)
    _leave(building["uuid"], vm_state=st.BUILDING, task_state=st.SPAWNING)
    _leave(unplaced["uuid"], vm_state=st.BUILDING, task_state=st.SCHEDULING, host=None, node=None)
    _leave(deleting["uuid"], task_state=st.DELETING)
    _leave(rebooting["uuid"], task_state=st.REBOOTING_HARD)
    _leave(stopping["uuid"], task_state=st.POWERING_OFF)
    _leave(rebuilding["uuid"], task_state=st.REBUILDING)
    _leave(snapshot["uuid"], task_state=st.IMAGE_SNAPSHOT)
    in_use = hub.compute.quota_set(ctx, "p1", detail=True)["instances"]["in_use"]

    took = cloud.restart()
    assert took < 10
    hub = cloud.hub

    def server(inst: dict[str, Any]) -> dict[str, Any]:
        return hub.compute.get_server(ctx, inst["uuid"])

    for inst in (building, unplaced):
        s = server(inst)
        assert s["status"] == "ERROR" and s["task_state"] is None
        assert "build was interrupted by a restart" in s["fault"]["message"]
        assert "fake-" not in s["fault"]["message"]  # host names are for administrators (details)
    assert cloud.manager(building["host"]).driver.get_instance(building["uuid"]) is None  # cleaned up
    assert building["host"] in objects.latest_faults([building["uuid"]])[building["uuid"]]["details"]
    from cumulo import exception

    with pytest.raises(exception.NotFound):
        server(deleting)
    assert cloud.manager(deleting["host"]).driver.get_instance(deleting["uuid"]) is None
    s = server(rebooting)
    assert (s["status"], s["task_state"], s["power_state"]) == ("ACTIVE", None, 1)
    s = server(stopping)
    assert (s["status"], s["task_state"], s["power_state"]) == ("SHUTOFF", None, 4)
    s = server(rebuilding)
    assert s["status"] == "ERROR" and "rebuild was interrupted" in s["fault"]["message"]
    s = server(snapshot)
    assert (s["status"], s["task_state"]) == ("ACTIVE", None)
    assert server(settled)["status"] == "ACTIVE"
    assert hub.compute.quota_set(ctx, "p1", detail=True)["instances"]["in_use"] == in_use - 1
    # Nothing is left in a task state, and the settled servers work again.
    with db.transaction() as sess:
        assert sess.query(Instance).filter(Instance.deleted.is_(False), Instance.task_state.is_not(None)).count() == 0
    hub.compute.reboot(ctx, rebooting["uuid"])
    deadline = time.monotonic() + 10
    while server(rebooting)["task_state"] is not None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    hub.compute.delete_server(ctx, building["uuid"])
    deadline = time.monotonic() + 10
    while building["uuid"] in [s["uuid"] for s in hub.compute.list_servers(ctx)]:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_lost_instance_and_leftovers(cloud, ctx):
    lost = _active(cloud, ctx, "lost")
    gone = _active(cloud, ctx, "gone")
    driver = cloud.manager(lost["host"]).driver
    driver.destroy(virt.instance({"uuid": lost["uuid"]}), [])  # the hypervisor lost it while it rebooted
    _leave(lost["uuid"], task_state=st.REBOOTING)
    # The database deleted this one but the process died before the host destroyed it.
    _leave(gone["uuid"], deleted=True, vm_state=st.DELETED, task_state=None)
    assert cloud.manager(gone["host"]).driver.get_instance(gone["uuid"]) is not None
    cloud.restart()
    s = cloud.hub.compute.get_server(ctx, lost["uuid"])
    assert s["status"] == "ERROR" and "no longer has the instance" in s["fault"]["message"]
    assert cloud.manager(gone["host"]).driver.get_instance(gone["uuid"]) is None


def test_other_schedulers_work_is_left_alone(cloud, ctx):
    mine = _active(cloud, ctx, "mine")
    theirs = _active(cloud, ctx, "theirs")
    fresh = _active(cloud, ctx, "fresh")
    _leave(mine["uuid"], vm_state=st.BUILDING, task_state=st.SCHEDULING, host=None)
    _leave(theirs["uuid"], vm_state=st.BUILDING, task_state=st.SCHEDULING, host=None,
           system_metadata_json='{"scheduled_by": "api-2"}')
    cloud.restart()
    with db.transaction() as s:  # scheduled by this process after it started: its own live work
        row = s.get(Instance, fresh["uuid"])
        row.vm_state, row.task_state, row.host = st.BUILDING, st.SCHEDULING, None
    assert cloud.hub.compute.reconcile_builds() == 0
    assert objects.get_instance(mine["uuid"])["vm_state"] == st.ERROR
    assert objects.get_instance(theirs["uuid"])["task_state"] == st.SCHEDULING  # api-2 may be alive
    assert objects.get_instance(fresh["uuid"])["task_state"] == st.SCHEDULING


def test_builds_record_who_schedules_them(cloud, ctx):
    inst = _active(cloud, ctx, "owner")
    assert inst["system_metadata"]["scheduled_by"] == CONF.host
