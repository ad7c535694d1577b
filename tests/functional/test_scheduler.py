"""Scheduling through the real clients (openstacksdk, and the ``openstack`` CLI for one case):
server groups, hints, forced hosts, NoValidHost naming the filter, rescheduling away from
failing hosts, and the chance scheduler."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest


def _name() -> str:
    return f"sched-{uuid.uuid4().hex[:8]}"


class Boot:
    """Boots servers with openstacksdk and deletes them at the end (the admin quota is small)."""

    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud
        self.conn = cloud.connect()
        self.created: list[str] = []
        self.image = self._image()

    def _image(self) -> str:
        name = "sched-tiny"
        for img in self.conn.image.images(name=name):
            return img.id
        path = os.path.join(str(self.cloud.workdir), "sched-tiny.raw")
        with open(path, "wb") as f:
            f.write(b"\0" * 4096)
        img = self.conn.image.create_image(name=name, filename=path, disk_format="raw", container_format="bare",
                                           visibility="public")
        return img.id

    def __call__(self, count: int = 1, flavor: str = "c1.nano", **kw: Any) -> list[Any]:
        name = _name()
        flavor_id = self.conn.compute.find_flavor(flavor, ignore_missing=False).id
        extra = {"min_count": count, "max_count": count} if count > 1 else {}
        self.conn.compute.create_server(name=name, image_id=self.image, flavor_id=flavor_id, networks="none",
                                        **extra, **kw)
        servers = [s for s in self.conn.compute.servers(name=name) if s.name.startswith(name)]
        self.created += [s.id for s in servers]
        return [self.settle(s.id) for s in servers]

    def settle(self, server_id: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            s = self.conn.compute.get_server(server_id)
            if s.status in ("ACTIVE", "ERROR") or time.monotonic() > deadline:
                return s
            time.sleep(0.2)

    def cleanup(self) -> None:
        for sid in self.created:
            try:
                self.conn.compute.delete_server(sid, ignore_missing=True)
            except Exception:  # best effort: the cloud goes away with the session
                pass
        for sid in self.created:
            try:
                self.conn.compute.wait_for_delete(self.conn.compute.get_server(sid), wait=30)
            except Exception:
                pass


@pytest.fixture
def boot(cloud: Any) -> Iterator[Boot]:
    b = Boot(cloud)
    yield b
    b.cleanup()


def _fault(server: Any) -> str:
    fault = server.fault or {}
    return f"{fault.get('message', '')} {fault.get('details', '')}"


def test_anti_affinity_spreads_a_multi_create_then_runs_out(cloud: Any, boot: Boot) -> None:
    group = boot.conn.compute.create_server_group(name=_name(), policy="anti-affinity")
    try:
        servers = boot(3, scheduler_hints={"group": group.id})
        assert [s.status for s in servers] == ["ACTIVE"] * 3
        assert len({s.compute_host for s in servers}) == 3
        # the fourth member takes the last free host (4 fake hosts), a fifth finds none
        (fourth,) = boot(scheduler_hints={"group": group.id})
        assert fourth.status == "ACTIVE" and fourth.compute_host not in {s.compute_host for s in servers}
        (fifth,) = boot(scheduler_hints={"group": group.id})
        assert fifth.status == "ERROR"
        assert "No valid host was found" in _fault(fifth)
        assert "server_group_anti_affinity" in _fault(fifth)
    finally:
        boot.cleanup()
        boot.conn.compute.delete_server_group(group, ignore_missing=True)


def test_affinity_with_the_openstack_cli(cloud: Any, boot: Boot) -> None:
    group = cloud.openstack("server", "group", "create", "--policy", "affinity", _name())["id"]
    name = _name()
    cloud.openstack("server", "create", "--image", boot.image, "--flavor", "c1.nano", "--nic", "none",
                    "--hint", f"group={group}", "--min", "3", "--max", "3", "--wait", name)
    servers = [s for s in boot.conn.compute.servers(name=name)]
    boot.created += [s.id for s in servers]
    assert len(servers) == 3 and all(s.status == "ACTIVE" for s in servers)
    assert len({s.compute_host for s in servers}) == 1


def test_same_host_and_different_host_hints(boot: Boot) -> None:
    (first,) = boot()
    (same,) = boot(scheduler_hints={"same_host": first.id})
    (other,) = boot(scheduler_hints={"different_host": [first.id]})
    assert same.status == "ACTIVE" and same.compute_host == first.compute_host
    assert other.status == "ACTIVE" and other.compute_host != first.compute_host


def test_forced_host_through_the_zone(boot: Boot) -> None:
    (server,) = boot(availability_zone="nova:fake-3")
    assert server.status == "ACTIVE" and server.compute_host == "fake-3"


def test_flavor_no_host_can_take_names_the_filter(boot: Boot) -> None:
    # more root disk than a fake host has (4096 GiB); RAM and vCPUs would hit the project quota first
    flavor = boot.conn.compute.create_flavor(name=_name(), ram=64, vcpus=1, disk=5000)
    try:
        (server,) = boot(flavor=flavor.name)
        assert server.status == "ERROR"
        assert "Filter 'disk'" in _fault(server)
    finally:
        boot.cleanup()
        boot.conn.compute.delete_flavor(flavor, ignore_missing=True)


def test_reschedule_away_from_failing_hosts_with_the_chance_scheduler(make_cloud: Any) -> None:
    cloud = make_cloud({"scheduler": {"driver": "chance"},
                        "hypervisor_fake": {"host_count": 3, "fail_spawn_hosts": "fake-1,fake-2"}})
    cloud.start()
    boot = Boot(cloud)
    servers = boot(4)
    assert [s.status for s in servers] == ["ACTIVE"] * 4
    assert {s.compute_host for s in servers} == {"fake-3"}
