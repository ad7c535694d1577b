"""Compute answers in Nova's shapes, through the unmodified clients (python-openstackclient and
openstacksdk) against ``cumulo up``: what Tempest's response schemas and the CLI's commands expect.

Raw requests at a chosen microversion go through openstacksdk's compute proxy (its session,
token and endpoint); the rest through the ``openstack`` CLI.
"""

from __future__ import annotations

import datetime
import os
import time
import uuid

import pytest

from cumulo.testing.cloud import CommandFailed

# Keys Nova's update and rebuild answers have below 2.75 (Tempest's common server schema)...
COMMON = {"id", "name", "status", "image", "flavor", "user_id", "tenant_id", "created", "updated", "progress",
          "metadata", "links", "addresses", "hostId", "OS-DCF:diskConfig", "accessIPv4", "accessIPv6", "fault"}
# ... and what each microversion up to 2.74 adds to every server view.
ADDED = {"locked", "description", "tags", "trusted_image_certificates", "server_groups", "locked_reason"}


def _suffix() -> str:
    return uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def image(cloud, tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "disk.raw"
    path.write_bytes(os.urandom(4096))
    name = "conf-" + _suffix()
    cloud.openstack("image", "create", "--public", "--disk-format", "raw", "--container-format", "bare",
                    "--file", str(path), name)
    yield name
    cloud.openstack("image", "delete", name, check=False)


@pytest.fixture(scope="module")
def conn(cloud):
    return cloud.connect()


@pytest.fixture(scope="module")
def network(cloud):
    """A network with an IPv4 and an IPv6 subnet."""
    name = "conf-net-" + _suffix()
    cloud.openstack("network", "create", name)
    cloud.openstack("subnet", "create", "--network", name, "--subnet-range", "192.168.79.0/24", name + "-v4")
    cloud.openstack("subnet", "create", "--network", name, "--ip-version", "6", "--subnet-range", "fd00:79::/64",
                    name + "-v6")
    yield name
    cloud.openstack("network", "delete", name, check=False)


def _wait(cloud, name, status, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        s = cloud.openstack("server", "show", name)
        if s["status"] == status:
            return s
        assert s["status"] != "ERROR", s.get("fault")
        assert time.monotonic() < deadline, f"{name} stayed {s['status']}"
        time.sleep(0.3)


def _boot(cloud, image, name, *nic):
    cloud.openstack("server", "create", "--image", image, "--flavor", "c1.nano", *(nic or ("--nic", "none")), name)
    return _wait(cloud, name, "ACTIVE")


def _call(conn, method, path, microversion, **kw):
    resp = getattr(conn.compute, method)(path, microversion=microversion, raise_exc=False, **kw)
    return resp


def test_update_and_rebuild_answer_as_their_microversion(cloud, conn, image):
    name = "conf-upd-" + _suffix()
    sid = _boot(cloud, image, name)["id"]
    try:
        body = {"server": {"accessIPv4": "10.0.0.7", "accessIPv6": "2001:DB8:0:0::7"}}
        for version, allowed in (("2.1", COMMON), ("2.74", COMMON | ADDED)):
            resp = _call(conn, "put", f"/servers/{sid}", version, json=body)
            assert resp.status_code == 200, resp.text
            server = resp.json()["server"]
            assert set(server) <= allowed, set(server) - allowed
            assert server["accessIPv4"] == "10.0.0.7" and server["accessIPv6"] == "2001:db8::7"
        assert "locked_reason" in server and "server_groups" in server
        full = _call(conn, "put", f"/servers/{sid}", "2.75", json={"server": {"name": name}}).json()["server"]
        assert {"key_name", "security_groups", "OS-EXT-STS:vm_state", "OS-SRV-USG:launched_at",
                "OS-EXT-SRV-ATTR:host"} <= set(full)
        shown = cloud.openstack("server", "show", name)
        assert shown["accessIPv6"] == "2001:db8::7"
        bad = _call(conn, "put", f"/servers/{sid}", "2.1", json={"server": {"accessIPv4": "2001:db8::1"}})
        assert bad.status_code == 400 and "accessIPv4" in bad.text

        rebuild = {"rebuild": {"imageRef": cloud.openstack("image", "show", image)["id"]}}
        resp = _call(conn, "post", f"/servers/{sid}/action", "2.57", json=rebuild)
        assert resp.status_code == 202, resp.text
        server = resp.json()["server"]
        assert set(server) <= COMMON | ADDED | {"adminPass", "key_name", "user_data"}, set(server)
        assert "key_name" in server and "user_data" in server
        _wait(cloud, name, "ACTIVE")
        server = _call(conn, "post", f"/servers/{sid}/action", "2.75", json=rebuild).json()["server"]
        assert "security_groups" in server and "user_data" in server
        assert "OS-EXT-SRV-ATTR:user_data" not in server
        _wait(cloud, name, "ACTIVE")
        listed = _call(conn, "get", "/servers/detail", "2.79").json()["servers"]
        assert listed and all("server_groups" not in s for s in listed)  # only show, update and rebuild have it
    finally:
        cloud.openstack("server", "delete", "--wait", name)


def test_addresses_by_network(cloud, conn, image, network):
    name = "conf-ips-" + _suffix()
    sid = _boot(cloud, image, name, "--network", network)["id"]
    try:
        resp = _call(conn, "get", f"/servers/{sid}/ips/{network}", "2.1")
        assert resp.status_code == 200, resp.text
        (label, addrs), = resp.json().items()
        assert label == network and {a["version"] for a in addrs} == {4, 6}
        assert all(set(a) == {"version", "addr"} for a in addrs)
        missing = _call(conn, "get", f"/servers/{sid}/ips/no-such-net", "2.1")
        assert missing.status_code == 404 and "itemNotFound" in missing.json()
    finally:
        cloud.openstack("server", "delete", "--wait", name)


def test_list_filters_ip_and_deleted(cloud, image, network):
    names = ["conf-ip-" + _suffix() for _ in range(2)]
    servers = [_boot(cloud, image, n, "--network", network) for n in names]
    gone = "conf-gone-" + _suffix()
    _boot(cloud, image, gone)
    cloud.openstack("server", "delete", "--wait", gone)
    try:
        v4 = [a for a in cloud.openstack("server", "show", names[0])["addresses"][network] if "." in a][0]
        listed = [s["Name"] for s in cloud.openstack("server", "list", "--ip", v4.replace(".", r"\.") + "$")]
        assert listed == [names[0]]
        both = {s["Name"] for s in cloud.openstack("server", "list", "--ip", r"192\.168\.79\.")}
        assert both == set(names)
        assert {s["Name"] for s in cloud.openstack("server", "list", "--ip6", "fd00:79:")} == set(names)
        assert cloud.openstack("server", "list", "--ip", "10.255.") == []
        deleted = [s["Name"] for s in cloud.openstack("server", "list", "--deleted")]
        assert gone in deleted and not set(names) & set(deleted)  # only the deleted ones
        assert gone not in [s["Name"] for s in cloud.openstack("server", "list")]
    finally:
        cloud.openstack("server", "delete", "--wait", *[s["id"] for s in servers])


def test_add_and_remove_security_groups(cloud, conn, image, network):
    name = "conf-sg-" + _suffix()
    groups = ["conf-sg-" + _suffix() for _ in range(2)]
    for g in groups:
        cloud.openstack("security", "group", "create", g)
    _boot(cloud, image, name, "--network", network)

    def shown():
        return {g["name"] for g in cloud.openstack("server", "show", name)["security_groups"]}

    try:
        assert shown() == {"default"}
        cloud.openstack("server", "add", "security", "group", name, groups[0])
        assert shown() == {"default", groups[0]}
        cloud.openstack("server", "add", "security", "group", name, groups[1])
        assert shown() == {"default", *groups}
        listed = _call(conn, "get", f"/servers/detail?name={name}", "2.1").json()["servers"]
        assert {g["name"] for g in listed[0]["security_groups"]} == {"default", *groups}
        with pytest.raises(CommandFailed):  # a second add of the same group is Nova's 400
            cloud.openstack("server", "add", "security", "group", name, groups[0])
        cloud.openstack("server", "remove", "security", "group", name, groups[0])
        assert shown() == {"default", groups[1]}
        cloud.openstack("server", "remove", "security", "group", name, "default")
        assert shown() == {groups[1]}
    finally:
        cloud.openstack("server", "delete", "--wait", name)
        for g in groups:
            cloud.openstack("security", "group", "delete", g, check=False)


def test_hypervisor_show(cloud, conn):
    listed = cloud.openstack("hypervisor", "list")
    assert listed
    shown = cloud.openstack("hypervisor", "show", listed[0]["Hypervisor Hostname"])
    assert shown["hypervisor_hostname"] == listed[0]["Hypervisor Hostname"] and shown["state"] == "up"
    for version in ("2.1", "2.53"):
        hid = _call(conn, "get", "/os-hypervisors", version).json()["hypervisors"][0]["id"]
        resp = _call(conn, "get", f"/os-hypervisors/{hid}/uptime", version)
        # Nova's answer for a hypervisor that reports no uptime (the fake one)
        assert resp.status_code == 501 and resp.json()["notImplemented"]["code"] == 501, resp.text
    missing = _call(conn, "get", f"/os-hypervisors/{uuid.uuid4()}/uptime", "2.53")
    assert missing.status_code == 404


def test_services_by_nova_binary_names(cloud):
    services = cloud.openstack("compute", "service", "list")
    binaries = {s["Binary"] for s in services}
    assert {"nova-compute", "nova-scheduler"} <= binaries and not any(b.startswith("cumulo-") for b in binaries)
    host = [s["Host"] for s in services if s["Binary"] == "nova-compute"][-1]
    cloud.openstack("compute", "service", "set", "--disable", "--disable-reason", "conformance", host,
                    "nova-compute")
    try:
        listed = cloud.openstack("compute", "service", "list", "--host", host, "--service", "nova-compute", "--long")
        assert [(s["Status"], s["Disabled Reason"]) for s in listed] == [("disabled", "conformance")]
        zones = cloud.openstack("availability", "zone", "list", "--long")
        assert {z["Service Name"] for z in zones if z["Host Name"] == host} == {"nova-compute"}
    finally:
        cloud.openstack("compute", "service", "set", "--enable", host, "nova-compute")
    assert [s["Status"] for s in cloud.openstack("compute", "service", "list", "--host", host,
                                                 "--service", "nova-compute")] == ["enabled"]


SERVER_USAGE = {"ended_at", "flavor", "hours", "instance_id", "local_gb", "memory_mb", "name", "started_at",
                "state", "tenant_id", "uptime", "vcpus"}
TENANT_USAGE = {"start", "stop", "tenant_id", "total_hours", "total_local_gb_usage", "total_memory_mb_usage",
                "total_vcpus_usage"}


def test_usage_list_and_show(cloud, conn, image):
    names = ["conf-use-" + _suffix() for _ in range(2)]
    ids = [_boot(cloud, image, n)["id"] for n in names]
    cloud.openstack("server", "delete", "--wait", names[1])
    try:
        time.sleep(1)  # some usage to count
        project = cloud.openstack("server", "show", names[0])["project_id"]
        listed = cloud.openstack("usage", "list")
        assert listed and all(set(row) >= {"Project", "Servers", "RAM MB-Hours", "CPU Hours", "Disk GB-Hours"}
                              for row in listed), listed
        shown = cloud.openstack("usage", "show")
        assert len(shown["Servers"]) >= 2 and float(shown["CPU Hours"]) > 0, shown

        start = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
        body = _call(conn, "get", f"/os-simple-tenant-usage/{project}?start={start}", "2.1").json()
        usage = body["tenant_usage"]
        assert set(usage) == TENANT_USAGE | {"server_usages"}
        mine = {u["instance_id"]: u for u in usage["server_usages"]}
        assert set(ids) <= set(mine) and all(set(u) == SERVER_USAGE for u in mine.values())
        assert mine[ids[0]]["state"] == "active" and mine[ids[0]]["ended_at"] is None
        assert mine[ids[1]]["state"] == "terminated" and mine[ids[1]]["ended_at"]
        assert mine[ids[0]]["memory_mb"] == 64 and mine[ids[0]]["hours"] > 0
        every = _call(conn, "get", f"/os-simple-tenant-usage?start={start}&detailed=1", "2.1").json()
        assert project in {u["tenant_id"] for u in every["tenant_usages"]}
        terse = _call(conn, "get", f"/os-simple-tenant-usage?start={start}", "2.1").json()["tenant_usages"]
        assert terse and all(set(u) == TENANT_USAGE for u in terse)
        page = _call(conn, "get", f"/os-simple-tenant-usage/{project}?start={start}&limit=1", "2.40").json()
        assert len(page["tenant_usage"]["server_usages"]) == 1 and page["tenant_usage_links"][0]["rel"] == "next"
        bad = _call(conn, "get", "/os-simple-tenant-usage?start=yesterday", "2.1")
        assert bad.status_code == 400 and "badRequest" in bad.json()
        backwards = _call(conn, "get", f"/os-simple-tenant-usage?start={start}&end=2000-01-01T00:00:00", "2.1")
        assert backwards.status_code == 400
    finally:
        cloud.openstack("server", "delete", "--wait", names[0])


# -- issue 12: the gaps Tempest found ---------------------------------------------------------------


def test_flavor_with_a_number_id(cloud, conn):
    fid = 40000 + int(_suffix(), 16) % 9999
    resp = _call(conn, "post", "/flavors", "2.1", json={"flavor": {"name": f"conf-int-{fid}", "ram": 64,
                                                                   "vcpus": 1, "disk": 1, "id": fid}})
    assert resp.status_code == 200, resp.text
    try:
        shown = cloud.openstack("flavor", "show", str(fid))
        assert shown["id"] == str(fid) and shown["name"] == f"conf-int-{fid}"
    finally:
        cloud.openstack("flavor", "delete", str(fid))


def test_image_proxy_through_openstacksdk(cloud, conn, image):
    image_id = cloud.openstack("image", "show", image)["id"]
    shown = conn.compute.get_image(image_id)
    assert shown.name == image and shown.status == "ACTIVE" and shown.progress == 100 and shown.size == 4096
    assert image_id in {i.id for i in conn.compute.images(details=True)}
    assert [i.name for i in conn.compute.images(name=image)] == [image]
    conn.compute.set_image_metadata(image_id, conf_key="v1")
    assert conn.compute.get_image_metadata(image_id).metadata["conf_key"] == "v1"
    conn.compute.delete_image_metadata(image_id, ["conf_key"])
    assert "conf_key" not in conn.compute.get_image_metadata(image_id).metadata
    assert _call(conn, "get", f"/images/{image_id}", "2.36").status_code == 404

    name = "conf-snap-" + _suffix()
    sid = _boot(cloud, image, name)["id"]
    try:
        cloud.openstack("server", "image", "create", "--name", name + "-img", "--wait", name)
        snaps = _call(conn, "get", f"/images/detail?server={sid}", "2.1").json()["images"]
        assert [s["name"] for s in snaps] == [name + "-img"] and snaps[0]["server"]["id"] == sid
        assert _call(conn, "get", "/images?type=snapshot", "2.1").json()["images"]
        assert _call(conn, "delete", f"/images/{snaps[0]['id']}", "2.1").status_code == 204
    finally:
        cloud.openstack("server", "delete", "--wait", name)


def test_os_hosts_with_the_cli(cloud, conn):
    hosts = cloud.openstack("host", "list")  # the CLI asks at 2.1
    compute = [h["Host Name"] for h in hosts if h["Service"] == "compute"]
    assert compute and {h["Zone"] for h in hosts if h["Service"] == "compute"} == {"nova"}
    shown = cloud.openstack("host", "show", compute[0])
    assert {r["Project"] for r in shown} >= {"(total)", "(used_now)"}
    cloud.openstack("host", "set", "--disable", compute[0])
    try:
        listed = cloud.openstack("compute", "service", "list", "--host", compute[0], "--service", "nova-compute")
        assert listed[0]["Status"] == "disabled"
    finally:
        cloud.openstack("host", "set", "--enable", compute[0])
    assert _call(conn, "get", "/os-hosts", "2.43").status_code == 404


def test_security_group_and_floating_ip_proxies(cloud, conn, image, network):
    group = _call(conn, "post", "/os-security-groups", "2.1",
                  json={"security_group": {"name": "conf-psg-" + _suffix(), "description": "proxy"}})
    assert group.status_code == 200, group.text
    gid = group.json()["security_group"]["id"]
    try:
        rule = _call(conn, "post", "/os-security-group-rules", "2.1", json={"security_group_rule": {
            "parent_group_id": gid, "ip_protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "10.0.0.0/8"}})
        assert rule.status_code == 200, rule.text
        # the same group through the Networking API (what the proxy manages is Neutron's)
        shown = cloud.openstack("security", "group", "show", gid)
        assert any(r["port_range_min"] == 22 and r["remote_ip_prefix"] == "10.0.0.0/8" for r in shown["rules"])
        assert _call(conn, "get", "/os-security-groups", "2.36").status_code == 404
    finally:
        assert _call(conn, "delete", f"/os-security-groups/{gid}", "2.1").status_code == 202

    router = "conf-r-" + _suffix()
    cloud.openstack("router", "create", router)
    cloud.openstack("router", "set", "--external-gateway", "public", router)
    cloud.openstack("router", "add", "subnet", router, network + "-v4")
    name = "conf-fip-" + _suffix()
    _boot(cloud, image, name, "--network", network)
    sid = cloud.openstack("server", "show", name)["id"]
    fip = _call(conn, "post", "/os-floating-ips", "2.1", json={"pool": "public"}).json()["floating_ip"]
    try:
        assert fip["pool"] == "public" and fip["instance_id"] is None
        resp = _call(conn, "post", f"/servers/{sid}/action", "2.43", json={"addFloatingIp": {"address": fip["ip"]}})
        assert resp.status_code == 202, resp.text
        assert cloud.openstack("floating", "ip", "show", fip["ip"])["port_id"]
        shown = _call(conn, "get", f"/os-floating-ips/{fip['id']}", "2.1").json()["floating_ip"]
        assert shown["instance_id"] == sid and shown["fixed_ip"].startswith("192.168.79.")
        resp = _call(conn, "post", f"/servers/{sid}/action", "2.43",
                     json={"removeFloatingIp": {"address": fip["ip"]}})
        assert resp.status_code == 202, resp.text
        assert not cloud.openstack("floating", "ip", "show", fip["ip"])["port_id"]
    finally:
        _call(conn, "delete", f"/os-floating-ips/{fip['id']}", "2.1")
        cloud.openstack("server", "delete", "--wait", name)
        cloud.openstack("router", "remove", "subnet", router, network + "-v4", check=False)
        cloud.openstack("router", "delete", router, check=False)


def test_admin_actions_quota_classes_limits_and_keypairs_with_the_cli(cloud, conn, image):
    name = "conf-adm-" + _suffix()
    _boot(cloud, image, name)
    try:
        cloud.openstack("server", "set", "--auto-approve", "--state", "error", name)
        assert cloud.openstack("server", "show", name)["status"] == "ERROR"
        cloud.openstack("server", "set", "--auto-approve", "--state", "active", name)
        assert cloud.openstack("server", "show", name)["status"] == "ACTIVE"
        with pytest.raises(CommandFailed):  # deletes are immediate: nothing to restore (409)
            cloud.openstack("server", "restore", name)
        lines = cloud.openstack("console", "log", "show", "--lines", "3", name, json_out=False)
        assert len(lines.split("\n")) <= 4  # the CLI adds its own newline
        cloud.openstack("server", "rescue", name)
        _wait(cloud, name, "RESCUE")
        with pytest.raises(CommandFailed):
            cloud.openstack("server", "reboot", name)
        cloud.openstack("server", "unrescue", name)
        _wait(cloud, name, "ACTIVE")
        cloud.openstack("server", "stop", name)
        _wait(cloud, name, "SHUTOFF")
        cloud.openstack("server", "rebuild", "--image", image, "--wait", name)
        assert cloud.openstack("server", "show", name)["status"] == "SHUTOFF"
    finally:
        cloud.openstack("server", "delete", "--wait", name)

    def default_instances():
        rows = cloud.openstack("quota", "show", "--default", "--compute")
        values = {r["Resource"]: r["Limit"] for r in rows} if isinstance(rows, list) else rows
        return int(values["instances"])

    instances = default_instances()
    cloud.openstack("quota", "set", "--class", "--instances", str(instances + 7), "default")
    try:
        assert default_instances() == instances + 7  # the default class is every project's default
    finally:
        cloud.openstack("quota", "set", "--class", "--instances", str(instances), "default")
    assert default_instances() == instances

    limits = {r["Name"]: r["Value"] for r in cloud.openstack("limits", "show", "--absolute")}
    assert limits["image_meta"] == limits["server_meta"] == 128  # maxImageMeta below 2.39, as Nova
    assert "Hosts" in {e["Name"] for e in cloud.openstack("extension", "list", "--compute")}
    key = "conf-x509-" + _suffix()
    made = conn.compute.create_keypair(name=key, type="x509")  # generated by the cloud (the CLI makes its own)
    try:
        assert made.type == "x509" and "PRIVATE KEY" in made.private_key
        assert "BEGIN CERTIFICATE" in made.public_key
        assert cloud.openstack("--os-compute-api-version", "2.2", "keypair", "show", key)["type"] == "x509"
    finally:
        cloud.openstack("keypair", "delete", key)


def test_legacy_volume_and_snapshot_proxies(cloud, conn):
    name = "conf-vol-" + _suffix()
    cloud.openstack("volume", "create", "--size", "1", "--property", "Type=work", name)
    vid = cloud.openstack("volume", "show", name)["id"]
    try:
        listed = _call(conn, "get", "/os-volumes/detail", "2.35")
        assert listed.status_code == 200, listed.text
        [mine] = [v for v in listed.json()["volumes"] if v["id"] == vid]
        assert (mine["displayName"], mine["size"], mine["metadata"]) == (name, 1, {"Type": "work"})
        assert mine["attachments"] == [{}] and mine["createdAt"]
        assert _call(conn, "get", "/os-volumes", "2.36").status_code == 404
        snap = _call(conn, "post", "/os-snapshots", "2.35",
                     json={"snapshot": {"volume_id": vid, "display_name": name + "-s"}})
        assert snap.status_code == 200, snap.text
        sid = snap.json()["snapshot"]["id"]
        # the snapshot is the Block Storage API's
        assert cloud.openstack("volume", "snapshot", "show", sid)["name"] == name + "-s"
        assert _call(conn, "delete", f"/os-volumes/{vid}", "2.35").status_code == 400  # it has a snapshot
        assert _call(conn, "delete", f"/os-snapshots/{sid}", "2.35").status_code == 202
        _until(lambda: _call(conn, "get", f"/os-snapshots/{sid}", "2.35").status_code == 404)
    finally:
        cloud.openstack("volume", "delete", name, check=False)
    made = _call(conn, "post", "/os-volumes", "2.35", json={"volume": {"size": 1, "display_name": name + "-2"}})
    assert made.status_code == 200, made.text
    assert cloud.openstack("volume", "show", made.json()["volume"]["id"])["name"] == name + "-2"
    assert _call(conn, "delete", f"/os-volumes/{made.json()['volume']['id']}", "2.35").status_code == 202
    assert _call(conn, "post", "/os-volumes", "2.35", json={"volume": {"size": "0"}}).status_code == 400


def _until(check, timeout=60):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def test_disk_config_password_events_and_flavor_filters(cloud, conn, image):
    name = "conf-dcf-" + _suffix()
    sid = _boot(cloud, image, name)["id"]
    try:
        assert cloud.openstack("server", "show", name)["OS-DCF:diskConfig"] == "MANUAL"
        resp = _call(conn, "put", f"/servers/{sid}", "2.1", json={"server": {"OS-DCF:diskConfig": "AUTO"}})
        assert resp.status_code == 200, resp.text
        assert cloud.openstack("server", "show", name)["OS-DCF:diskConfig"] == "AUTO"
        resp = _call(conn, "post", f"/servers/{sid}/action", "2.1",
                     json={"rebuild": {"imageRef": cloud.openstack("image", "show", image)["id"],
                                       "OS-DCF:diskConfig": "MANUAL"}})
        assert resp.status_code == 202, resp.text
        _wait(cloud, name, "ACTIVE")
        assert cloud.openstack("server", "show", name)["OS-DCF:diskConfig"] == "MANUAL"
        # os-server-password: nothing kept, clearing it is 204
        assert _call(conn, "delete", f"/servers/{sid}/os-server-password", "2.1").status_code == 204
        events = {"events": [{"name": "network-vif-plugged", "server_uuid": sid},
                             {"name": "network-changed", "server_uuid": str(uuid.uuid4())}]}
        resp = _call(conn, "post", "/os-server-external-events", "2.1", json=events)  # the admin's connection
        assert resp.status_code == 207, resp.text
        assert [e["code"] for e in resp.json()["events"]] == [200, 404]
    finally:
        cloud.openstack("server", "delete", "--wait", name)
    flavor = "conf-priv-" + _suffix()
    cloud.openstack("flavor", "create", "--private", "--ram", "64", "--disk", "1", "--vcpus", "1", flavor)
    try:
        for word in ("f", "no", "0"):
            resp = _call(conn, "get", f"/flavors?is_public={word}", "2.1")
            assert flavor in [f["name"] for f in resp.json()["flavors"]], word
        assert flavor in [f["Name"] for f in cloud.openstack("flavor", "list", "--private")]
        assert _call(conn, "get", "/flavors?is_public=perhaps", "2.1").status_code == 400
    finally:
        cloud.openstack("flavor", "delete", flavor)


def test_a_server_in_no_group_and_a_stopped_one_in_novas_view(cloud, conn, image, network):
    name = "conf-nosg-" + _suffix()
    sid = _boot(cloud, image, name, "--network", network)["id"]
    try:
        cloud.openstack("server", "remove", "security", "group", name, "default")
        server = _call(conn, "get", f"/servers/{sid}", "2.1").json()["server"]
        assert "security_groups" not in server and "progress" in server  # ACTIVE: progress shown
        assert not cloud.openstack("server", "show", name).get("security_groups")
        cloud.openstack("server", "stop", name)
        _wait(cloud, name, "SHUTOFF")
        assert "progress" not in _call(conn, "get", f"/servers/{sid}", "2.1").json()["server"]
    finally:
        cloud.openstack("server", "delete", "--wait", name)
