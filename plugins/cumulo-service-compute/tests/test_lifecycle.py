"""The instance lifecycle over RPC with the fake driver."""

from __future__ import annotations

import pytest

from cumulo import exception


def _status(hub, ctx, uuid):
    return hub.compute.get_server(ctx, uuid)["status"]


def _wait_status(hub, ctx, uuid, waiter, want):
    waiter(lambda: _status(hub, ctx, uuid) in (want, "ERROR"))
    assert _status(hub, ctx, uuid) == want, hub.compute.get_server(ctx, uuid).get("fault")


def test_boot_and_delete(compute_hub, ctx, waiter):
    hub = compute_hub
    [inst] = hub.compute.create_servers(ctx, name="vm", image_ref="img-1", flavor_id="42")
    assert inst["vm_state"] in ("building", "active")  # the fake host may already be done
    _wait_status(hub, ctx, inst["uuid"], waiter, "ACTIVE")
    server = hub.compute.get_server(ctx, inst["uuid"])
    assert server["host"].startswith("fake-") and server["power_state"] == 1
    assert hub.compute.quota_set(ctx, "p1", detail=True)["instances"]["in_use"] == 1
    hub.compute.delete_server(ctx, inst["uuid"])
    waiter(lambda: not hub.compute.list_servers(ctx))
    with pytest.raises(exception.NotFound):
        hub.compute.get_server(ctx, inst["uuid"])
    assert hub.compute.quota_set(ctx, "p1", detail=True)["instances"]["in_use"] == 0
    actions = [a["action"] for a in hub.compute.list_instance_actions(ctx, inst["uuid"])]
    assert actions == ["delete", "create"]
