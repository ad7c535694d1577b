"""The Compute API's network proxies (below 2.36) on the real network service (noop driver), in Nova's shape."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from cumulo.context import RequestContext
from cumulo.testing.fixtures import FakeHub, running_compute, use_fake_hypervisor

ADMIN = "admin:padmin:admin,member,reader"
OTHER = "u2:p2"
V = "2.35"


@pytest.fixture
def cumulo_compute_hub(cumulo_db: Any) -> Iterator[FakeHub]:
    """The conftest's hub with the real network service."""
    use_fake_hypervisor(cumulo_db)
    cumulo_db.set("driver", "noop", group="network")
    with running_compute(FakeHub(without=("image", "volume"))) as hub:
        yield hub


def test_security_groups(cloud):
    resp = cloud.post("/v2.1/os-security-groups", {"security_group": {"name": "web", "description": "d"}}, version=V)
    assert resp.status_int == 200, resp.text
    group = resp.json["security_group"]
    assert set(group) == {"id", "name", "description", "tenant_id", "rules"}
    assert group["tenant_id"] == "p1" and group["rules"] == []  # egress rules are not shown
    listed = cloud.get("/v2.1/os-security-groups", version=V).json["security_groups"]
    assert {g["name"] for g in listed} == {"default", "web"}
    assert cloud.get("/v2.1/os-security-groups", version=V, token=OTHER).json["security_groups"][0]["name"] == \
        "default"
    gid = group["id"]
    assert cloud.get(f"/v2.1/os-security-groups/{gid}", version=V).json["security_group"]["name"] == "web"
    assert cloud.get(f"/v2.1/os-security-groups/{gid}", version=V, token=OTHER).status_int == 404
    assert cloud.get(f"/v2.1/os-security-groups/{uuid.uuid4()}", version=V).status_int == 404
    assert cloud.get(f"/v2.1/os-security-groups/{gid}", version="2.36").status_int == 404
    for bad in ({"name": "", "description": "d"}, {"name": " ", "description": "d"}, {"name": "x" * 256,
                "description": "d"}, {"name": "n", "description": ""}, {"description": "d"}):
        assert cloud.post("/v2.1/os-security-groups", {"security_group": bad}, version=V).status_int == 400, bad
    upd = cloud.put(f"/v2.1/os-security-groups/{gid}", {"security_group": {"name": "web2", "description": "e"}},
                    version=V)
    assert upd.status_int == 200 and upd.json["security_group"]["name"] == "web2"
    assert cloud.put("/v2.1/os-security-groups/not-a-uuid", {"security_group": {"name": "a", "description": "b"}},
                     version=V).status_int == 400
    assert cloud.put(f"/v2.1/os-security-groups/{uuid.uuid4()}",
                     {"security_group": {"name": "a", "description": "b"}}, version=V).status_int == 404

    rules = "/v2.1/os-security-group-rules"
    body = {"parent_group_id": gid, "ip_protocol": "tcp", "from_port": 22, "to_port": 22}
    resp = cloud.post(rules, {"security_group_rule": body}, version=V)
    assert resp.status_int == 200, resp.text
    rule = resp.json["security_group_rule"]
    assert rule["ip_range"] == {"cidr": "0.0.0.0/0"} and (rule["from_port"], rule["to_port"]) == (22, 22)
    assert cloud.post(rules, {"security_group_rule": body}, version=V).status_int == 400  # a duplicate
    peer = cloud.post(rules, {"security_group_rule": {"parent_group_id": gid, "ip_protocol": "icmp",
                                                      "from_port": -1, "to_port": -1, "group_id": gid}}, version=V)
    assert peer.status_int == 200 and peer.json["security_group_rule"]["group"] == {"name": "web2",
                                                                                     "tenant_id": "p1"}
    shown = cloud.get(f"/v2.1/os-security-groups/{gid}", version=V).json["security_group"]["rules"]
    assert {r["id"] for r in shown} == {rule["id"], peer.json["security_group_rule"]["id"]}
    for bad, status in (({"ip_protocol": "999"}, 400), ({"from_port": 65536}, 400), ({"to_port": 65536}, 400),
                        ({"from_port": 30, "to_port": 20}, 400), ({"parent_group_id": "non_int_id"}, 400),
                        ({"parent_group_id": str(uuid.uuid4())}, 404), ({"cidr": "10.0.0.300/8"}, 400)):
        resp = cloud.post(rules, {"security_group_rule": {**body, "from_port": 80, "to_port": 80, **bad}},
                          version=V)
        assert resp.status_int == status, (bad, resp.text)
    assert cloud.delete(f"{rules}/{rule['id']}", version=V).status_int == 202
    assert cloud.delete(f"{rules}/{rule['id']}", version=V).status_int == 404

    default = [g for g in listed if g["name"] == "default"][0]
    assert cloud.delete(f"/v2.1/os-security-groups/{default['id']}", version=V).status_int == 400
    assert cloud.delete(f"/v2.1/os-security-groups/{gid}", version=V).status_int == 202
    assert cloud.delete(f"/v2.1/os-security-groups/{gid}", version=V).status_int == 404


USER_CTX = RequestContext(user_id="u1", project_id="p1", roles=["member", "reader"])


def _routed_network(hub: FakeHub) -> str:
    """A project network with a router to the default external network ("public")."""
    network = hub.network
    network.ensure_defaults()
    public = [n for n in network.network_summaries(USER_CTX) if n.external][0]
    n = network.create_network(USER_CTX, {"name": "private"})
    sub = network.create_subnet(USER_CTX, {"network_id": n["id"], "cidr": "10.7.0.0/24"})
    router = network.create_router(USER_CTX, {"name": "r", "external_gateway_info": {"network_id": public.id}})
    network.add_router_interface(USER_CTX, router["id"], {"subnet_id": sub["id"]})
    return str(n["id"])


def _boot(cloud: Any, network_id: str, name: str) -> str:
    resp = cloud.post("/v2.1/servers", {"server": {"name": name, "imageRef": "img-1", "flavorRef": "42",
                                                   "networks": [{"uuid": network_id}]}})
    assert resp.status_int == 202, resp.text
    sid: str = resp.json["server"]["id"]
    cloud.wait_status(sid, "ACTIVE")
    return sid


def test_floating_ips_and_server_actions(cloud, cumulo_compute_hub):
    net_id = _routed_network(cumulo_compute_hub)
    assert cloud.get("/v2.1/os-floating-ip-pools", version=V).json == {"floating_ip_pools": [{"name": "public"}]}
    resp = cloud.post("/v2.1/os-floating-ips", {"pool": "public"}, version=V)
    assert resp.status_int == 200, resp.text
    fip = resp.json["floating_ip"]
    assert set(fip) == {"id", "ip", "pool", "fixed_ip", "instance_id"}
    assert (fip["pool"], fip["fixed_ip"], fip["instance_id"]) == ("public", None, None)
    second = cloud.post("/v2.1/os-floating-ips", None, version=V).json["floating_ip"]  # the default pool
    assert second["pool"] == "public"
    assert cloud.post("/v2.1/os-floating-ips", {"pool": "non_exist_pool"}, version=V).status_int == 404
    assert {f["id"] for f in cloud.get("/v2.1/os-floating-ips", version=V).json["floating_ips"]} == \
        {fip["id"], second["id"]}
    assert cloud.get("/v2.1/os-floating-ips", version=V, token=OTHER).json["floating_ips"] == []
    assert cloud.get(f"/v2.1/os-floating-ips/{fip['id']}", version=V, token=OTHER).status_int == 404
    assert cloud.get("/v2.1/os-floating-ips", version="2.36").status_int == 404

    sid, other_sid = _boot(cloud, net_id, "a"), _boot(cloud, net_id, "b")
    action = f"/v2.1/servers/{sid}/action"
    assert cloud.post(action, {"addFloatingIp": {"address": fip["ip"]}}, version="2.43").status_int == 202
    shown = cloud.get(f"/v2.1/os-floating-ips/{fip['id']}", version=V).json["floating_ip"]
    assert shown["instance_id"] == sid and shown["fixed_ip"].startswith("10.7.0.")
    # a second floating IP on the same fixed address: Nova's 400
    assert cloud.post(action, {"addFloatingIp": {"address": second["ip"]}}, version="2.43").status_int == 400
    # an associated floating IP moves to another server
    other_action = f"/v2.1/servers/{other_sid}/action"
    assert cloud.post(other_action, {"addFloatingIp": {"address": fip["ip"]}}, version="2.43").status_int == 202
    assert cloud.get(f"/v2.1/os-floating-ips/{fip['id']}", version=V).json["floating_ip"]["instance_id"] == \
        other_sid
    assert cloud.post(action, {"removeFloatingIp": {"address": fip["ip"]}}, version="2.43").status_int == 409
    assert cloud.post(other_action, {"removeFloatingIp": {"address": fip["ip"]}}, version="2.43").status_int == 202
    assert cloud.get(f"/v2.1/os-floating-ips/{fip['id']}", version=V).json["floating_ip"]["instance_id"] is None
    for body, status in (({"addFloatingIp": {"address": "0.0.0.0"}}, 404),
                         ({"removeFloatingIp": {"address": "0.0.0.0"}}, 404),
                         ({"addFloatingIp": {"address": ""}}, 400),
                         ({"addFloatingIp": {"address": fip["ip"], "fixed_address": "10.99.0.1"}}, 400)):
        assert cloud.post(action, body, version="2.43").status_int == status, body
    assert cloud.post(action, {"addFloatingIp": {"address": fip["ip"]}}, version="2.44").status_int == 404
    assert cloud.post(f"/v2.1/servers/{uuid.uuid4()}/action", {"addFloatingIp": {"address": fip["ip"]}},
                      version="2.43").status_int == 404

    assert cloud.delete(f"/v2.1/os-floating-ips/{fip['id']}", version=V).status_int == 202
    assert cloud.delete(f"/v2.1/os-floating-ips/{fip['id']}", version=V).status_int == 404
    assert cloud.delete(f"/v2.1/os-floating-ips/{uuid.uuid4()}", version=V).status_int == 404


def test_networks_and_tenant_networks(cloud, cumulo_compute_hub):
    net_id = _routed_network(cumulo_compute_hub)
    listed = cloud.get("/v2.1/os-networks", version=V).json["networks"]
    mine = [n for n in listed if n["id"] == net_id]
    assert len(mine) == 1 and mine[0]["label"] == "private" and mine[0]["cidr"] is None
    assert "project_id" not in mine[0] and "public" in {n["label"] for n in listed}
    assert "project_id" in cloud.get("/v2.1/os-networks", version=V, token=ADMIN).json["networks"][0]
    assert cloud.get(f"/v2.1/os-networks/{net_id}", version=V).json["network"]["label"] == "private"
    assert cloud.get(f"/v2.1/os-networks/{uuid.uuid4()}", version=V).status_int == 404
    assert cloud.get("/v2.1/os-networks", version="2.36").status_int == 404
    tenant = cloud.get("/v2.1/os-tenant-networks", version=V).json["networks"]
    assert all(set(n) == {"id", "cidr", "label"} for n in tenant) and net_id in {n["id"] for n in tenant}
    assert cloud.get(f"/v2.1/os-tenant-networks/{net_id}", version=V).json["network"] == \
        {"id": net_id, "cidr": None, "label": "private"}
    assert cloud.get(f"/v2.1/os-tenant-networks/{net_id}", version=V, token=OTHER).status_int == 404


def test_a_floating_ip_names_its_server_when_projects_networks_overlap(cloud, cumulo_compute_hub):
    net_id = _routed_network(cumulo_compute_hub)
    # another project's network with the same range, and a server on the same address
    other_ctx = RequestContext(user_id="u2", project_id="p2", roles=["member", "reader"])
    network = cumulo_compute_hub.network
    other_net = network.create_network(other_ctx, {"name": "private"})
    network.create_subnet(other_ctx, {"network_id": other_net["id"], "cidr": "10.7.0.0/24"})
    sid = _boot(cloud, net_id, "mine")
    mine = cloud.get(f"/v2.1/servers/{sid}").json["server"]["addresses"]["private"][0]["addr"]
    resp = cloud.post("/v2.1/servers", {"server": {"name": "theirs", "imageRef": "img-1", "flavorRef": "42",
                                                   "networks": [{"uuid": other_net["id"], "fixed_ip": mine}]}},
                      token=OTHER)
    assert resp.status_int == 202, resp.text
    cloud.wait_status(resp.json["server"]["id"], "ACTIVE", token=OTHER)
    theirs = cloud.get(f"/v2.1/servers/{resp.json['server']['id']}", token=OTHER).json["server"]
    assert theirs["addresses"]["private"][0]["addr"] == mine  # the same address in both projects
    fip = cloud.post("/v2.1/os-floating-ips", {"pool": "public"}, version=V).json["floating_ip"]
    assert cloud.post(f"/v2.1/servers/{sid}/action", {"addFloatingIp": {"address": fip["ip"]}},
                      version="2.43").status_int == 202
    assert cloud.get(f"/v2.1/os-floating-ips/{fip['id']}", version=V).json["floating_ip"]["instance_id"] == sid
