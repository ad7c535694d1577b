"""Compute with the unmodified clients: python-openstackclient and openstacksdk
against ``cumulo up`` (fake hypervisor, 4 fake hosts).

``quota show`` runs with ``--compute``: without it OSC also queries the network
and volume quota APIs (``quota set`` only calls the APIs whose options are given).
OSC's ``--wait`` polls every 5 seconds, so most tests poll with ``server show``.
"""

from __future__ import annotations

import os
import uuid

import pytest

from cumulo.testing.cloud import CommandFailed


@pytest.fixture(scope="module")
def image(cloud, tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "disk.raw"
    path.write_bytes(os.urandom(4096))
    name = "cirros-" + uuid.uuid4().hex[:6]
    cloud.openstack("image", "create", "--public", "--disk-format", "raw", "--container-format", "bare",
                    "--property", "os_distro=cirros", "--file", str(path), name)
    return name


@pytest.fixture(scope="module")
def keypair(cloud):
    name = "k-" + uuid.uuid4().hex[:6]
    out = cloud.openstack("keypair", "create", name, json_out=False)
    assert "PRIVATE KEY" in out
    return name


def _server(cloud, name):
    return cloud.openstack("server", "show", name)


def test_boot_show_list_delete(cloud, image, keypair):
    s = cloud.openstack("server", "create", "--image", image, "--flavor", "c1.nano", "--key-name", keypair,
                        "--wait", "fc-boot")
    assert s["status"] == "ACTIVE" and s["key_name"] == keypair
    assert s["OS-EXT-SRV-ATTR:host"].startswith("fake-")
    names = [x["Name"] for x in cloud.openstack("server", "list")]
    assert "fc-boot" in names
    cloud.openstack("server", "delete", "--wait", "fc-boot")
    assert "fc-boot" not in [x["Name"] for x in cloud.openstack("server", "list")]


def test_boot_with_and_without_network(cloud, image):
    cloud.openstack("server", "create", "--image", image, "--flavor", "c1.nano", "--nic", "none", "fc-nonet")
    s = _wait(cloud, "fc-nonet", "ACTIVE")
    assert not s["addresses"]
    cloud.openstack("server", "delete", "fc-nonet")
    net = "fc-net-" + uuid.uuid4().hex[:4]
    cloud.openstack("network", "create", net)
    cloud.openstack("subnet", "create", "--network", net, "--subnet-range", "192.168.77.0/24", net + "-sub")
    cloud.openstack("server", "create", "--image", image, "--flavor", "c1.nano", "--network", net, "fc-net")
    s = _wait(cloud, "fc-net", "ACTIVE")
    assert net in str(s["addresses"]) and "192.168.77." in str(s["addresses"])
    cloud.openstack("server", "delete", "--wait", "fc-net")
    cloud.openstack("network", "delete", net)


def test_power_and_rescue_actions(cloud, image):
    cloud.openstack("server", "create", "--image", image, "--flavor", "c1.nano", "--nic", "none", "fc-act")
    _wait(cloud, "fc-act", "ACTIVE")
    cloud.openstack("server", "reboot", "fc-act")
    _wait(cloud, "fc-act", "ACTIVE")
    cloud.openstack("server", "stop", "fc-act")
    _wait(cloud, "fc-act", "SHUTOFF")
    cloud.openstack("server", "start", "fc-act")
    _wait(cloud, "fc-act", "ACTIVE")
    for action, state, undo in (("pause", "PAUSED", "unpause"), ("suspend", "SUSPENDED", "resume"),
                                ("rescue", "RESCUE", "unrescue")):
        cloud.openstack("server", action, "fc-act")
        _wait(cloud, "fc-act", state)
        cloud.openstack("server", undo, "fc-act")
        _wait(cloud, "fc-act", "ACTIVE")
    log = cloud.openstack("console", "log", "show", "--lines", "5", "fc-act", json_out=False)
    assert "fake hypervisor" in log or "login" in log
    url = cloud.openstack("console", "url", "show", "fc-act")
    assert url["url"].startswith("http")
    cloud.openstack("server", "set", "--property", "role=web", "--tag", "blue", "fc-act")
    s = _server(cloud, "fc-act")
    assert "role='web'" in str(s["properties"]) or s["properties"] == {"role": "web"}
    assert "blue" in s["tags"]
    events = [e["Action"] for e in cloud.openstack("server", "event", "list", "fc-act")]
    assert events[0] == "unrescue" and "create" in events and "pause" in events
    cloud.openstack("server", "delete", "fc-act")


def test_resize_rebuild_snapshot(cloud, image):
    cloud.openstack("server", "create", "--image", image, "--flavor", "m1.tiny", "--nic", "none", "fc-rs")
    _wait(cloud, "fc-rs", "ACTIVE")
    cloud.openstack("server", "resize", "--flavor", "m1.small", "fc-rs")
    _wait(cloud, "fc-rs", "VERIFY_RESIZE")
    cloud.openstack("server", "resize", "confirm", "fc-rs")
    s = _wait(cloud, "fc-rs", "ACTIVE")
    assert "m1.small" in str(s["flavor"])
    cloud.openstack("server", "resize", "--flavor", "m1.medium", "fc-rs")
    _wait(cloud, "fc-rs", "VERIFY_RESIZE")
    cloud.openstack("server", "resize", "revert", "fc-rs")
    s = _wait(cloud, "fc-rs", "ACTIVE")
    assert "m1.small" in str(s["flavor"])
    cloud.openstack("server", "rebuild", "--image", image, "fc-rs")
    _wait(cloud, "fc-rs", "ACTIVE")
    snap = cloud.openstack("server", "image", "create", "--name", "fc-snap", "--wait", "fc-rs")
    assert snap["status"] == "active"
    props = cloud.openstack("image", "show", "fc-snap")["properties"]
    assert props["os_distro"] == "cirros" and props["image_type"] == "snapshot"  # inherited from its base, as Nova
    cloud.openstack("image", "delete", "fc-snap")
    cloud.openstack("server", "image", "create", "--name", "fc-snap2", "--property", "image_type=golden", "--wait",
                    "fc-rs")
    assert cloud.openstack("image", "show", "fc-snap2")["properties"]["image_type"] == "golden"  # the caller's wins
    cloud.openstack("image", "delete", "fc-snap2")
    cloud.openstack("server", "delete", "fc-rs")


def test_server_group_anti_affinity(cloud, image):
    g = cloud.openstack("server", "group", "create", "--policy", "anti-affinity", "fc-group")
    hosts = set()
    for i in range(2):
        cloud.openstack("server", "create", "--image", image, "--flavor", "c1.nano", "--nic", "none",
                        "--hint", f"group={g['id']}", f"fc-aa{i}")
    for i in range(2):
        hosts.add(_wait(cloud, f"fc-aa{i}", "ACTIVE")["OS-EXT-SRV-ATTR:host"])
    assert len(hosts) == 2
    cloud.openstack("server", "delete", "fc-aa0", "fc-aa1")
    cloud.openstack("server", "group", "delete", "fc-group")


def test_flavors_keypairs(cloud, keypair):
    f = cloud.openstack("flavor", "create", "--ram", "128", "--vcpus", "1", "--disk", "1", "fc-flavor")
    assert f["ram"] == 128
    assert "fc-flavor" in [x["Name"] for x in cloud.openstack("flavor", "list")]
    cloud.openstack("flavor", "delete", "fc-flavor")
    assert keypair in [k["Name"] for k in cloud.openstack("keypair", "list")]


def test_quota_enforced(cloud, image):
    project = "fcq-" + uuid.uuid4().hex[:6]
    cloud.openstack("project", "create", project)
    cloud.openstack("user", "create", "--password", "pw-" + project, "--project", project, project)
    cloud.openstack("role", "add", "--project", project, "--user", project, "member")
    cloud.add_user_cloud(project, project, "pw-" + project, project)
    cloud.openstack("quota", "set", "--instances", "1", project, json_out=False)
    shown = cloud.openstack("quota", "show", "--compute", project)
    assert {"Resource": "instances", "Limit": 1} in shown
    cloud.openstack("server", "create", "--image", image, "--flavor", "c1.nano", "--nic", "none", "fcq1",
                    os_cloud=project)
    with pytest.raises(CommandFailed) as err:
        cloud.openstack("server", "create", "--image", image, "--flavor", "c1.nano", "--nic", "none", "fcq2",
                        os_cloud=project)
    assert "instances" in err.value.stderr.lower() and "quota" in err.value.stderr.lower()
    cloud.openstack("server", "delete", "fcq1", os_cloud=project)


def test_hosts_services_zones(cloud):
    hvs = cloud.openstack("hypervisor", "list")
    assert len([h for h in hvs if h["Hypervisor Hostname"].startswith("fake-")]) >= 2
    services = [s for s in cloud.openstack("compute", "service", "list") if s["Binary"] == "nova-compute"]
    assert services and all(s["State"] == "up" for s in services)
    host = services[-1]["Host"]
    cloud.openstack("compute", "service", "set", "--disable", "--disable-reason", "test", host, "cumulo-compute")
    listed = {s["Host"]: s for s in cloud.openstack("compute", "service", "list")}
    assert listed[host]["Status"] == "disabled"
    cloud.openstack("compute", "service", "set", "--enable", host, "cumulo-compute")
    zones = [z["Zone Name"] for z in cloud.openstack("availability", "zone", "list", "--compute")]
    assert "nova" in zones


def test_openstacksdk(cloud, image):
    conn = cloud.connect()
    server = conn.create_server("fc-sdk", image=image, flavor="c1.nano", network=[], wait=True, timeout=180,
                                auto_ip=False)
    assert server.status == "ACTIVE"
    assert "fc-sdk" in [s.name for s in conn.list_servers()]
    assert conn.delete_server("fc-sdk", wait=True, timeout=180)
    assert conn.get_server("fc-sdk") is None


def _wait(cloud, name, status, timeout=30):
    import time

    deadline = time.monotonic() + timeout
    while True:
        s = _server(cloud, name)
        if s["status"] == status:
            return s
        assert s["status"] != "ERROR", s.get("fault")
        assert time.monotonic() < deadline, f"{name} stayed {s['status']}"
        time.sleep(0.3)
