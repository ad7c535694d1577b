"""Block Storage conformance with the unmodified ``openstack`` CLI against ``cumulo up``: volume transfers
between projects, generic volume groups and group snapshots, the services an administrator disables,
and QoS specs (what Tempest's volume tests found missing, checked the way an operator meets them)."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from cumulo import registry
from cumulo.testing.cloud import CommandFailed, CumuloCloud
from cumulo.testing.fixtures import unavailable

GROUPS = ("--os-volume-api-version", "3.20")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    missing = [t for t in ("qemu-img", "qemu-io") if not shutil.which(t)]
    if missing:
        unavailable(f"{', '.join(missing)} not installed (tools/system-packages.sh installs qemu-utils)")
    if "volumev3" not in registry.names("api") or "volume" not in registry.names("service"):
        unavailable("cumulo-service-volume and cumulo-api-volume are not installed")
    frontends = [f for f in ("identity", "image", "object-store", "volumev3") if f in registry.names("api")]
    c = CumuloCloud(tmp_path_factory.mktemp("volume-conformance"),
                    config={"api": {"frontends": ",".join(frontends)}, "volume": {"driver": "file"}})
    c.start()
    yield c
    c.stop()


_DATA = {"create", "show", "list", "accept"}


def osc(cloud: CumuloCloud, *args: str, os_cloud: str = "cumulo") -> Any:
    """``cloud.openstack`` with ``-f json`` wherever the command prints data (its own guess looks at the first
    three words only: ``volume transfer request create`` and the microversion flag's value defeat it)."""
    words = [a for a in args if not a.startswith("-")]
    return cloud.openstack(*args, os_cloud=os_cloud, json_out=any(w in _DATA for w in words[:5]))


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_volume(cloud: CumuloCloud, name: str, status: str, os_cloud: str = "cumulo") -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        shown: dict[str, Any] = osc(cloud, "volume", "show", name, os_cloud=os_cloud)
        if shown["status"] == status or time.monotonic() > deadline:
            assert shown["status"] == status, shown
            return shown
        time.sleep(0.5)


def test_transfer_a_volume_to_another_project(cloud: CumuloCloud) -> None:
    project, user = uniq("receiver"), uniq("bob")
    osc(cloud, "project", "create", project)
    osc(cloud, "user", "create", "--project", project, "--password", "pw-" + user, user)
    osc(cloud, "role", "add", "--user", user, "--project", project, "member")
    cloud.add_user_cloud("receiver", user, "pw-" + user, project_name=project)
    name = uniq("moving")
    osc(cloud, "volume", "create", "--size", "1", name)
    wait_volume(cloud, name, "available")
    request = osc(cloud, "volume", "transfer", "request", "create", "--name", "t1", name)
    assert request["auth_key"] and request["volume_id"]
    assert wait_volume(cloud, name, "awaiting-transfer")["id"] == request["volume_id"]
    listed = osc(cloud, "volume", "transfer", "request", "list")
    assert request["id"] in [t["ID"] for t in listed]
    with pytest.raises(CommandFailed):  # a wrong key changes nothing
        osc(cloud, "volume", "transfer", "request", "accept", "--auth-key", "wrong", request["id"],
                        os_cloud="receiver")
    accepted = osc(cloud, "volume", "transfer", "request", "accept", "--auth-key", request["auth_key"],
                               request["id"], os_cloud="receiver")
    assert accepted["volume_id"] == request["volume_id"]
    moved = wait_volume(cloud, request["volume_id"], "available", os_cloud="receiver")
    assert moved["name"] == name
    assert request["volume_id"] not in [v["ID"] for v in osc(cloud, "volume", "list")]
    quota = osc(cloud, "quota", "show", "--usage", project)
    volumes = next(q for q in quota if q["Resource"] == "volumes")
    assert volumes["In Use"] == 1
    # a withdrawn request gives the volume back to where it was
    other = uniq("staying")
    osc(cloud, "volume", "create", "--size", "1", other)
    wait_volume(cloud, other, "available")
    second = osc(cloud, "volume", "transfer", "request", "create", other)
    osc(cloud, "volume", "transfer", "request", "delete", second["id"])
    wait_volume(cloud, other, "available")
    osc(cloud, "volume", "delete", other)


def test_volume_groups_and_group_snapshots(cloud: CumuloCloud) -> None:
    vtype, gtype, group = uniq("gvt"), uniq("ggt"), uniq("group")
    osc(cloud, "volume", "type", "create", vtype)
    made_type = osc(cloud, *GROUPS, "volume", "group", "type", "create", gtype)
    assert gtype in made_type.values(), made_type
    osc(cloud, *GROUPS, "volume", "group", "type", "set", "--property", "consistent_group_snapshot_enabled="
                    "<is> True", gtype)
    assert "consistent_group_snapshot_enabled" in str(
        osc(cloud, *GROUPS, "volume", "group", "type", "show", gtype)["Properties"])
    made = osc(cloud, *GROUPS, "volume", "group", "create", "--volume-group-type", gtype, "--volume-type",
                           vtype, "--name", group)
    assert made["Status"] == "available"
    members = [uniq("member") for _ in range(2)]
    for member in members:
        osc(cloud, "volume", "create", "--size", "1", "--type", vtype, member)
        wait_volume(cloud, member, "available")
    osc(cloud, *GROUPS, "volume", "group", "add", "volume", group, *members)
    ids = {osc(cloud, "volume", "show", m)["id"] for m in members}
    detail = osc(cloud, "--os-volume-api-version", "3.25", "volume", "group", "show", group)
    assert set(detail["Volumes"]) == ids
    snap = osc(cloud, *GROUPS, "volume", "group", "snapshot", "create", "--description", "both", "--name",
               uniq("gsnap"), group)
    shown = osc(cloud, *GROUPS, "volume", "group", "snapshot", "show", snap["ID"])
    assert shown["Status"] == "available"
    snapshots = osc(cloud, "volume", "snapshot", "list", "--long")
    assert len([s for s in snapshots if s["Volume"] in ids or s["Volume"] in members]) == 2
    copy = osc(cloud, *GROUPS, "volume", "group", "create", "--group-snapshot", snap["ID"], "--name",
                           uniq("copy"))
    assert osc(cloud, *GROUPS, "volume", "group", "show", copy["ID"])["Status"] == "available"
    osc(cloud, *GROUPS, "volume", "group", "remove", "volume", group, members[1])
    detail = osc(cloud, "--os-volume-api-version", "3.25", "volume", "group", "show", group)
    assert len(detail["Volumes"]) == 1
    with pytest.raises(CommandFailed):  # the group has a group snapshot
        osc(cloud, *GROUPS, "volume", "group", "delete", "--force", group)
    osc(cloud, *GROUPS, "volume", "group", "delete", "--force", copy["ID"])
    osc(cloud, *GROUPS, "volume", "group", "snapshot", "delete", snap["ID"])
    osc(cloud, *GROUPS, "volume", "group", "delete", "--force", group)
    assert group not in [g["Name"] for g in osc(cloud, *GROUPS, "volume", "group", "list")]


def test_a_disabled_volume_service_takes_no_volumes(cloud: CumuloCloud) -> None:
    services = osc(cloud, "volume", "service", "list", "--long")
    backend = next(s for s in services if s["Binary"] == "cinder-volume")
    osc(cloud, "volume", "service", "set", "--disable", "--disable-reason", "maintenance", backend["Host"],
                    "cinder-volume")
    shown = next(s for s in osc(cloud, "volume", "service", "list", "--long")
                 if s["Binary"] == "cinder-volume")
    assert shown["Status"] == "disabled" and shown["Disabled Reason"] == "maintenance"
    try:
        name = uniq("refused")
        osc(cloud, "volume", "create", "--size", "1", name)
        assert osc(cloud, "volume", "show", name)["status"] == "error"
        osc(cloud, "volume", "delete", name)
    finally:
        osc(cloud, "volume", "service", "set", "--enable", backend["Host"], "cinder-volume")
    name = uniq("accepted")
    osc(cloud, "volume", "create", "--size", "1", name)
    wait_volume(cloud, name, "available")
    node = backend["Host"].split("@")[0]
    on_node = osc(cloud, "volume", "service", "list", "--host", node)
    assert sorted(s["Binary"] for s in on_node) == ["cinder-scheduler", "cinder-volume"]


def test_qos_specs_on_a_volume_type(cloud: CumuloCloud) -> None:
    qos, vtype = uniq("qos"), uniq("qt")
    made = osc(cloud, "volume", "qos", "create", "--consumer", "front-end", "--property", "read_iops_sec=2000",
                           qos)
    assert made["consumer"] == "front-end"
    osc(cloud, "volume", "type", "create", vtype)
    osc(cloud, "volume", "qos", "associate", qos, vtype)
    shown = osc(cloud, "volume", "qos", "show", qos)
    assert vtype in str(shown["associations"]) and "2000" in str(shown["properties"])
    with pytest.raises(CommandFailed):  # still associated
        osc(cloud, "volume", "qos", "delete", qos)
    osc(cloud, "volume", "qos", "disassociate", "--all", qos)
    osc(cloud, "volume", "qos", "delete", qos)
    assert qos not in [q["Name"] for q in osc(cloud, "volume", "qos", "list")]
