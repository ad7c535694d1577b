"""The Networking v2.0 API in-process (noauth tokens 'user:project:roles')."""

from __future__ import annotations

import json

import pytest
import webob
from cumulo_api_network.frontend import NetworkFrontend

from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo.services import ServiceHub

ADMIN = "admin:admin-project:admin,member,reader"
DEMO = "demo:demo-project:member,reader"
ALT = "alt:alt-project:member,reader"


@pytest.fixture
def app(cumulo_db):
    cumulo_db.set("auth_strategy", "noauth", group="api")
    cumulo_db.set("driver", "noop", group="network")
    hub = ServiceHub()
    hub.network.ensure_defaults()
    return NetworkFrontend(PluginContext(CONF)).build_app(hub)


@pytest.fixture
def call(app):
    def do(method, path, body=None, token=DEMO, status=None):
        req = webob.Request.blank(path, method=method, base_url="http://localhost/network")
        req.environ["SCRIPT_NAME"] = "/network"
        if token:
            req.headers["X-Auth-Token"] = token
        if body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = "application/json"
        # As from a real server: the body stream is not seekable (the kernel's size limiter wraps it).
        req.environ.pop("webob.is_body_seekable", None)
        resp = req.get_response(app)
        if status is not None:
            assert resp.status_int == status, resp.text
        return resp.status_int, (resp.json if resp.body else None)
    return do


def test_version_discovery_without_token(call):
    status, body = call("GET", "/", token=None, status=200)
    assert body["versions"][0]["id"] == "v2.0"
    assert body["versions"][0]["links"][0]["href"] == "http://localhost/network/v2.0/"


def test_auth_required(call):
    status, body = call("GET", "/v2.0/networks", token=None)
    assert status == 401 and body["NeutronError"]["type"] == "HTTPUnauthorized"


def test_extensions(call):
    _, body = call("GET", "/v2.0/extensions", status=200)
    aliases = {e["alias"] for e in body["extensions"]}
    assert {"external-net", "router", "security-group", "quotas", "binding", "port-security",
            "allowed-address-pairs", "standard-attr-tag", "auto-allocated-topology", "subnet_allocation"} <= aliases
    call("GET", "/v2.0/extensions/router", status=200)
    _, body = call("GET", "/v2.0/extensions/qos", status=404)
    assert "qos" in body["NeutronError"]["message"]


def test_fault_shape(call):
    _, body = call("GET", "/v2.0/networks/4a3b0000-0000-4000-8000-000000000000", status=404)
    assert body == {"NeutronError": {"type": "NetworkNotFound", "detail": "",
                                     "message": "Network 4a3b0000-0000-4000-8000-000000000000 could not be found."}}
    _, body = call("POST", "/v2.0/networks", {"network": {"bogus": 1}}, status=400)
    assert "bogus" in body["NeutronError"]["message"]
    _, body = call("POST", "/v2.0/networks", {"nope": {}}, status=400)
    assert "network" in body["NeutronError"]["message"]
    req_status, body = call("POST", "/v2.0/networks", {"network": {"router:external": True}})
    assert req_status == 403 and body["NeutronError"]["type"] == "PolicyNotAuthorized"
    _, body = call("PATCH", "/v2.0/networks", status=405)
    assert body["NeutronError"]["type"] == "HTTPMethodNotAllowed"


def test_network_crud_and_private_topology(call):
    _, body = call("POST", "/v2.0/networks", {"network": {"name": "net1"}}, status=201)
    net = body["network"]
    assert net["status"] == "ACTIVE" and net["project_id"] == "demo-project" and net["router:external"] is False
    _, body = call("POST", "/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.0.0.0/24",
                                                        "ip_version": 4, "dns_nameservers": ["192.0.2.1"]}},
                   status=201)
    sub = body["subnet"]
    _, body = call("POST", "/v2.0/ports", {"port": {"network_id": net["id"], "name": "p1"}}, status=201)
    port = body["port"]
    assert port["fixed_ips"][0]["subnet_id"] == sub["id"]
    _, body = call("GET", "/v2.0/networks?router:external=True", status=200)
    public = body["networks"][0]
    _, body = call("POST", "/v2.0/routers", {"router": {"name": "r1", "external_gateway_info": {
        "network_id": public["id"]}}}, status=201)
    router = body["router"]
    _, body = call("PUT", f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]},
                   status=200)
    assert body["subnet_id"] == sub["id"]
    _, body = call("POST", "/v2.0/floatingips", {"floatingip": {"floating_network_id": public["id"],
                                                                "port_id": port["id"]}}, status=201)
    fip = body["floatingip"]
    assert fip["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"]
    # deletes in the wrong order: 409 with a message naming the reason
    _, body = call("DELETE", f"/v2.0/networks/{net['id']}", status=409)
    assert body["NeutronError"]["type"] == "NetworkInUse"
    _, body = call("DELETE", f"/v2.0/subnets/{sub['id']}", status=409)
    assert body["NeutronError"]["type"] == "SubnetInUse"
    _, body = call("DELETE", f"/v2.0/routers/{router['id']}", status=409)
    assert body["NeutronError"]["type"] == "RouterInUse"
    call("PUT", f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": None}}, status=200)
    call("DELETE", f"/v2.0/floatingips/{fip['id']}", status=204)
    call("DELETE", f"/v2.0/ports/{port['id']}", status=204)
    call("PUT", f"/v2.0/routers/{router['id']}/remove_router_interface", {"subnet_id": sub["id"]}, status=200)
    call("DELETE", f"/v2.0/routers/{router['id']}", status=204)
    call("DELETE", f"/v2.0/networks/{net['id']}", status=204)
    call("GET", f"/v2.0/subnets/{sub['id']}", status=404)


def test_filters_fields_sorting_paging(call):
    ids = []
    for name in ("c", "a", "b"):
        _, body = call("POST", "/v2.0/networks", {"network": {"name": name}}, status=201)
        ids.append(body["network"]["id"])
    _, body = call("GET", "/v2.0/networks?name=a&fields=id&fields=name", status=200)
    assert body["networks"] == [{"id": ids[1], "name": "a"}]
    _, body = call("GET", "/v2.0/networks?name=a&name=b&sort_key=name&sort_dir=desc", status=200)
    assert [n["name"] for n in body["networks"]] == ["b", "a"]
    _, body = call("GET", "/v2.0/networks?router:external=false&sort_key=name&limit=2", status=200)
    assert [n["name"] for n in body["networks"]] == ["a", "b"]
    nxt = body["networks_links"][0]
    assert nxt["rel"] == "next"
    path = nxt["href"].split("/network", 1)[1]
    _, body = call("GET", path, status=200)
    assert [n["name"] for n in body["networks"]] == ["c"] and "networks_links" in body
    call("GET", "/v2.0/networks?sort_key=nonsense", status=400)
    call("GET", "/v2.0/networks?limit=x", status=400)


def test_bulk_create(call):
    _, body = call("POST", "/v2.0/networks", {"networks": [{"name": "x"}, {"name": "y"}]}, status=201)
    assert [n["name"] for n in body["networks"]] == ["x", "y"]
    status, _ = call("POST", "/v2.0/networks", {"networks": [{"name": "z"}, {"bogus": 1}]})
    assert status == 400
    _, body = call("GET", "/v2.0/networks?name=z", status=200)
    assert body["networks"] == []  # the first was rolled back


def test_port_filters_for_clients(call):
    _, body = call("POST", "/v2.0/networks", {"network": {"name": "n"}}, status=201)
    net = body["network"]
    _, body = call("POST", "/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.0.0.0/24",
                                                        "ip_version": 4}}, status=201)
    sub = body["subnet"]
    _, body = call("POST", "/v2.0/ports", {"port": {"network_id": net["id"], "device_id": "server-1",
                                                    "fixed_ips": [{"ip_address": "10.0.0.9"}]}}, status=201)
    call("POST", "/v2.0/ports", {"port": {"network_id": net["id"]}}, status=201)
    _, body = call("GET", "/v2.0/ports?device_id=server-1", status=200)
    assert len(body["ports"]) == 1
    _, body = call("GET", f"/v2.0/ports?fixed_ips=ip_address%3D10.0.0.9&fixed_ips=subnet_id%3D{sub['id']}",
                   status=200)
    assert [p["device_id"] for p in body["ports"]] == ["server-1"]
    _, body = call("GET", f"/v2.0/ports?network_id={net['id']}", status=200)
    assert len(body["ports"]) == 2


def test_tags_api(call):
    _, body = call("POST", "/v2.0/networks", {"network": {"name": "n"}}, status=201)
    nid = body["network"]["id"]
    _, body = call("PUT", f"/v2.0/networks/{nid}/tags", {"tags": ["red", "blue"]}, status=200)
    assert body["tags"] == ["blue", "red"]
    call("PUT", f"/v2.0/networks/{nid}/tags/green", status=201)
    call("GET", f"/v2.0/networks/{nid}/tags/green", status=204)
    call("DELETE", f"/v2.0/networks/{nid}/tags/green", status=204)
    call("GET", f"/v2.0/networks/{nid}/tags/green", status=404)
    _, body = call("GET", "/v2.0/networks?tags=red,blue", status=200)
    assert [n["id"] for n in body["networks"]] == [nid]
    _, body = call("GET", "/v2.0/networks?not-tags-any=red", status=200)
    assert nid not in [n["id"] for n in body["networks"]]
    call("DELETE", f"/v2.0/networks/{nid}/tags", status=204)
    _, body = call("GET", f"/v2.0/networks/{nid}/tags", status=200)
    assert body["tags"] == []


def test_security_groups_api(call):
    _, body = call("GET", "/v2.0/security-groups", status=200)
    assert [g["name"] for g in body["security_groups"]] == ["default"]
    _, body = call("POST", "/v2.0/security-groups", {"security_group": {"name": "sg"}}, status=201)
    sg = body["security_group"]
    _, body = call("POST", "/v2.0/security-group-rules", {"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp", "port_range_min": 22,
        "port_range_max": 22, "ethertype": "IPv4", "remote_ip_prefix": "0.0.0.0/0"}}, status=201)
    rule = body["security_group_rule"]
    _, body = call("POST", "/v2.0/security-group-rules", {"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp", "port_range_min": 22,
        "port_range_max": 22, "ethertype": "IPv4", "remote_ip_prefix": "0.0.0.0/0"}}, status=409)
    assert body["NeutronError"]["type"] == "SecurityGroupRuleExists"
    _, body = call("GET", f"/v2.0/security-group-rules?security_group_id={sg['id']}&direction=ingress",
                   status=200)
    assert [r["id"] for r in body["security_group_rules"]] == [rule["id"]]
    call("GET", f"/v2.0/security-groups/{sg['id']}", token=ALT, status=404)
    call("DELETE", f"/v2.0/security-group-rules/{rule['id']}", status=204)
    call("DELETE", f"/v2.0/security-groups/{sg['id']}", status=204)


def test_quotas_api(call):
    _, body = call("GET", "/v2.0/quotas/demo-project", status=200)
    assert body["quota"]["port"] == 500
    call("PUT", "/v2.0/quotas/demo-project", {"quota": {"network": 1}}, status=403)
    _, body = call("PUT", "/v2.0/quotas/demo-project", {"quota": {"network": 1}}, token=ADMIN, status=200)
    assert body["quota"]["network"] == 1
    call("POST", "/v2.0/networks", {"network": {"name": "1"}}, status=201)
    _, body = call("POST", "/v2.0/networks", {"network": {"name": "2"}}, status=409)
    assert body["NeutronError"]["type"] == "OverQuota"
    _, body = call("GET", "/v2.0/quotas/demo-project/details.json", status=200)
    assert body["quota"]["network"] == {"limit": 1, "used": 1, "reserved": 0}
    _, body = call("GET", "/v2.0/quotas/demo-project/default", status=200)
    assert body["quota"]["network"] == 100
    call("DELETE", "/v2.0/quotas/demo-project", token=ADMIN, status=204)


def test_auto_allocated_topology_api(call):
    _, body = call("GET", "/v2.0/auto-allocated-topology/demo-project?fields=dry-run", status=200)
    assert body["auto_allocated_topology"]["dry-run"] == "pass"
    _, body = call("GET", "/v2.0/auto-allocated-topology/demo-project", status=200)
    net_id = body["auto_allocated_topology"]["id"]
    _, body = call("GET", f"/v2.0/networks/{net_id}", status=200)
    assert body["network"]["name"] == "auto_allocated_network"
    call("GET", "/v2.0/auto-allocated-topology/alt-project", status=403)
    call("DELETE", "/v2.0/auto-allocated-topology/demo-project", status=204)
    call("GET", f"/v2.0/networks/{net_id}", status=404)


def test_ip_availability_api(call):
    _, body = call("GET", "/v2.0/network-ip-availabilities", token=ADMIN, status=200)
    assert body["network_ip_availabilities"][0]["network_name"] == "public"
    call("GET", "/v2.0/network-ip-availabilities", status=403)


def test_frontend_metadata():
    fe = NetworkFrontend(PluginContext(CONF))
    assert (fe.service_type, fe.service_name, fe.path_prefix) == ("network", "neutron", "/network")
    assert fe.endpoint_url("http://h:1") == "http://h:1/network"


def test_non_ascii_tags_and_bad_urls(call):
    _, net = call("POST", "/v2.0/networks", {"network": {"name": "tagged"}}, status=201)
    nid = net["network"]["id"]
    call("PUT", f"/v2.0/networks/{nid}/tags/caf%C3%A9", status=201)
    _, shown = call("GET", f"/v2.0/networks/{nid}", status=200)
    assert shown["network"]["tags"] == ["café"]
    status, body = call("PUT", f"/v2.0/networks/{nid}/tags/caf%E9")  # latin-1, not UTF-8
    assert status == 400 and "UTF-8" in body["NeutronError"]["message"]
    status, body = call("GET", "/v2.0/networks?name=%ff")
    assert status == 400 and "query string" in body["NeutronError"]["message"]
    status, body = call("GET", "/v2.0/no-such-collection")
    assert status == 404 and body["NeutronError"]["type"] == "HTTPNotFound"
    status, body = call("POST", "/v2.0/networks", {"network": {"name": "x", "mtu": 2**64}})
    assert status == 400 and "64-bit" in body["NeutronError"]["message"]


def test_subnet_external_network_extension(call):
    _, body = call("GET", "/v2.0/extensions/subnet-external-network", status=200)
    assert body["extension"]["name"] == "Subnet belongs to an external network"
    _, body = call("GET", "/v2.0/networks?router:external=true", status=200)
    public = body["networks"][0]
    _, net = call("POST", "/v2.0/networks", {"network": {"name": "own"}}, status=201)
    _, sub = call("POST", "/v2.0/subnets", {"subnet": {"network_id": net["network"]["id"], "ip_version": 4,
                                                       "cidr": "10.77.0.0/24"}}, status=201)
    assert sub["subnet"]["router:external"] is False
    # A tenant sees the external network's subnets, marked, and can filter on the mark.
    _, body = call("GET", "/v2.0/subnets", status=200)
    marks = {s["network_id"]: s["router:external"] for s in body["subnets"]}
    assert marks[public["id"]] is True and marks[net["network"]["id"]] is False
    _, body = call("GET", "/v2.0/subnets?router:external=true", status=200)
    assert {s["network_id"] for s in body["subnets"]} == {public["id"]}
    assert public["subnets"] and body["subnets"][0]["id"] in public["subnets"]
    _, body = call("GET", "/v2.0/subnets?router:external=False&fields=id&fields=router:external", status=200)
    assert body["subnets"] == [{"id": sub["subnet"]["id"], "router:external": False}]
    _, shown = call("GET", f"/v2.0/subnets/{public['subnets'][0]}", status=200)
    assert shown["subnet"]["router:external"] is True
    _, upd = call("PUT", f"/v2.0/subnets/{sub['subnet']['id']}", {"subnet": {"name": "renamed"}}, status=200)
    assert upd["subnet"]["router:external"] is False
    # Read-only, as in Neutron.
    status, _ = call("PUT", f"/v2.0/subnets/{sub['subnet']['id']}", {"subnet": {"router:external": True}})
    assert status == 400
    status, _ = call("POST", "/v2.0/subnets", {"subnet": {"network_id": net["network"]["id"], "ip_version": 4,
                                                          "cidr": "10.78.0.0/24", "router:external": True}})
    assert status == 400


def _sg_rule(call, group_id, protocol, pmin, pmax, ethertype="IPv4"):
    return call("POST", "/v2.0/security-group-rules", {"security_group_rule": {
        "security_group_id": group_id, "protocol": protocol, "port_range_min": pmin, "port_range_max": pmax,
        "direction": "ingress", "ethertype": ethertype}})


@pytest.mark.parametrize("ethertype", ["IPv4", "IPv6"])
def test_security_group_rule_port_faults_in_neutrons_words(call, ethertype):
    _, body = call("POST", "/v2.0/security-groups", {"security_group": {"name": "sg"}}, status=201)
    gid = body["security_group"]["id"]
    for protocol, pmin, pmax, words in (
            ("tcp", -16, 80, "Invalid value for port -16"),
            ("tcp", 80, 79, "port_range_min must be <= port_range_max"),
            ("tcp", 80, 65536, "Invalid value for port 65536"),
            ("tcp", None, 6, "port_range_min must be <= port_range_max"),
            ("tcp", -16, 65536, "Invalid value for port"),
            ("icmp", 1, 256, "Invalid value for ICMP code"),
            ("icmp", -1, 25, "Invalid value"),
            ("icmp", None, 6, "ICMP type (port-range-min) is missing"),
            ("icmp", 300, 1, "Invalid value for ICMP type")):
        status, fault = _sg_rule(call, gid, protocol, pmin, pmax, ethertype)
        assert status == 400 and words in fault["NeutronError"]["message"], (protocol, pmin, pmax, fault)
    status, made = _sg_rule(call, gid, "tcp", 22, 22, ethertype)
    assert status == 201 and made["security_group_rule"]["port_range_min"] == 22
    status, made = _sg_rule(call, gid, "icmp", 8, None, ethertype)
    assert status == 201 and made["security_group_rule"]["port_range_max"] is None


def test_deleting_an_external_network_takes_its_unused_floating_ips(call):
    _, body = call("POST", "/v2.0/networks", {"network": {"name": "ext", "router:external": True}},
                   token=ADMIN, status=201)
    net = body["network"]
    call("POST", "/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "198.51.100.0/24",
                                              "ip_version": 4}}, token=ADMIN, status=201)
    _, body = call("POST", "/v2.0/floatingips", {"floatingip": {"floating_network_id": net["id"]}},
                   token=ADMIN, status=201)
    fip = body["floatingip"]
    call("DELETE", f"/v2.0/networks/{net['id']}", token=ADMIN, status=204)
    call("GET", f"/v2.0/floatingips/{fip['id']}", token=ADMIN, status=404)
    _, body = call("GET", f"/v2.0/ports?network_id={net['id']}", token=ADMIN, status=200)
    assert body["ports"] == []


def test_an_internal_network_with_a_port_stays_in_use(call):
    _, body = call("POST", "/v2.0/networks", {"network": {"name": "n"}}, status=201)
    net = body["network"]
    call("POST", "/v2.0/ports", {"port": {"network_id": net["id"]}}, status=201)
    status, fault = call("DELETE", f"/v2.0/networks/{net['id']}")
    assert status == 409 and fault["NeutronError"]["type"] == "NetworkInUse"


def test_agents_of_a_noop_driver_and_for_non_admins(call):
    # The noop driver realises nothing: it plays no agent's part. A non-admin lists none, as Neutron.
    assert call("GET", "/v2.0/agents", token=ADMIN, status=200)[1] == {"agents": []}
    assert call("GET", "/v2.0/agents", status=200)[1] == {"agents": []}
    call("GET", "/v2.0/agents/nothing", token=ADMIN, status=404)
