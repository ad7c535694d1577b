"""Scheduling through the real ``openstack`` client: server groups, hints, forced hosts, NoValidHost,
rescheduling away from failing hosts, and the chance scheduler."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any


def _image(cloud: Any) -> str:
    """A tiny public image (created once per cloud)."""
    name = "sched-tiny"
    found = cloud.openstack("image", "list", "--name", name)
    if found:
        return found[0]["ID"]
    path = os.path.join(str(cloud.workdir), "sched-tiny.raw")
    with open(path, "wb") as f:
        f.write(b"\0" * 4096)
    return cloud.openstack("image", "create", "--file", path, "--disk-format", "raw", "--container-format", "bare",
                           "--public", name)["id"]


def _boot(cloud: Any, name: str, *extra: str, wait: bool = True) -> list[dict[str, Any]]:
    """Boot (``--min/--max`` in ``extra`` for several) and return the servers with this name prefix."""
    image = _image(cloud)
    cloud.openstack("server", "create", "--image", image, "--flavor", "c1.nano", "--nic", "none", *extra, name)
    servers = [s for s in cloud.openstack("server", "list", "--name", f"^{name}") if s["Name"].startswith(name)]
    return [_settle(cloud, s["ID"]) for s in servers] if wait else servers


def _settle(cloud: Any, server_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        s = cloud.openstack("server", "show", server_id)
        if s["status"] in ("ACTIVE", "ERROR") or time.monotonic() > deadline:
            return s
        time.sleep(0.3)


def _host(server: dict[str, Any]) -> str:
    return server["OS-EXT-SRV-ATTR:host"]


def _fault(server: dict[str, Any]) -> str:
    fault = server.get("fault") or {}
    return fault.get("message", "") + " " + fault.get("details", "") if isinstance(fault, dict) else str(fault)


def _name() -> str:
    return f"sched-{uuid.uuid4().hex[:8]}"


def test_anti_affinity_spreads_a_multi_create_then_runs_out(cloud: Any) -> None:
    group = cloud.openstack("server", "group", "create", "--policy", "anti-affinity", _name())["id"]
    name = _name()
    servers = _boot(cloud, name, "--hint", f"group={group}", "--min", "3", "--max", "3")
    assert [s["status"] for s in servers] == ["ACTIVE"] * 3
    assert len({_host(s) for s in servers}) == 3
    # the fourth member takes the last free host, a fifth finds none
    (fourth,) = _boot(cloud, name + "-4", "--hint", f"group={group}")
    assert fourth["status"] == "ACTIVE" and _host(fourth) not in {_host(s) for s in servers}
    (fifth,) = _boot(cloud, name + "-5", "--hint", f"group={group}")
    assert fifth["status"] == "ERROR"
    assert "No valid host was found" in _fault(fifth)
    assert "server_group_anti_affinity" in _fault(fifth)


def test_affinity_keeps_servers_together(cloud: Any) -> None:
    group = cloud.openstack("server", "group", "create", "--policy", "affinity", _name())["id"]
    servers = _boot(cloud, _name(), "--hint", f"group={group}", "--min", "3", "--max", "3")
    assert [s["status"] for s in servers] == ["ACTIVE"] * 3
    assert len({_host(s) for s in servers}) == 1


def test_same_host_and_different_host_hints(cloud: Any) -> None:
    (first,) = _boot(cloud, _name())
    (same,) = _boot(cloud, _name(), "--hint", f"same_host={first['id']}")
    (other,) = _boot(cloud, _name(), "--hint", f"different_host={first['id']}")
    assert _host(same) == _host(first)
    assert other["status"] == "ACTIVE" and _host(other) != _host(first)


def test_forced_host_through_the_zone(cloud: Any) -> None:
    (server,) = _boot(cloud, _name(), "--availability-zone", "nova:fake-3")
    assert server["status"] == "ACTIVE" and _host(server) == "fake-3"


def test_flavor_no_host_can_take_names_the_filter(cloud: Any) -> None:
    flavor = _name()
    cloud.openstack("flavor", "create", "--ram", str(64 * 1024 * 1024), "--vcpus", "1", "--disk", "0", flavor)
    image = _image(cloud)
    name = _name()
    cloud.openstack("server", "create", "--image", image, "--flavor", flavor, "--nic", "none", name)
    (listed,) = cloud.openstack("server", "list", "--name", f"^{name}$")
    server = _settle(cloud, listed["ID"])
    assert server["status"] == "ERROR"
    assert "Filter 'ram'" in _fault(server)


def test_reschedule_away_from_failing_hosts_with_the_chance_scheduler(make_cloud: Any) -> None:
    cloud = make_cloud({"scheduler": {"driver": "chance"},
                        "hypervisor_fake": {"host_count": 3, "fail_spawn_hosts": "fake-1,fake-2"}})
    cloud.start()
    servers = _boot(cloud, _name(), "--min", "4", "--max", "4")
    assert [s["status"] for s in servers] == ["ACTIVE"] * 4
    assert {_host(s) for s in servers} == {"fake-3"}
