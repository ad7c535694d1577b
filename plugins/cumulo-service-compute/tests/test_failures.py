"""Failures: rescheduling, ERROR with a fault, task-state timeouts, driver capabilities."""

from __future__ import annotations

import datetime

import pytest
from cumulo_service_compute import virt

from cumulo import exception


def _wait_final(hub, ctx, uuid, waiter):
    waiter(lambda: hub.compute.get_server(ctx, uuid)["status"] in ("ACTIVE", "ERROR"))
    return hub.compute.get_server(ctx, uuid)


def test_failed_build_is_rescheduled(compute_hub, cumulo_db, ctx, waiter):
    cumulo_db.set("fail_spawn_hosts", ["fake-1", "fake-2"], group="hypervisor_fake")
    for i in range(3):
        [inst] = compute_hub.compute.create_servers(ctx, name=f"r{i}", image_ref="img", flavor_id="42")
        server = _wait_final(compute_hub, ctx, inst["uuid"], waiter)
        assert server["status"] == "ACTIVE" and server["host"] == "fake-3", server["fault"]


def test_build_fails_everywhere_goes_to_error_with_fault(compute_hub, cumulo_db, ctx, waiter):
    cumulo_db.set("fail_spawn_hosts", ["fake-1", "fake-2", "fake-3"], group="hypervisor_fake")
    [inst] = compute_hub.compute.create_servers(ctx, name="doomed", image_ref="img", flavor_id="42")
    server = _wait_final(compute_hub, ctx, inst["uuid"], waiter)
    assert server["status"] == "ERROR"
    assert "Injected failure" in server["fault"]["message"] or "No valid host" in server["fault"]["message"]
    events = compute_hub.compute.get_instance_action(ctx, inst["uuid"],
                                                     compute_hub.compute.list_instance_actions(ctx, inst["uuid"])[0]
                                                     ["request_id"])["events"]
    assert sum(1 for e in events if e["event"] == "compute__do_build_and_run_instance") == 3
    # ERROR servers still count against quota until deleted; deleting works without a host.
    compute_hub.compute.delete_server(ctx, inst["uuid"])
    waiter(lambda: not compute_hub.compute.list_servers(ctx))
    assert compute_hub.compute.quota_set(ctx, "p1", detail=True)["instances"]["in_use"] == 0


def test_stuck_task_state_times_out_to_error(compute_hub, ctx, waiter):
    from cumulo_service_compute import objects

    [inst] = compute_hub.compute.create_servers(ctx, name="stuck", image_ref="img", flavor_id="42")
    _wait_final(compute_hub, ctx, inst["uuid"], waiter)
    # A message lost on the way to the host: the instance sits in a task state.
    long_ago = datetime.datetime(2020, 1, 1)
    objects.update_instance(inst["uuid"], {"task_state": "rebooting"})
    from cumulo_service_compute.models import Instance

    from cumulo import db

    with db.transaction() as s:
        s.get(Instance, inst["uuid"]).task_updated_at = long_ago
    assert compute_hub.compute.sweep_task_states() == 1
    server = compute_hub.compute.get_server(ctx, inst["uuid"])
    assert server["status"] == "ERROR" and server["task_state"] is None
    assert "Timed out" in server["fault"]["message"] and "rebooting" in server["fault"]["message"]


def test_concurrent_actions_one_wins(compute_hub, ctx, waiter):
    [inst] = compute_hub.compute.create_servers(ctx, name="race", image_ref="img", flavor_id="42")
    _wait_final(compute_hub, ctx, inst["uuid"], waiter)
    compute_hub.compute.stop(ctx, inst["uuid"])
    with pytest.raises(exception.Conflict):
        compute_hub.compute.pause(ctx, inst["uuid"])


def test_capability_missing_is_409(compute_hub, ctx, waiter):
    from cumulo_service_compute import objects

    [inst] = compute_hub.compute.create_servers(ctx, name="caps", image_ref="img", flavor_id="42")
    server = _wait_final(compute_hub, ctx, inst["uuid"], waiter)
    for h in compute_hub.compute.host_states():
        if h.host == server["host"]:
            h.capabilities = {"driver": ["soft_reboot"]}
    with pytest.raises(exception.Conflict, match="does not support"):
        compute_hub.compute.pause(ctx, inst["uuid"])
    assert objects.get_instance(inst["uuid"])["task_state"] is None


def test_host_states_for_scheduler(compute_hub, ctx, waiter):
    [inst] = compute_hub.compute.create_servers(ctx, name="hs", image_ref="img", flavor_id="1")
    server = _wait_final(compute_hub, ctx, inst["uuid"], waiter)
    compute_hub.compute.invalidate_host_states()
    states = {h.host: h for h in compute_hub.compute.host_states()}
    assert sorted(states) == ["fake-1", "fake-2", "fake-3"]
    h = states[server["host"]]
    assert inst["uuid"] in h.instances and h.memory_mb_used == 512 and h.up and h.enabled
    assert "pause" in h.capabilities["driver"] and h.capabilities["supported_instances"]


def test_power_state_sync_records_what_the_hypervisor_says(compute_hub, ctx, waiter):
    [inst] = compute_hub.compute.create_servers(ctx, name="ps", image_ref="img", flavor_id="42")
    server = _wait_final(compute_hub, ctx, inst["uuid"], waiter)
    manager = next(m for m in compute_hub.compute_hosts.managers if m.host == server["host"])
    manager.driver.power_off(virt.instance({"uuid": inst["uuid"]}))  # the guest shut itself down
    manager.sync_power_states()
    server = compute_hub.compute.get_server(ctx, inst["uuid"])
    assert server["status"] == "SHUTOFF" and server["power_state"] == 4
    compute_hub.compute.start(ctx, inst["uuid"])
    waiter(lambda: compute_hub.compute.get_server(ctx, inst["uuid"])["status"] == "ACTIVE")


def test_a_driver_power_event_is_synced_without_waiting_for_the_poll(compute_hub, ctx, waiter):
    from cumulo.interfaces.hypervisor import PowerState

    [inst] = compute_hub.compute.create_servers(ctx, name="ev", image_ref="img", flavor_id="42")
    server = _wait_final(compute_hub, ctx, inst["uuid"], waiter)
    manager = next(m for m in compute_hub.compute_hosts.managers if m.host == server["host"])
    # The guest powers itself off; the fake driver sends the event the host registered for at start.
    manager.driver.guest_power_change(inst["uuid"], PowerState.SHUTDOWN)
    waiter(lambda: compute_hub.compute.get_server(ctx, inst["uuid"])["status"] == "SHUTOFF")
    assert compute_hub.compute.get_server(ctx, inst["uuid"])["power_state"] == int(PowerState.SHUTDOWN)


def test_resources_reported_to_compute_nodes(compute_hub, ctx, waiter):
    [inst] = compute_hub.compute.create_servers(ctx, name="rr", image_ref="img", flavor_id="1")
    server = _wait_final(compute_hub, ctx, inst["uuid"], waiter)
    for m in compute_hub.compute_hosts.managers:
        m.report_resources()
    hv = {h["host"]: h for h in compute_hub.compute.list_hypervisors(ctx)}
    assert hv[server["host"]]["memory_mb_used"] == 512 and hv[server["host"]]["running_vms"] == 1
