"""Crash recovery: ``kill -9`` of the whole cloud during a burst of creates leaves nothing stuck.

On start each compute host and the scheduler settle what they owned: interrupted builds
go to ERROR with a fault saying why, deletes finish, interrupted power operations are
read back from the hypervisor. Within seconds of the restart, not after the task-state
sweeper's minutes.
"""

from __future__ import annotations

import concurrent.futures
import os
import time
from typing import Any

from cumulo.testing.cloud import CumuloCloud

BURST = 10


def _image(conn: Any, workdir: str) -> str:
    path = os.path.join(workdir, "crash.raw")
    with open(path, "wb") as f:
        f.write(b"\0" * 4096)
    return conn.image.create_image(name="crash", filename=path, disk_format="raw", container_format="bare",
                                   visibility="public").id


def _wait(conn: Any, server_id: str, check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        s = conn.compute.get_server(server_id)
        if check(s):
            return s
        assert time.monotonic() < deadline, f"{server_id}: {s.status}/{s.task_state}"
        time.sleep(0.2)


def test_kill_during_a_burst_leaves_nothing_in_build(make_cloud: Any) -> None:
    cloud: CumuloCloud = make_cloud({"hypervisor_fake": {"spawn_latency": 3,
                                                         "operation_latency": "destroy:30,reboot:30"}})
    cloud.start()
    cloud.openstack("quota", "set", "--instances", "50", "--cores", "100", "admin", json_out=False)
    conn = cloud.connect()
    image = _image(conn, cloud.workdir)
    flavor = conn.compute.find_flavor("c1.nano", ignore_missing=False).id

    def boot(name: str) -> str:
        return conn.compute.create_server(name=name, image_id=image, flavor_id=flavor, networks="none").id

    # Servers that will be mid-delete and mid-reboot when the cloud dies (the fake hypervisor
    # takes 30 s for those).
    steady = [boot(f"crash-steady-{i}") for i in range(3)]
    for sid in steady:
        _wait(conn, sid, lambda s: s.status == "ACTIVE")
    deleting, rebooting = steady[:2], steady[2]
    for sid in deleting:
        conn.compute.delete_server(sid)
    conn.compute.reboot_server(rebooting, "HARD")
    _wait(conn, rebooting, lambda s: s.task_state == "rebooting_hard")
    for sid in deleting:
        _wait(conn, sid, lambda s: s.task_state == "deleting")

    # The burst: each create returns at once, each build spends 3 s spawning.
    def burst_one(i: int) -> str | None:
        try:
            c = cloud.connect()
            return c.compute.create_server(name=f"crash-burst-{i}", image_id=image, flavor_id=flavor,
                                           networks="none").id
        except Exception:  # the cloud died under this request
            return None

    pool = concurrent.futures.ThreadPoolExecutor(BURST)
    futures = [pool.submit(burst_one, i) for i in range(BURST)]
    deadline = time.monotonic() + 60
    while sum(1 for f in futures if f.done()) < BURST // 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    cloud.kill()  # SIGKILL of the process group, mid-burst
    pool.shutdown(wait=True)
    created = [f.result() for f in futures if f.result()]
    assert created, "no create went through before the kill"

    # Restart on the same state path (without the slow hypervisor, so what is measured is
    # the reconciliation, not the fake's latency).
    cloud.config["hypervisor_fake"] = {}
    cloud.start()
    restarted = time.monotonic()
    conn = cloud.connect()

    def settled() -> list[Any] | None:
        servers = list(conn.compute.servers(details=True))
        if any(s.status not in ("ACTIVE", "ERROR", "SHUTOFF") or s.task_state for s in servers):
            return None
        return servers

    while (servers := settled()) is None:
        stuck = [(s.name, s.status, s.task_state) for s in conn.compute.servers(details=True)
                 if s.status not in ("ACTIVE", "ERROR", "SHUTOFF") or s.task_state]
        assert time.monotonic() - restarted < 15, f"still in progress 15 s after the restart: {stuck}"
        time.sleep(0.3)

    by_id = {s.id: s for s in servers}
    for sid in deleting:  # the deletes were finished
        assert sid not in by_id
    assert by_id[rebooting].status == "ACTIVE" and by_id[rebooting].task_state is None
    burst = [s for s in servers if s.name.startswith("crash-burst-")]
    assert set(created) <= {s.id for s in burst}
    errors = [s for s in burst if s.status == "ERROR"]
    assert errors, "no build was interrupted: the kill came too late to test anything"
    for s in burst:
        assert s.status in ("ACTIVE", "ERROR"), (s.name, s.status)
        if s.status == "ERROR":
            assert "interrupted by a restart" in (s.fault or {}).get("message", ""), s.fault
    # The cloud works: an interrupted server can be deleted, a new one builds.
    conn.compute.delete_server(errors[0].id)
    conn.compute.wait_for_delete(errors[0], wait=30)
    new = conn.compute.create_server(name="crash-after", image_id=image, flavor_id=flavor, networks="none")
    assert conn.compute.wait_for_server(new, status="ACTIVE", wait=60).status == "ACTIVE"
