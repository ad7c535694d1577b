"""Server moves on the in-process fake hosts: cold and live migration, evacuation, their migration
records, what is refused (and why), and what a restart leaves of an interrupted move."""

from __future__ import annotations

import contextlib
import datetime
from typing import Any

import pytest
from cumulo_service_compute import objects
from cumulo_service_compute import states as st
from cumulo_service_compute.models import Instance

from cumulo import db, exception
from cumulo.testing.fixtures import FakeHub, running_compute, use_fake_hypervisor


def _boot(hub: Any, ctx: Any, waiter: Any, name: str = "vm", **kw: Any) -> dict[str, Any]:
    [inst] = hub.compute.create_servers(ctx, name=name, image_ref="img-1", flavor_id="42", **kw)
    waiter(lambda: hub.compute.get_server(ctx, inst["uuid"])["status"] == "ACTIVE")
    return dict(hub.compute.get_server(ctx, inst["uuid"]))


def _settle(hub: Any, ctx: Any, waiter: Any, uuid: str, status: str) -> dict[str, Any]:
    def done() -> Any:
        s = hub.compute.get_server(ctx, uuid)
        assert s["status"] != "ERROR", s.get("fault")
        return s["status"] == status and s["task_state"] is None and s

    return dict(waiter(done))


def _driver(hub: Any, host: str) -> Any:
    return next(m for m in hub.compute_hosts.managers if m.host == host).driver


def test_live_migration_moves_the_guest_and_records_it(compute_hub, admin_ctx, waiter):
    hub = compute_hub
    s = _boot(hub, admin_ctx, waiter)
    source = s["host"]
    dest = next(h for h in ("fake-1", "fake-2", "fake-3") if h != source)
    hub.compute.live_migrate(admin_ctx, s["uuid"], dest)
    moved = _settle(hub, admin_ctx, waiter, s["uuid"], "ACTIVE")
    assert moved["host"] == dest and moved["power_state"] == 1
    assert _driver(hub, source).get_instance(s["uuid"]) is None
    assert _driver(hub, dest).get_instance(s["uuid"])["power_state"] == 1
    [m] = hub.compute.list_migrations(admin_ctx, instance_uuid=s["uuid"])
    assert (m["migration_type"], m["source_compute"], m["dest_compute"], m["status"]) == \
        ("live-migration", source, dest, "completed")
    assert hub.compute.get_migration(admin_ctx, s["uuid"], m["id"])["uuid"] == m["uuid"]
    with pytest.raises(exception.NotFound):
        hub.compute.get_migration(admin_ctx, s["uuid"], m["id"] + 1000)


def test_moves_refuse_client_mistakes(compute_hub, admin_ctx, waiter):
    hub = compute_hub
    s = _boot(hub, admin_ctx, waiter)
    with pytest.raises(exception.Invalid, match="already on host"):
        hub.compute.live_migrate(admin_ctx, s["uuid"], s["host"])
    with pytest.raises(exception.Invalid, match="no-such"):
        hub.compute.migrate(admin_ctx, s["uuid"], "no-such")
    with pytest.raises(exception.NotFound, match="no-such"):
        hub.compute.evacuate(admin_ctx, s["uuid"], "no-such")
    with pytest.raises(exception.Conflict, match="still in use"):
        hub.compute.evacuate(admin_ctx, s["uuid"])  # its host is up
    with pytest.raises(exception.Conflict, match="image service"):
        hub.compute.shelve(admin_ctx, s["uuid"])  # this hub has none
    with pytest.raises(exception.Conflict, match="unshelve"):
        hub.compute.unshelve(admin_ctx, s["uuid"])
    with pytest.raises(exception.Conflict, match="shelveOffload"):
        hub.compute.shelve_offload(admin_ctx, s["uuid"])
    # nothing was left half started
    assert hub.compute.get_server(admin_ctx, s["uuid"])["task_state"] is None
    assert hub.compute.list_migrations(admin_ctx, instance_uuid=s["uuid"]) == []


def test_cold_migration_then_confirm(compute_hub, admin_ctx, waiter):
    hub = compute_hub
    s = _boot(hub, admin_ctx, waiter)
    hub.compute.migrate(admin_ctx, s["uuid"])
    moved = _settle(hub, admin_ctx, waiter, s["uuid"], "VERIFY_RESIZE")
    assert moved["host"] != s["host"] and moved["flavor"]["id"] == s["flavor"]["id"]
    [m] = hub.compute.list_migrations(admin_ctx, instance_uuid=s["uuid"])
    assert (m["migration_type"], m["status"], m["dest_compute"]) == ("migration", "finished", moved["host"])
    hub.compute.confirm_resize(admin_ctx, s["uuid"])
    _settle(hub, admin_ctx, waiter, s["uuid"], "ACTIVE")
    assert hub.compute.list_migrations(admin_ctx, instance_uuid=s["uuid"])[0]["status"] == "confirmed"
    assert _driver(hub, s["host"]).get_instance(s["uuid"]) is None


def test_evacuate_from_a_forced_down_host_and_the_source_cleans_up(compute_hub, admin_ctx, waiter):
    hub = compute_hub
    s = _boot(hub, admin_ctx, waiter)
    source = s["host"]
    hub.compute.set_service(admin_ctx, host=source, binary=_binary(hub, admin_ctx, source), forced_down=True)
    try:
        hub.compute.evacuate(admin_ctx, s["uuid"])
        moved = _settle(hub, admin_ctx, waiter, s["uuid"], "ACTIVE")
        assert moved["host"] != source
        assert _driver(hub, moved["host"]).get_instance(s["uuid"]) is not None
        # the source still has its stale copy while it is down
        next(m for m in hub.compute_hosts.managers if m.host == source).sync_power_states()
        assert _driver(hub, source).get_instance(s["uuid"]) is not None
    finally:
        hub.compute.set_service(admin_ctx, host=source, binary=_binary(hub, admin_ctx, source), forced_down=False)
    next(m for m in hub.compute_hosts.managers if m.host == source).sync_power_states()
    assert _driver(hub, source).get_instance(s["uuid"]) is None
    [m] = hub.compute.list_migrations(admin_ctx, instance_uuid=s["uuid"])
    assert (m["migration_type"], m["source_compute"], m["status"]) == ("evacuation", source, "completed")


def _binary(hub: Any, ctx: Any, host: str) -> str:
    return str(next(v["binary"] for v in hub.compute.list_services(ctx, host=host) if "compute" in v["binary"]))


def test_migration_list_filters(compute_hub, admin_ctx, ctx, waiter):
    hub = compute_hub
    a = _boot(hub, admin_ctx, waiter, "a")
    hub.compute.live_migrate(admin_ctx, a["uuid"])
    _settle(hub, admin_ctx, waiter, a["uuid"], "ACTIVE")
    hub.compute.migrate(admin_ctx, a["uuid"])
    _settle(hub, admin_ctx, waiter, a["uuid"], "VERIFY_RESIZE")
    hub.compute.revert_resize(admin_ctx, a["uuid"])
    _settle(hub, admin_ctx, waiter, a["uuid"], "ACTIVE")
    both = hub.compute.list_migrations(admin_ctx, instance_uuid=a["uuid"])
    assert [m["migration_type"] for m in both] == ["migration", "live-migration"]  # newest first
    assert both[0]["status"] == "reverted"
    assert [m["uuid"] for m in hub.compute.list_migrations(admin_ctx, migration_type="live-migration",
                                                           instance_uuid=a["uuid"])] == [both[1]["uuid"]]
    assert hub.compute.list_migrations(admin_ctx, instance_uuid=a["uuid"], limit=1, marker=both[0]["uuid"]) == \
        [both[1]]
    assert hub.compute.list_migrations(admin_ctx, status="no-such-status") == []
    since = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    assert hub.compute.list_migrations(admin_ctx, changes_since=since) == []
    with pytest.raises(exception.NotFound):
        hub.compute.list_migrations(admin_ctx, marker="no-such-marker")
    assert hub.compute.list_migrations(ctx) == []  # another project's moves are not shown to it


@pytest.fixture
def restartable(cumulo_db: Any) -> Any:
    use_fake_hypervisor(cumulo_db, host_count=2)
    stack = contextlib.ExitStack()

    class Cloud:
        hub: Any = None

        def start(self) -> Any:
            self.hub = stack.enter_context(running_compute(FakeHub(without=("network", "image", "volume"))))
            return self.hub

        def restart(self) -> Any:
            stack.close()
            return self.start()

    c = Cloud()
    c.start()
    yield c
    stack.close()


def _leave(uuid: str, **values: Any) -> None:
    with db.transaction() as s:
        row = s.get(Instance, uuid)
        for k, v in values.items():
            setattr(row, k, v)
        row.task_updated_at = datetime.datetime(2020, 1, 1)


def test_a_restart_settles_interrupted_moves(restartable, admin_ctx, waiter):
    hub = restartable.hub
    live = _boot(hub, admin_ctx, waiter, "live")
    offloading = _boot(hub, admin_ctx, waiter, "offloading")
    unshelving = _boot(hub, admin_ctx, waiter, "unshelving")
    _leave(live["uuid"], task_state=st.MIGRATING)
    _leave(offloading["uuid"], vm_state=st.SHELVED, task_state=st.SHELVING_OFFLOADING)
    _leave(unshelving["uuid"], vm_state=st.SHELVED, task_state=st.UNSHELVING)
    hub = restartable.restart()
    s = hub.compute.get_server(admin_ctx, live["uuid"])
    assert (s["status"], s["task_state"], s["host"]) == ("ACTIVE", None, live["host"])
    s = hub.compute.get_server(admin_ctx, offloading["uuid"])
    assert (s["status"], s["task_state"], s["host"]) == ("SHELVED_OFFLOADED", None, None)
    s = hub.compute.get_server(admin_ctx, unshelving["uuid"])
    assert (s["status"], s["task_state"]) == ("ACTIVE", None)  # the guest was running: the unshelve had won
    with db.reader() as sess:
        assert sess.query(Instance).filter(Instance.task_state.is_not(None)).count() == 0
    assert objects.latest_faults([live["uuid"]])[live["uuid"]]["message"].startswith("The live migration")


def test_shelved_servers_are_offloaded_after_shelved_offload_time(compute_hub, admin_ctx, waiter, cumulo_db):
    hub = compute_hub
    s = _boot(hub, admin_ctx, waiter)
    fresh = _boot(hub, admin_ctx, waiter, "fresh")
    old = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)).replace(tzinfo=None).isoformat()
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None).isoformat()
    for inst, when in ((s, old), (fresh, now)):
        with db.transaction() as sess:
            row = sess.get(Instance, inst["uuid"])
            row.vm_state = st.SHELVED
            row.system_metadata_json = objects.dumps({"shelved_at": when, "shelved_image_id": "img-1"})
    cumulo_db.set("shelved_offload_time", -1, group="compute")
    assert hub.compute.moves.offload_due() == 0  # -1: never
    cumulo_db.set("shelved_offload_time", 600, group="compute")
    assert hub.compute.moves.offload_due() == 1  # only the one shelved an hour ago
    _settle(hub, admin_ctx, waiter, s["uuid"], "SHELVED_OFFLOADED")
    assert hub.compute.get_server(admin_ctx, s["uuid"])["host"] is None
    assert _driver(hub, s["host"]).get_instance(s["uuid"]) is None
    assert hub.compute.get_server(admin_ctx, fresh["uuid"])["status"] == "SHELVED"
