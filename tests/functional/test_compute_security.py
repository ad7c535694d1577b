"""The compute security issue, end to end with the real clients against ``cumulo up``:

* the metadata service believes only signed proxy headers or the caller's own address;
* forcing a host is for administrators, and errors name no other host;
* a security group (or network, or port) the user cannot see is refused before the 202,
  and a failure during network setup reaches the server's fault within seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from cumulo.testing.cloud import CommandFailed, CumuloCloud

SECRET = "functional-metadata-secret"


@pytest.fixture(scope="module")
def seccloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    """A cloud with a metadata proxy secret (the session cloud has none)."""
    c = CumuloCloud(tmp_path_factory.mktemp("seccloud"), config={"metadata": {"proxy_shared_secret": SECRET}})
    c.start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def image(seccloud: CumuloCloud, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("img") / "disk.raw"
    path.write_bytes(os.urandom(4096))
    name = "sec-" + uuid.uuid4().hex[:6]
    seccloud.openstack("image", "create", "--public", "--disk-format", "raw", "--container-format", "bare",
                       "--file", str(path), name)
    return name


def _project(cloud: CumuloCloud, prefix: str) -> str:
    """A project with a member user; its clouds.yaml entry has the project's name."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    cloud.openstack("project", "create", name)
    cloud.openstack("user", "create", "--password", "pw-" + name, "--project", name, name)
    cloud.openstack("role", "add", "--project", name, "--user", name, "member")
    cloud.add_user_cloud(name, name, "pw-" + name, name)
    return name


@pytest.fixture(scope="module")
def member(seccloud: CumuloCloud) -> str:
    return _project(seccloud, "sec-a")


@pytest.fixture(scope="module")
def other(seccloud: CumuloCloud) -> str:
    return _project(seccloud, "sec-b")


def _wait_final(cloud: CumuloCloud, name: str, os_cloud: str = "cumulo", timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        s = cloud.openstack("server", "show", name, os_cloud=os_cloud)
        if s["status"] in ("ACTIVE", "ERROR"):
            return s
        assert time.monotonic() < deadline, f"{name} stayed {s['status']}"
        time.sleep(0.3)


def _get(cloud: CumuloCloud, path: str, headers: dict[str, str] | None = None,
         source: str | None = None) -> tuple[int, str]:
    url = urllib.parse.urlsplit(cloud.url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


def _signed(instance_id: str, secret: str = SECRET) -> dict[str, str]:
    return {"X-Instance-ID": instance_id,
            "X-Instance-ID-Signature": hmac.new(secret.encode(), instance_id.encode(), hashlib.sha256).hexdigest()}


# -- metadata ------------------------------------------------------------------------------

def test_metadata_needs_a_signature_or_the_instances_own_address(seccloud, image, member):
    net = "sec-lo-" + uuid.uuid4().hex[:4]
    # The instance's network is a loopback range, so this test can connect *from* its address.
    seccloud.openstack("network", "create", net, os_cloud=member)
    seccloud.openstack("subnet", "create", "--network", net, "--subnet-range", "127.77.0.0/24", net + "-sub",
                       os_cloud=member)
    seccloud.openstack("server", "create", "--image", image, "--flavor", "c1.nano", "--nic",
                       f"net-id={net},v4-fixed-ip=127.77.0.9", "--property", "role=db", "sec-md", os_cloud=member)
    server = _wait_final(seccloud, "sec-md", os_cloud=member)
    assert server["status"] == "ACTIVE", server.get("fault")
    sid = server["id"]
    path = "/compute/metadata/openstack/latest/meta_data.json"

    # Anyone on the host naming the instance: refused, and told nothing about it.
    for headers in ({"X-Instance-ID": sid}, {"X-Instance-ID": sid, "X-Instance-ID-Signature": "00" * 32},
                    _signed(sid, secret="guessed"), {"X-Instance-ID": sid, "X-Forwarded-For": "127.77.0.9"}):
        status, body = _get(seccloud, path, headers)
        assert status == 403, (headers, body)
        assert "role" not in body and "db" not in body.replace("Forbidden", "")
    # No header, from an address no server owns: 404. A forged X-Forwarded-For changes nothing.
    assert _get(seccloud, path)[0] == 404
    assert _get(seccloud, path, {"X-Forwarded-For": "127.77.0.9"})[0] == 404
    # A metadata proxy's signed request: that instance's metadata.
    status, body = _get(seccloud, path, _signed(sid))
    assert status == 200 and json.loads(body)["uuid"] == sid and json.loads(body)["meta"] == {"role": "db"}
    status, _ = _get(seccloud, path, {**_signed(sid), "X-Tenant-ID": "some-other-project"})
    assert status == 404
    # The instance itself, by its source address on its network.
    status, body = _get(seccloud, path, source="127.77.0.9")
    assert status == 200 and json.loads(body)["uuid"] == sid
    status, body = _get(seccloud, "/compute/metadata/latest/meta-data/local-ipv4", source="127.77.0.9")
    assert status == 200 and body == "127.77.0.9"
    seccloud.openstack("server", "delete", "--wait", "sec-md", os_cloud=member)
    assert _get(seccloud, path, source="127.77.0.9")[0] == 404
    seccloud.openstack("network", "delete", net, os_cloud=member)


def test_metadata_without_a_secret_refuses_every_proxy_header(cloud):
    """The session cloud has no ``[metadata] proxy_shared_secret``: no signature can be right."""
    conn = cloud.connect()
    server = conn.compute.create_server(name="sec-nosecret", image_id=_any_image(cloud), networks="none",
                                        flavor_id=conn.compute.find_flavor("c1.nano", ignore_missing=False).id)
    try:
        for secret in ("", "guess", SECRET):
            headers = _signed(server.id, secret) if secret else {"X-Instance-ID": server.id}
            assert _get(cloud, "/compute/metadata/openstack/latest/meta_data.json", headers)[0] == 403
    finally:
        conn.compute.delete_server(server, ignore_missing=True)


def _any_image(cloud: CumuloCloud) -> str:
    conn = cloud.connect()
    for img in conn.image.images():
        return img.id
    path = os.path.join(cloud.workdir, "sec-any.raw")
    with open(path, "wb") as f:
        f.write(b"\0" * 4096)
    return conn.image.create_image(name="sec-any", filename=path, disk_format="raw", container_format="bare",
                                   visibility="public").id


# -- forced hosts ----------------------------------------------------------------------------

def test_forcing_a_host_is_for_administrators(seccloud, image, member):
    for zone in ("nova:fake-1", "nova:no-such-host"):
        with pytest.raises(CommandFailed) as err:
            seccloud.openstack("server", "create", "--image", image, "--flavor", "c1.nano", "--nic", "none",
                               "--availability-zone", zone, "sec-forced", os_cloud=member)
        message = err.value.stderr
        assert "os_compute_api:servers:create:forced_host" in message and "403" in message
        assert "fake-2" not in message and "fake-3" not in message
    assert "sec-forced" not in [s["Name"] for s in seccloud.openstack("server", "list", os_cloud=member)]
    # An administrator may; an unknown host is a 400 that lists no other host.
    s = seccloud.openstack("server", "create", "--image", image, "--flavor", "c1.nano", "--nic", "none",
                           "--availability-zone", "nova:fake-2", "--wait", "sec-forced-admin")
    assert s["status"] == "ACTIVE" and s["OS-EXT-SRV-ATTR:host"] == "fake-2"
    seccloud.openstack("server", "delete", "sec-forced-admin")
    with pytest.raises(CommandFailed) as err:
        seccloud.openstack("server", "create", "--image", image, "--flavor", "c1.nano", "--nic", "none",
                           "--availability-zone", "nova:fake-99", "sec-forced-admin2")
    assert "Compute host fake-99 could not be found" in err.value.stderr and "400" in err.value.stderr
    assert not any(f"fake-{i}" in err.value.stderr for i in range(1, 5))


# -- security groups, networks, ports: validated before the 202 ------------------------------

def test_security_group_of_another_project_is_refused_up_front(seccloud, image, member, other):
    group = seccloud.openstack("security", "group", "create", "sec-theirs", os_cloud=other)
    # The openstack client looks the group up first: the user cannot see it.
    with pytest.raises(CommandFailed) as err:
        seccloud.openstack("server", "create", "--image", image, "--flavor", "c1.nano", "--security-group",
                           group["id"], "sec-sg-cli", os_cloud=member)
    assert group["id"] in err.value.stderr
    # An API client that does not look first (openstacksdk): the compute API checks, 400 before the 202.
    from openstack import exceptions as sdk_exc

    conn = seccloud.connect(cloud=member)
    flavor = conn.compute.find_flavor("c1.nano", ignore_missing=False).id
    image_id = conn.image.find_image(image, ignore_missing=False).id
    started = time.monotonic()
    for ref in (group["id"], "sec-theirs", "no-such-group"):
        with pytest.raises(sdk_exc.BadRequestException) as bad:
            conn.compute.create_server(name="sec-sg-sdk", image_id=image_id, flavor_id=flavor, networks="auto",
                                       security_groups=[{"name": ref}])
        assert ref in str(bad.value)
    assert time.monotonic() - started < 30
    names = [s["Name"] for s in seccloud.openstack("server", "list", os_cloud=member)]
    assert "sec-sg-cli" not in names and "sec-sg-sdk" not in names
    # The other project's network is refused the same way.
    theirs = seccloud.openstack("network", "create", "sec-their-net", os_cloud=other)
    seccloud.openstack("subnet", "create", "--network", theirs["id"], "--subnet-range", "10.66.0.0/24",
                       "sec-their-sub", os_cloud=other)
    with pytest.raises(sdk_exc.BadRequestException) as bad:
        conn.compute.create_server(name="sec-net-sdk", image_id=image_id, flavor_id=flavor,
                                   networks=[{"uuid": theirs["id"]}])
    assert theirs["id"] in str(bad.value)
    assert conn.compute.find_server("sec-net-sdk") is None


def test_failure_during_network_setup_is_the_servers_fault(seccloud, image, member):
    net = "sec-full-" + uuid.uuid4().hex[:4]
    seccloud.openstack("network", "create", net, os_cloud=member)
    seccloud.openstack("subnet", "create", "--network", net, "--subnet-range", "10.67.0.0/24",
                       "--allocation-pool", "start=10.67.0.10,end=10.67.0.10", net + "-sub", os_cloud=member)
    seccloud.openstack("port", "create", "--network", net, net + "-taker", os_cloud=member)  # the only address
    seccloud.openstack("server", "create", "--image", image, "--flavor", "c1.nano", "--network", net, "sec-full",
                       os_cloud=member)
    started = time.monotonic()  # the 202 is back: ERROR within seconds (each CLI call takes a few itself)
    s = _wait_final(seccloud, "sec-full", os_cloud=member, timeout=15)
    assert time.monotonic() - started < 15
    assert s["status"] == "ERROR"
    fault = str(s["fault"])
    assert "No more IP addresses available on network" in fault and "network setup" in fault
    assert "no reply" not in fault.lower() and "Timed out" not in fault
    seccloud.openstack("server", "delete", "--wait", "sec-full", os_cloud=member)
    seccloud.openstack("port", "delete", net + "-taker", os_cloud=member)
    seccloud.openstack("network", "delete", net, os_cloud=member)
