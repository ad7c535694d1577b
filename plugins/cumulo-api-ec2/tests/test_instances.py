"""How a server's vm_state/task_state become EC2's instance state, and instances their reservations."""

from __future__ import annotations

import datetime
import types
import uuid
from typing import Any

import pytest
from cumulo_api_ec2.actions.instances import Lookups, instance_item, reservations, state_of


@pytest.mark.parametrize(("vm", "task", "name", "code"), [
    ("building", "scheduling", "pending", 0), ("building", "spawning", "pending", 0),
    ("active", None, "running", 16), ("active", "rebooting", "running", 16),
    ("active", "powering-off", "stopping", 64), ("stopped", None, "stopped", 80),
    ("stopped", "powering-on", "pending", 0), ("active", "deleting", "shutting-down", 32),
    ("deleted", None, "terminated", 48), ("error", None, "stopped", 80), ("paused", None, "stopped", 80),
])
def test_states(vm: str, task: str | None, name: str, code: int) -> None:
    assert state_of({"vm_state": vm, "task_state": task}) == {"code": code, "name": name}


def _server(reservation: str, index: int, **extra: Any) -> dict[str, Any]:
    return {"uuid": str(uuid.uuid4()), "project_id": "p" * 32, "reservation_id": reservation, "launch_index": index,
            "vm_state": "active", "task_state": None, "image_ref": str(uuid.uuid4()), "key_name": "k",
            "flavor": {"name": "m1.tiny", "original_name": "m1.tiny", "vcpus": 1}, "availability_zone": "nova",
            "created_at": datetime.datetime(2026, 1, 1), "launched_at": None, "metadata": {"Name": "web"},
            "security_groups": ["default"], "ports": [], "volumes_attached": [], "fault": None, **extra}


class _Network:
    def project_security_groups(self, ctx: Any) -> list[Any]:
        return [types.SimpleNamespace(name="default", id="d" * 32)]

    def floating_ips(self, ctx: Any) -> list[Any]:
        return [types.SimpleNamespace(port_id="port-1", floating_ip_address="203.0.113.5")]


def test_items_and_reservations() -> None:
    call = types.SimpleNamespace(hub=types.SimpleNamespace(network=_Network()), ctx=None)
    lookups = Lookups(call)  # type: ignore[arg-type]  # a stand-in Call
    port = {"id": "port-1", "mac_address": "fa:16:3e:00:00:01",
            "fixed_ips": [{"ip_address": "10.0.0.5", "subnet_id": "s" * 32}]}
    a, b = _server("r-aaaa0001", 0, ports=[port]), _server("r-aaaa0001", 1)
    c = _server("r-bbbb0002", 0)
    items = [instance_item(s, lookups) for s in (a, b, c)]
    first = items[0]
    assert first["instanceId"] == "i-" + a["uuid"].replace("-", "")
    assert first["instanceType"] == "m1.tiny" and first["privateIpAddress"] == "10.0.0.5"
    assert first["ipAddress"] == "203.0.113.5" and first["subnetId"] == "subnet-" + "s" * 32
    assert first["groupSet"] == [{"groupId": "sg-" + "d" * 32, "groupName": "default"}]
    assert first["tagSet"] == [{"key": "Name", "value": "web"}]
    grouped = reservations(items)
    assert [(r["reservationId"], len(r["instancesSet"])) for r in grouped] == [("r-aaaa0001", 2), ("r-bbbb0002", 1)]
    assert all(not k.startswith("_") for r in grouped for i in r["instancesSet"] for k in i)
