"""``GET /servers/{id}/os-security-groups`` with a network service: the groups' rules reach the client.

The network area is a double standing for ``hub.network`` (the kernel's network contract);
the compute service and the API are the real ones, so the rules go the whole way: the
network's records, ``hub.compute.security_groups`` (Neutron's keys, rules under
``security_group_rules``), then the frontend's rendering in Nova's rule shape.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from cumulo.context import RequestContext
from cumulo.contracts.network import InstancePort, SecurityGroup, SecurityGroupRule
from cumulo.testing.fixtures import FakeHub, running_compute, use_fake_hypervisor

GROUP = SecurityGroup(id="sg-web", name="web", project_id="p1", description="web servers", rules=(
    SecurityGroupRule(id="r-ssh", security_group_id="sg-web", direction="ingress", ethertype="IPv4",
                      protocol="tcp", port_range_min=22, port_range_max=22, remote_ip_prefix="10.0.0.0/8"),
    SecurityGroupRule(id="r-udp", security_group_id="sg-web", direction="ingress", ethertype="IPv4",
                      protocol="udp"),
    SecurityGroupRule(id="r-peer", security_group_id="sg-web", direction="ingress", ethertype="IPv4",
                      remote_group_id="sg-web", project_id="p1"),
    SecurityGroupRule(id="r-out", security_group_id="sg-web", direction="egress", ethertype="IPv4"),
))


class GroupsOnlyNetwork:
    """The network calls a server with ``networks: "none"`` makes, and its one security group."""

    def validate_security_groups(self, ctx: RequestContext, security_groups: Sequence[str] | None) -> list[str]:
        return [GROUP.id]

    def allocate_instance_ports(self, ctx: RequestContext, instance_uuid: str, host: str, *args: Any,
                                **kwargs: Any) -> list[InstancePort]:
        return []

    def instance_ports(self, ctx: RequestContext, instance_uuid: str) -> list[InstancePort]:
        return []

    def deallocate_for_instance(self, ctx: RequestContext, instance_uuid: str) -> None:
        return None

    def instance_security_groups(self, ctx: RequestContext, instance_uuid: str) -> list[SecurityGroup]:
        return [GROUP]


@pytest.fixture
def cumulo_compute_hub(cumulo_db: Any) -> Iterator[FakeHub]:
    """The conftest's hub, with the network double as ``hub.network`` (the ``cloud`` fixture uses it)."""
    use_fake_hypervisor(cumulo_db)
    with running_compute(FakeHub(without=("image", "volume"), services={"network": GroupsOnlyNetwork()})) as hub:
        yield hub


def test_a_servers_security_groups_show_their_ingress_rules_in_novas_shape(cloud: Any) -> None:
    body = {"server": {"name": "vm", "imageRef": "img-1", "flavorRef": "42", "networks": "none",
                       "security_groups": [{"name": "web"}]}}
    resp = cloud.post("/v2.1/servers", body)
    assert resp.status_int == 202, resp.text
    server_id = resp.json["server"]["id"]

    resp = cloud.get(f"/v2.1/servers/{server_id}/os-security-groups")
    assert resp.status_int == 200, resp.text
    [group] = resp.json["security_groups"]
    assert {k: group[k] for k in ("id", "name", "description", "tenant_id")} == {
        "id": "sg-web", "name": "web", "description": "web servers", "tenant_id": "p1"}
    rules = {r["id"]: r for r in group["rules"]}
    assert sorted(rules) == ["r-peer", "r-ssh", "r-udp"]  # Nova shows the ingress rules only
    assert rules["r-ssh"] == {"id": "r-ssh", "parent_group_id": "sg-web", "ip_protocol": "tcp", "from_port": 22,
                              "to_port": 22, "group": {}, "ip_range": {"cidr": "10.0.0.0/8"}}
    assert (rules["r-udp"]["from_port"], rules["r-udp"]["to_port"]) == (1, 65535)  # the whole protocol
    assert rules["r-udp"]["ip_range"] == {"cidr": "0.0.0.0/0"}
    assert rules["r-peer"]["group"] == {"name": "web", "tenant_id": "p1"} and rules["r-peer"]["ip_range"] == {}
    assert rules["r-peer"]["ip_protocol"] is None and rules["r-peer"]["from_port"] is None
