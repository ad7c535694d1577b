"""Attaching and detaching a running server's interfaces with the unmodified ``openstack`` CLI
(and openstacksdk for what the CLI checks before it asks compute) against ``cumulo up``.

A cloud of its own: the fake hypervisor's spawns take a few seconds (a server stays in BUILD
long enough to be refused) and always fail on ``fake-4`` (a server forced there lands in
ERROR); the other servers are forced onto ``fake-1`` and ``fake-2``.
"""

from __future__ import annotations

import ipaddress
import time
import uuid
from collections.abc import Iterator
from typing import Any

import openstack.exceptions
import pytest

from cumulo import registry
from cumulo.testing.cloud import CommandFailed, CumuloCloud

SPAWN_SECONDS = 4


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def ifcloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    if not {"compute", "image", "network"} <= set(registry.names("api")):
        pytest.skip("needs the compute, image and network API frontends")
    c = CumuloCloud(tmp_path_factory.mktemp("ifcloud"), config={"hypervisor_fake": {
        "operation_latency": f"spawn:{SPAWN_SECONDS}", "fail_operations": "spawn@fake-4"}})
    c.start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def osc(ifcloud: CumuloCloud) -> Any:
    return ifcloud.openstack


@pytest.fixture(scope="module")
def conn(ifcloud: CumuloCloud) -> Any:
    return ifcloud.connect()


@pytest.fixture(scope="module")
def image(osc: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("img") / "disk.raw"
    path.write_bytes(uuid.uuid4().bytes * 256)
    name = _name("img")
    osc("image", "create", "--public", "--disk-format", "raw", "--container-format", "bare", "--file", str(path),
        name)
    return name


@pytest.fixture(scope="module")
def nets(osc: Any) -> dict[str, dict[str, str]]:
    out = {}
    for key, cidr in (("first", "10.71.0.0/24"), ("second", "10.72.0.0/24")):
        name = _name(f"if{key}")
        net = osc("network", "create", name)
        osc("subnet", "create", "--network", name, "--subnet-range", cidr, name + "-sub")
        out[key] = {"id": net["id"], "name": name, "cidr": cidr}
    return out


def _wait(osc: Any, server_id: str, status: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        server: dict[str, Any] = osc("server", "show", server_id)
        if server["status"] == status:
            return server
        assert server["status"] in ("BUILD", status), server
        assert time.monotonic() < deadline, f"{server_id} still {server['status']}"
        time.sleep(0.5)


def _boot(osc: Any, image: str, net: str, host: str = "fake-1", wait: str | None = "ACTIVE") -> dict[str, Any]:
    server: dict[str, Any] = osc("server", "create", "--image", image, "--flavor", "c1.nano", "--network", net,
                                 "--availability-zone", f"nova:{host}", _name("ifvm"))
    return _wait(osc, server["id"], wait) if wait else server


def _addresses(server: dict[str, Any], network: str) -> list[str]:
    return [a["addr"] if isinstance(a, dict) else a for a in (server["addresses"] or {}).get(network, [])]


def _port_ids(osc: Any, server_id: str) -> list[str]:
    return sorted(p["ID"] for p in osc("port", "list", "--server", server_id))


def test_add_and_remove_port_and_fixed_ip_with_osc(osc, conn, image, nets):
    first, second = nets["first"], nets["second"]
    server = _boot(osc, image, first["name"])
    sid = server["id"]
    [boot_port] = _port_ids(osc, sid)

    # server add port: the user's port, which keeps existing after server remove port
    mine = osc("port", "create", "--network", second["name"], _name("ifport"))
    osc("server", "add", "port", sid, mine["id"])
    assert _port_ids(osc, sid) == sorted([boot_port, mine["id"]])
    shown = osc("server", "show", sid)
    assert _addresses(shown, second["name"]) == [mine["fixed_ips"][0]["ip_address"]]
    interfaces = list(conn.compute.server_interfaces(sid))
    assert sorted(i.port_id for i in interfaces) == sorted([boot_port, mine["id"]])

    # server add fixed ip: a new port on the network, on the address asked for
    wanted = str(ipaddress.ip_network(second["cidr"])[50])
    added = osc("server", "add", "fixed", "ip", "--fixed-ip-address", wanted, sid, second["name"], json_out=True)
    assert added["Network ID"] == second["id"] and wanted in str(added["Fixed IPs"])
    assert len(_port_ids(osc, sid)) == 3
    assert wanted in _addresses(osc("server", "show", sid), second["name"])

    # server remove fixed ip: Nova's removeFixedIp action, gone from microversion 2.44 on
    with pytest.raises(CommandFailed) as err:
        osc("server", "remove", "fixed", "ip", sid, wanted)
    assert "2.44" in err.value.stderr
    osc("--os-compute-api-version", "2.43", "server", "remove", "fixed", "ip", sid, wanted)
    assert _port_ids(osc, sid) == sorted([boot_port, mine["id"]])  # the port made for the address is deleted
    assert wanted not in _addresses(osc("server", "show", sid), second["name"])

    # server remove port: the user's port is unbound, not deleted
    osc("server", "remove", "port", sid, mine["id"])
    assert _port_ids(osc, sid) == [boot_port]
    kept = osc("port", "show", mine["id"])
    assert kept["device_id"] in ("", None) and kept["binding_host_id"] in ("", None)
    assert _addresses(osc("server", "show", sid), second["name"]) == []
    osc("server", "delete", "--wait", sid)
    osc("port", "delete", mine["id"])


def test_bad_ports_and_ports_in_use_are_refused_with_a_message(osc, conn, image, nets):
    a = _boot(osc, image, nets["first"]["name"], host="fake-1")
    b = _boot(osc, image, nets["first"]["name"], host="fake-2")
    port = osc("port", "create", "--network", nets["second"]["name"], _name("ifport"))
    osc("server", "add", "port", a["id"], port["id"])

    with pytest.raises(CommandFailed) as err:  # in use by another server: Nova's 409
        osc("server", "add", "port", b["id"], port["id"])
    assert "409" in err.value.stderr or "attached device" in err.value.stderr
    assert port["id"] in err.value.stderr
    assert len(_port_ids(osc, b["id"])) == 1  # b got nothing

    with pytest.raises(CommandFailed) as err:  # no such port: the CLI looks it up first
        osc("server", "add", "port", b["id"], _name("noport"))
    assert "No Port found" in err.value.stderr or "not found" in err.value.stderr.lower()
    unknown = str(uuid.uuid4())
    with pytest.raises(openstack.exceptions.NotFoundException) as sdk_err:  # compute's own 404
        conn.compute.create_server_interface(b["id"], port_id=unknown)
    assert unknown in str(sdk_err.value)
    with pytest.raises(openstack.exceptions.BadRequestException) as sdk_bad:
        conn.compute.create_server_interface(b["id"], port_id=port["id"], net_id=nets["second"]["id"])
    assert "both" in str(sdk_bad.value)
    with pytest.raises(CommandFailed) as err:  # not b's port
        osc("server", "remove", "port", b["id"], port["id"])
    assert "not attached" in err.value.stderr

    osc("server", "remove", "port", a["id"], port["id"])
    for server in (a, b):
        osc("server", "delete", server["id"])
    osc("port", "delete", port["id"])


def test_servers_in_error_or_build_get_409(osc, conn, image, nets):
    broken = _boot(osc, image, nets["first"]["name"], host="fake-4", wait="ERROR")
    port = osc("port", "create", "--network", nets["second"]["name"], _name("ifport"))
    with pytest.raises(CommandFailed) as err:
        osc("server", "add", "port", broken["id"], port["id"])
    assert "409" in err.value.stderr and "vm_state error" in err.value.stderr
    assert osc("port", "show", port["id"])["device_id"] in ("", None)  # nothing was bound

    building = conn.compute.create_server(name=_name("ifbuild"), image_id=conn.image.find_image(image).id,
                                          flavor_id=conn.compute.find_flavor("c1.nano").id,
                                          networks=[{"uuid": nets["first"]["id"]}],
                                          availability_zone="nova:fake-2")
    with pytest.raises(openstack.exceptions.ConflictException) as sdk_err:
        conn.compute.create_server_interface(building.id, port_id=port["id"])
    assert "vm_state building" in str(sdk_err.value)
    _wait(osc, building.id, "ACTIVE")
    for server_id in (broken["id"], building.id):
        osc("server", "delete", server_id)
    osc("port", "delete", port["id"])
