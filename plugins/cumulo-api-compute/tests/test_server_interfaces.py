"""``/servers/{id}/os-interface`` and the legacy ``addFixedIp`` / ``removeFixedIp`` actions, in Nova's shape.

The compute service, the network service (noop driver) and the fake hypervisor are the real
ones, in process; requests go through the whole WSGI app (noauth tokens).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cumulo.context import RequestContext
from cumulo.testing.fixtures import FakeHub, running_compute, use_fake_hypervisor

USER_CTX = RequestContext(user_id="u1", project_id="p1", roles=["member", "reader"])


@pytest.fixture
def cumulo_compute_hub(cumulo_db: Any) -> Iterator[FakeHub]:
    """The conftest's hub, with the real network service (the ``cloud`` fixture uses it)."""
    use_fake_hypervisor(cumulo_db)
    cumulo_db.set("driver", "noop", group="network")
    cumulo_db.set("create_default_public_network", False, group="network")
    with running_compute(FakeHub(without=("image", "volume"))) as hub:
        yield hub


@pytest.fixture
def nets(cumulo_compute_hub: FakeHub) -> dict[str, str]:
    network = cumulo_compute_hub.network
    out = {}
    for name, cidr in (("first", "10.1.0.0/24"), ("second", "10.2.0.0/24")):
        n = network.create_network(USER_CTX, {"name": name})
        network.create_subnet(USER_CTX, {"network_id": n["id"], "cidr": cidr})
        out[name] = n["id"]
    return out


def _boot(cloud: Any, network_id: str) -> str:
    resp = cloud.post("/v2.1/servers", {"server": {"name": "vm", "imageRef": "img-1", "flavorRef": "42",
                                                   "networks": [{"uuid": network_id}]}})
    assert resp.status_int == 202, resp.text
    server_id: str = resp.json["server"]["id"]
    cloud.wait_status(server_id, "ACTIVE")
    return server_id


def _fault(resp: Any, status: int) -> str:
    assert resp.status_int == status, resp.text
    [(_kind, fault)] = resp.json.items()
    assert fault["code"] == status and fault["message"]
    return str(fault["message"])


def test_attach_show_list_detach(cloud, nets):
    sid = _boot(cloud, nets["first"])
    path = f"/v2.1/servers/{sid}/os-interface"
    [boot_port] = cloud.get(path).json["interfaceAttachments"]
    assert boot_port["net_id"] == nets["first"] and "tag" in boot_port  # 2.79 shows tags (None here)

    resp = cloud.post(path, {"interfaceAttachment": {"net_id": nets["second"],
                                                     "fixed_ips": [{"ip_address": "10.2.0.40"}], "tag": "db"}})
    assert resp.status_int == 200, resp.text
    att = resp.json["interfaceAttachment"]
    assert set(att) == {"port_id", "net_id", "mac_addr", "port_state", "fixed_ips", "tag"}
    assert (att["net_id"], att["tag"], att["fixed_ips"][0]["ip_address"]) == (nets["second"], "db", "10.2.0.40")
    assert cloud.get(f"{path}/{att['port_id']}").json["interfaceAttachment"] == att
    assert [a["port_id"] for a in cloud.get(path).json["interfaceAttachments"]] == [boot_port["port_id"],
                                                                                     att["port_id"]]
    addresses = cloud.get(f"/v2.1/servers/{sid}").json["server"]["addresses"]
    assert [a["addr"] for a in addresses["second"]] == ["10.2.0.40"]
    # Before 2.70 the tag is not shown; before 2.49 it cannot be given.
    assert "tag" not in cloud.get(f"{path}/{att['port_id']}", version="2.69").json["interfaceAttachment"]
    _fault(cloud.post(path, {"interfaceAttachment": {"net_id": nets["second"], "tag": "x"}}, version="2.48"), 400)

    resp = cloud.delete(f"{path}/{att['port_id']}")
    assert resp.status_int == 202, resp.text
    assert [a["port_id"] for a in cloud.get(path).json["interfaceAttachments"]] == [boot_port["port_id"]]
    assert "second" not in cloud.get(f"/v2.1/servers/{sid}").json["server"]["addresses"]
    assert "not attached" in _fault(cloud.delete(f"{path}/{att['port_id']}"), 404)
    _fault(cloud.get(f"{path}/{att['port_id']}"), 404)


def test_refusals_are_4xx_faults_naming_the_problem(cloud, nets, cumulo_compute_hub):
    a, b = _boot(cloud, nets["first"]), _boot(cloud, nets["first"])
    path = f"/v2.1/servers/{a}/os-interface"
    assert "both" in _fault(cloud.post(path, {"interfaceAttachment": {"net_id": nets["second"],
                                                                      "port_id": "p"}}), 400)
    assert "network_id" in _fault(cloud.post(path, {"interfaceAttachment": {
        "fixed_ips": [{"ip_address": "10.2.0.9"}]}}), 400)
    _fault(cloud.post(path, {"interfaceAttachment": {"port_id": 7}}), 400)
    _fault(cloud.post(path, {"interfaceAttachment": {"network": nets["second"]}}), 400)
    assert "Multiple possible networks" in _fault(cloud.post(path, {}), 400)
    unknown = "3f2d1c9e-0000-4000-8000-000000000000"
    assert unknown in _fault(cloud.post(path, {"interfaceAttachment": {"port_id": unknown}}), 404)
    assert unknown in _fault(cloud.post(path, {"interfaceAttachment": {"net_id": unknown}}), 404)
    port = cumulo_compute_hub.network.create_port(USER_CTX, {"network_id": nets["second"]})
    assert cloud.post(path, {"interfaceAttachment": {"port_id": port["id"]}}).status_int == 200
    in_use = _fault(cloud.post(f"/v2.1/servers/{b}/os-interface", {"interfaceAttachment": {"port_id": port["id"]}}),
                    409)
    assert port["id"] in in_use and a in in_use
    _fault(cloud.delete(f"/v2.1/servers/{b}/os-interface/{port['id']}"), 404)  # not b's port
    _fault(cloud.post("/v2.1/servers/no-such-server/os-interface", {"interfaceAttachment": {}}), 404)
    # another project sees no such server
    _fault(cloud.post(path, {"interfaceAttachment": {"net_id": nets["second"]}}, token="u2:p2"), 404)


def test_a_server_in_error_or_build_gets_409(cloud, nets, cumulo_db):
    cumulo_db.set("fail_operations", ["spawn"], group="hypervisor_fake")
    resp = cloud.post("/v2.1/servers", {"server": {"name": "bad", "imageRef": "img-1", "flavorRef": "42",
                                                   "networks": [{"uuid": nets["first"]}]}})
    broken = resp.json["server"]["id"]
    cloud.wait_status(broken, "ERROR")
    assert "vm_state error" in _fault(cloud.post(f"/v2.1/servers/{broken}/os-interface",
                                                 {"interfaceAttachment": {"net_id": nets["second"]}}), 409)
    cumulo_db.set("fail_operations", [], group="hypervisor_fake")
    cumulo_db.set("spawn_latency", 2.0, group="hypervisor_fake")
    resp = cloud.post("/v2.1/servers", {"server": {"name": "slow", "imageRef": "img-1", "flavorRef": "42",
                                                   "networks": [{"uuid": nets["first"]}]}})
    building = resp.json["server"]["id"]
    assert "vm_state building" in _fault(cloud.post(f"/v2.1/servers/{building}/os-interface",
                                                    {"interfaceAttachment": {"net_id": nets["second"]}}), 409)
    cloud.wait_status(building, "ACTIVE")
    assert len(cloud.get(f"/v2.1/servers/{building}/os-interface").json["interfaceAttachments"]) == 1


def test_policies_are_novas_names(cloud, nets, cumulo_db):
    sid = _boot(cloud, nets["first"])
    path = f"/v2.1/servers/{sid}/os-interface"
    reader = "u1:p1:reader"
    assert cloud.get(path, token=reader).status_int == 200
    message = _fault(cloud.post(path, {"interfaceAttachment": {"net_id": nets["second"]}}, token=reader), 403)
    assert "os_compute_api:os-attach-interfaces:create" in message


def test_legacy_fixed_ip_actions_until_2_43(cloud, nets):
    sid = _boot(cloud, nets["first"])
    action = f"/v2.1/servers/{sid}/action"
    assert "2.44" in _fault(cloud.post(action, {"addFixedIp": {"networkId": nets["second"]}}), 404)
    assert "2.44" in _fault(cloud.post(action, {"removeFixedIp": {"address": "10.2.0.2"}}), 404)
    resp = cloud.post(action, {"addFixedIp": {"networkId": nets["second"]}}, version="2.43")
    assert resp.status_int == 202, resp.text
    addresses = cloud.get(f"/v2.1/servers/{sid}").json["server"]["addresses"]
    [added] = [a["addr"] for a in addresses["second"]]
    _fault(cloud.post(action, {"removeFixedIp": {}}, version="2.43"), 400)
    assert "10.9.9.9" in _fault(cloud.post(action, {"removeFixedIp": {"address": "10.9.9.9"}}, version="2.43"), 400)
    resp = cloud.post(action, {"removeFixedIp": {"address": added}}, version="2.1")
    assert resp.status_int == 202, resp.text
    assert list(cloud.get(f"/v2.1/servers/{sid}").json["server"]["addresses"]) == ["first"]
