"""Policy defaults that match OpenStack's, proven with the unmodified ``openstack`` client.

A project member may not: choose a floating IP address, turn SNAT off or pick
the gateway's fixed IPs on its router (Neutron: admin-only attributes), list or
show the cloud's services and endpoints (Keystone: system reader). Each refusal
leaves nothing behind; the same request as the administrator succeeds.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from cumulo.testing.cloud import CommandFailed, CumuloCloud


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def member(cloud: CumuloCloud) -> dict[str, Any]:
    conn = cloud.connect()
    project = conn.identity.create_project(name=_name("polproj"), domain_id="default")
    password = uuid.uuid4().hex
    user = conn.identity.create_user(name=_name("poluser"), password=password, domain_id="default")
    conn.identity.assign_project_role_to_user(project, user, conn.identity.find_role("member"))
    cloud.add_user_cloud(user.name, user.name, password, project.name)
    return {"cloud": user.name, "project_id": project.id}


def _refused(cloud: CumuloCloud, member: dict[str, Any], *args: str) -> str:
    with pytest.raises(CommandFailed) as err:
        cloud.openstack(*args, os_cloud=member["cloud"])
    text = str(err.value)
    assert "403" in text or "Forbidden" in text or "disallowed by policy" in text, text
    return text


def test_member_cannot_choose_a_floating_ip_address(cloud: CumuloCloud, member: dict[str, Any]) -> None:
    text = _refused(cloud, member, "floating", "ip", "create", "--floating-ip-address", "172.24.4.211", "public")
    assert "create_floatingip:floating_ip_address" in text
    assert cloud.openstack("floating", "ip", "list", os_cloud=member["cloud"]) == []
    # without the address the member gets one from the pool
    fip = cloud.openstack("floating", "ip", "create", "public", os_cloud=member["cloud"])
    assert fip["floating_ip_address"].startswith("172.24.4.")
    cloud.openstack("floating", "ip", "delete", fip["id"], os_cloud=member["cloud"], json_out=False)
    # the administrator may choose it
    fip = cloud.openstack("floating", "ip", "create", "--floating-ip-address", "172.24.4.211", "public")
    assert fip["floating_ip_address"] == "172.24.4.211"
    cloud.openstack("floating", "ip", "delete", fip["id"], json_out=False)


def test_member_cannot_disable_snat_or_pick_gateway_ips(cloud: CumuloCloud, member: dict[str, Any]) -> None:
    router = cloud.openstack("router", "create", _name("polrouter"), os_cloud=member["cloud"])
    text = _refused(cloud, member, "router", "set", "--external-gateway", "public", "--disable-snat", router["id"])
    assert "enable_snat" in text
    text = _refused(cloud, member, "router", "set", "--external-gateway", "public",
                    "--fixed-ip", "ip-address=172.24.4.212", router["id"])
    assert "external_fixed_ips" in text
    shown = cloud.openstack("router", "show", router["id"], os_cloud=member["cloud"])
    assert not shown["external_gateway_info"]
    # a plain gateway (SNAT on, address from the pool) is the member's to set
    cloud.openstack("router", "set", "--external-gateway", "public", router["id"], os_cloud=member["cloud"],
                    json_out=False)
    shown = cloud.openstack("router", "show", router["id"], os_cloud=member["cloud"])
    assert shown["external_gateway_info"]["enable_snat"] is True
    cloud.openstack("router", "delete", router["id"], os_cloud=member["cloud"], json_out=False)


def test_member_cannot_list_services_or_endpoints(cloud: CumuloCloud, member: dict[str, Any]) -> None:
    _refused(cloud, member, "service", "list")
    _refused(cloud, member, "endpoint", "list")
    identity = next(s for s in cloud.openstack("service", "list") if s["Type"] == "identity")
    _refused(cloud, member, "service", "show", identity["ID"])
    # the catalog a member needs to find the APIs comes with its token
    assert {e["Type"] for e in cloud.openstack("catalog", "list", os_cloud=member["cloud"])} >= {"identity"}
