"""Server moves through the real ``openstack`` client against one all-in-one cloud (4 fake hosts):
createBackup with rotation, cold migration with confirm and revert, live migration, shelve and
unshelve, evacuation from a host forced down, and the migration records of each."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cumulo.testing.cloud import CumuloCloud

#: Where the client's options need a microversion (``--host`` of migrate 2.56, of live migration 2.30,
#: forced down services 2.11, migration types 2.23): the highest this cloud offers.
MV = ("--os-compute-api-version=2.79",)


@pytest.fixture(scope="module")
def moves_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    c = CumuloCloud(tmp_path_factory.mktemp("moves"), config={"compute": {"sync_power_state_interval": 2}})
    c.start(timeout=180)
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def image(moves_cloud: CumuloCloud) -> str:
    path = os.path.join(moves_cloud.workdir, "moves-tiny.raw")
    with open(path, "wb") as f:
        f.write(b"\0" * 4096)
    out = moves_cloud.openstack("image", "create", "--disk-format", "raw", "--container-format", "bare",
                                "--file", path, "--public", "moves-tiny")
    return str(out["id"])


@pytest.fixture
def server(moves_cloud: CumuloCloud, image: str) -> Iterator[Callable[..., dict[str, Any]]]:
    made: list[str] = []

    def boot(**kw: str) -> dict[str, Any]:
        name = f"mv-{uuid.uuid4().hex[:8]}"
        extra = [a for k, val in kw.items() for a in (f"--{k}", val)]
        out = moves_cloud.openstack("server", "create", "--image", image, "--flavor", "c1.nano", "--nic", "none",
                                    "--wait", *extra, name)
        made.append(out["id"])
        assert out["status"] == "ACTIVE", out
        return dict(out)

    yield boot
    for sid in made:
        moves_cloud.openstack("server", "delete", "--wait", sid, check=False)


def show(cloud: CumuloCloud, sid: str) -> dict[str, Any]:
    return dict(cloud.openstack(*MV, "server", "show", sid))


def wait_status(cloud: CumuloCloud, sid: str, status: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        s = show(cloud, sid)
        if s["status"] == status and not s.get("OS-EXT-STS:task_state"):
            return s
        if s["status"] == "ERROR" or time.monotonic() > deadline:
            raise AssertionError(f"server {sid} is {s['status']}/{s.get('OS-EXT-STS:task_state')}, "
                                 f"not {status}: {s.get('fault')}")
        time.sleep(0.3)


def host_of(s: dict[str, Any]) -> str:
    return str(s["OS-EXT-SRV-ATTR:host"])


def migrations(cloud: CumuloCloud, sid: str) -> list[dict[str, Any]]:
    return list(cloud.openstack(*MV, "server", "migration", "list", "--server", sid))


def other_host(cloud: CumuloCloud, not_this: str) -> str:
    hosts = sorted(h["Host"] for h in cloud.openstack("compute", "service", "list", "--service", "nova-compute")
                   ) or sorted(h["Host"] for h in cloud.openstack("compute", "service", "list")
                               if "compute" in h["Binary"])
    return next(h for h in hosts if h != not_this)


def test_backup_create_rotates_the_oldest_away(moves_cloud: CumuloCloud, server: Any) -> None:
    s = server()
    made = []
    for i in range(3):  # (the client finds the new image by its name: one name each)
        out = moves_cloud.openstack("server", "backup", "create", "--name", f"bk{i}-{s['name']}", "--type", "daily",
                                    "--rotate", "2", "--wait", s["id"])
        made.append(out["id"])
        wait_status(moves_cloud, s["id"], "ACTIVE")
    kept = moves_cloud.openstack("image", "list", "--property", f"instance_uuid={s['id']}",
                                 "--property", "image_type=backup")
    assert sorted(i["ID"] for i in kept) == sorted(made[1:])  # the first (oldest) one was rotated away
    props = moves_cloud.openstack("image", "show", made[-1])["properties"]
    assert props["image_type"] == "backup" and props["backup_type"] == "daily"
    assert props["instance_uuid"] == s["id"]
    # a weekly backup is rotated separately, and rotation 0 removes every backup of its type
    moves_cloud.openstack("server", "backup", "create", "--name", "wk1", "--type", "weekly", "--rotate", "1",
                          "--wait", s["id"])
    wait_status(moves_cloud, s["id"], "ACTIVE")
    assert len(moves_cloud.openstack("image", "list", "--property", f"instance_uuid={s['id']}",
                                     "--property", "backup_type=weekly")) == 1
    # rotation 0 (through openstacksdk: the CLI shows the new image afterwards, and it is gone by then)
    moves_cloud.connect().compute.backup_server(s["id"], "wk0", "weekly", 0)
    wait_status(moves_cloud, s["id"], "ACTIVE")
    deadline = time.monotonic() + 30
    while moves_cloud.openstack("image", "list", "--property", f"instance_uuid={s['id']}",
                                "--property", "backup_type=weekly") and time.monotonic() < deadline:
        time.sleep(0.3)
    assert moves_cloud.openstack("image", "list", "--property", f"instance_uuid={s['id']}",
                                 "--property", "backup_type=weekly") == []
    assert len(moves_cloud.openstack("image", "list", "--property", f"instance_uuid={s['id']}",
                                     "--property", "backup_type=daily")) == 2
    for image_id in made[1:]:
        moves_cloud.openstack("image", "delete", image_id, check=False)


def test_cold_migrate_to_a_host_then_confirm_and_revert(moves_cloud: CumuloCloud, server: Any) -> None:
    s = server()
    source = host_of(s)
    dest = other_host(moves_cloud, source)
    moves_cloud.openstack(*MV, "server", "migrate", "--host", dest, "--wait", s["id"], json_out=False)
    moved = wait_status(moves_cloud, s["id"], "VERIFY_RESIZE")
    assert host_of(moved) == dest
    (m,) = [m for m in migrations(moves_cloud, s["id"]) if m["Type"] == "migration"]
    assert (m["Source Compute"], m["Dest Compute"], m["Status"]) == (source, dest, "finished")
    moves_cloud.openstack("server", "migration", "confirm", s["id"], json_out=False)
    assert host_of(wait_status(moves_cloud, s["id"], "ACTIVE")) == dest
    assert migrations(moves_cloud, s["id"])[0]["Status"] == "confirmed"
    # again, without a host (the scheduler picks another one), and reverted: back where it was
    moves_cloud.openstack("server", "migrate", "--wait", s["id"], json_out=False)
    again = wait_status(moves_cloud, s["id"], "VERIFY_RESIZE")
    assert host_of(again) != dest
    moves_cloud.openstack("server", "migration", "revert", s["id"], json_out=False)
    assert host_of(wait_status(moves_cloud, s["id"], "ACTIVE")) == dest
    assert migrations(moves_cloud, s["id"])[0]["Status"] == "reverted"
    # the administrators' list filters by host
    listed = moves_cloud.openstack(*MV, "server", "migration", "list", "--host", source, "--type", "cold-migration")
    assert s["id"] in {m["Server UUID"] for m in listed}


def test_migrate_to_its_own_or_an_unknown_host_is_a_client_error(moves_cloud: CumuloCloud, server: Any) -> None:
    s = server()
    own = moves_cloud.openstack(*MV, "server", "migrate", "--host", host_of(s), s["id"], check=False)
    assert own.returncode != 0 and "already on host" in own.stderr
    unknown = moves_cloud.openstack(*MV, "server", "migrate", "--host", "no-such-host", s["id"], check=False)
    assert unknown.returncode != 0 and "could not be found" in unknown.stderr
    assert wait_status(moves_cloud, s["id"], "ACTIVE")["status"] == "ACTIVE"


def test_live_migrate_keeps_it_running_on_the_new_host(moves_cloud: CumuloCloud, server: Any) -> None:
    s = server()
    source = host_of(s)
    dest = other_host(moves_cloud, source)
    moves_cloud.openstack(*MV, "server", "migrate", "--live-migration", "--host", dest, "--wait", s["id"],
                          json_out=False)
    moved = wait_status(moves_cloud, s["id"], "ACTIVE")
    assert host_of(moved) == dest and moved["OS-EXT-STS:power_state"] in ("Running", 1)
    (m,) = [m for m in migrations(moves_cloud, s["id"]) if m["Type"] == "live-migration"]
    assert (m["Source Compute"], m["Dest Compute"], m["Status"]) == (source, dest, "completed")
    # no longer in progress: the server's own migrations list is empty
    assert moves_cloud.openstack(*MV, "server", "migration", "list", "--server", s["id"], "--status",
                                 "running") == []
    # and once more, letting the scheduler choose
    moves_cloud.openstack(*MV, "server", "migrate", "--live-migration", "--wait", s["id"], json_out=False)
    assert host_of(wait_status(moves_cloud, s["id"], "ACTIVE")) != dest


def test_shelve_offloads_to_the_image_service_and_unshelve_brings_it_back(moves_cloud: CumuloCloud,
                                                                          server: Any) -> None:
    s = server()
    moves_cloud.openstack("server", "shelve", "--wait", s["id"], json_out=False)
    shelved = wait_status(moves_cloud, s["id"], "SHELVED_OFFLOADED")
    assert not shelved["OS-EXT-SRV-ATTR:host"]
    (snap,) = moves_cloud.openstack("image", "list", "--name", f"{s['name']}-shelved")
    props = moves_cloud.openstack("image", "show", snap["ID"])["properties"]
    assert props["instance_uuid"] == s["id"]
    moves_cloud.openstack("server", "unshelve", "--wait", s["id"], json_out=False)
    back = wait_status(moves_cloud, s["id"], "ACTIVE")
    assert back["OS-EXT-SRV-ATTR:host"]
    deadline = time.monotonic() + 30
    while moves_cloud.openstack("image", "list", "--name", f"{s['name']}-shelved") and time.monotonic() < deadline:
        time.sleep(0.3)
    assert moves_cloud.openstack("image", "list", "--name", f"{s['name']}-shelved") == []
    # unshelving a server that is not shelved is a conflict, not a silent no-op (through openstacksdk: the
    # CLI itself skips a server that is not shelved)
    from openstack import exceptions as sdk_exceptions

    with pytest.raises(sdk_exceptions.ConflictException):
        moves_cloud.connect().compute.unshelve_server(s["id"])


def _compute_binary(cloud: CumuloCloud, host: str) -> str:
    rows = cloud.openstack("compute", "service", "list", "--host", host)
    return str(next(r["Binary"] for r in rows if "compute" in r["Binary"]))


def test_evacuate_from_a_host_forced_down(moves_cloud: CumuloCloud, server: Any) -> None:
    s = server()
    source = host_of(s)
    binary = _compute_binary(moves_cloud, source)
    refused = moves_cloud.openstack(*MV, "server", "evacuate", s["id"], check=False)
    assert refused.returncode != 0 and "409" in refused.stderr  # its host is up
    moves_cloud.openstack(*MV, "compute", "service", "set", "--down", source, binary, json_out=False)
    try:
        # (no --wait: the client's wait compares 'ACTIVE' with the lower-cased status and never ends)
        moves_cloud.openstack(*MV, "server", "evacuate", s["id"])
        moved = wait_status(moves_cloud, s["id"], "ACTIVE")
        assert host_of(moved) != source
        (m,) = [m for m in migrations(moves_cloud, s["id"]) if m["Type"] == "evacuation"]
        assert (m["Source Compute"], m["Status"]) == (source, "done")
    finally:
        moves_cloud.openstack(*MV, "compute", "service", "set", "--up", source, binary, json_out=False)
    # back up, the source removes its stale copy (with its next power sync) and the evacuation completes
    deadline = time.monotonic() + 30
    while migrations(moves_cloud, s["id"])[0]["Status"] != "completed" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert migrations(moves_cloud, s["id"])[0]["Status"] == "completed"


def test_moves_are_for_administrators(moves_cloud: CumuloCloud, server: Any) -> None:
    s = server()
    name = f"mvuser-{uuid.uuid4().hex[:6]}"
    project = moves_cloud.openstack("project", "create", name)["id"]
    moves_cloud.openstack("user", "create", "--password", "pw-" + name, "--project", project, name)
    moves_cloud.openstack("role", "add", "--user", name, "--project", project, "member", json_out=False)
    moves_cloud.add_user_cloud(name, name, "pw-" + name, project_name=name)
    try:
        out = moves_cloud.openstack(*MV, "server", "migration", "list", os_cloud=name, check=False)
        assert out.returncode != 0 and "403" in out.stderr
        # and another project's server is not even visible to it
        out = moves_cloud.openstack("server", "migrate", s["id"], os_cloud=name, check=False)
        assert out.returncode != 0
    finally:
        moves_cloud.openstack("user", "delete", name, check=False)
        moves_cloud.openstack("project", "delete", project, check=False)
