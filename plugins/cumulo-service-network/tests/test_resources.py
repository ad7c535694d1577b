"""Networks, routers, floating IPs, security groups, quotas and tags through the service."""

from __future__ import annotations

import pytest

import cumulo.contracts.network as nexc
from cumulo import exception
from cumulo.contracts.network import RequestedNetwork


@pytest.fixture
def public(service, admin):
    service.ensure_defaults()
    return next(n for n in service.list_networks(admin) if n["is_default"])


@pytest.fixture
def private(service, demo, public):
    net = service.create_network(demo, {"name": "private"})
    sub = service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.0.0.0/24"})
    router = service.create_router(demo, {"name": "r", "external_gateway_info": {"network_id": public["id"]}})
    service.add_router_interface(demo, router["id"], {"subnet_id": sub["id"]})
    port = service.create_port(demo, {"network_id": net["id"]})
    return {"net": net, "sub": sub, "router": router, "port": port}


def test_default_public_network(service, admin, demo, public):
    assert public["router:external"] and public["provider:network_type"] == "flat"
    assert public["provider:physical_network"] == "public"
    sub = service.get_subnet(demo, public["subnets"][0])
    assert sub["cidr"] == "172.24.4.0/24"
    assert service.ensure_defaults() is None  # idempotent
    assert [n["id"] for n in service.list_networks(demo)] == [public["id"]]  # external nets are visible


def test_provider_networks_admin_only(service, admin, demo):
    with pytest.raises(nexc.PolicyNotAuthorized):
        service.create_network(demo, {"provider:network_type": "vlan", "provider:physical_network": "p",
                                      "provider:segmentation_id": 5})
    vlan = service.create_network(admin, {"provider:network_type": "vlan", "provider:physical_network": "p",
                                          "provider:segmentation_id": 5, "shared": True})
    assert vlan["provider:segmentation_id"] == 5
    with pytest.raises(nexc.VlanIdInUse):
        service.create_network(admin, {"provider:network_type": "vlan", "provider:physical_network": "p",
                                       "provider:segmentation_id": 5})
    with pytest.raises(nexc.InvalidInput):
        service.create_network(admin, {"provider:network_type": "vlan", "provider:physical_network": "p",
                                       "provider:segmentation_id": 5000})
    service.create_network(admin, {"provider:network_type": "flat", "provider:physical_network": "f"})
    with pytest.raises(nexc.FlatNetworkInUse):
        service.create_network(admin, {"provider:network_type": "flat", "provider:physical_network": "f"})


def test_project_isolation(service, demo, other):
    net = service.create_network(demo, {"name": "mine"})
    with pytest.raises(nexc.NetworkNotFound):
        service.get_network(other, net["id"])
    assert net["id"] not in [n["id"] for n in service.list_networks(other)]
    with pytest.raises(nexc.NetworkNotFound):
        service.create_port(other, {"network_id": net["id"]})


def test_flat_model_shared_provider_network(service, admin, demo):
    flat = service.create_network(admin, {"name": "flat", "shared": True, "provider:network_type": "flat",
                                          "provider:physical_network": "physnet1"})
    service.create_subnet(admin, {"network_id": flat["id"], "cidr": "203.0.113.0/24"})
    ports = service.allocate_instance_ports(demo, "vm-flat", "h1", [RequestedNetwork(network_id=flat["id"])], None)
    assert ports[0].fixed_ips[0].ip_address.startswith("203.0.113.")
    assert ports[0].network_name == "flat"


def test_delete_in_wrong_order_is_409(service, demo, admin, private, public):
    with pytest.raises(nexc.NetworkInUse):
        service.delete_network(demo, private["net"]["id"])
    with pytest.raises(nexc.SubnetInUse):
        service.delete_subnet(demo, private["sub"]["id"])
    with pytest.raises(nexc.RouterInUse):
        service.delete_router(demo, private["router"]["id"])
    with pytest.raises(nexc.NetworkInUse):
        service.delete_network(admin, public["id"])
    router_port = service.list_ports(demo, device_id=private["router"]["id"])[0]
    with pytest.raises(nexc.L3PortInUse):
        service.delete_port(demo, router_port["id"])
    # The right order works.
    service.delete_port(demo, private["port"]["id"])
    service.remove_router_interface(demo, private["router"]["id"], {"subnet_id": private["sub"]["id"]})
    service.delete_router(demo, private["router"]["id"])
    service.delete_network(demo, private["net"]["id"])
    with pytest.raises(nexc.SubnetNotFound):
        service.get_subnet(demo, private["sub"]["id"])
    service.delete_subnet(admin, public["subnets"][0])
    service.delete_network(admin, public["id"])


def test_floating_ip_association(service, demo, private, public):
    fip = service.create_floatingip(demo, {"floating_network_id": public["id"]})
    assert fip["status"] == "DOWN" and fip["floating_ip_address"].startswith("172.24.4.")
    fip = service.update_floatingip(demo, fip["id"], {"port_id": private["port"]["id"]})
    assert fip["fixed_ip_address"] == private["port"]["fixed_ips"][0]["ip_address"]
    assert fip["router_id"] == private["router"]["id"] and fip["status"] == "ACTIVE"
    second = service.create_floatingip(demo, {"floating_network_id": public["id"]})
    with pytest.raises(nexc.FloatingIPPortAlreadyAssociated):
        service.update_floatingip(demo, second["id"], {"port_id": private["port"]["id"]})
    with pytest.raises(nexc.RouterInterfaceInUseByFloatingIP):
        service.remove_router_interface(demo, private["router"]["id"], {"subnet_id": private["sub"]["id"]})
    with pytest.raises(nexc.RouterExternalGatewayInUseByFloatingIp):
        service.update_router(demo, private["router"]["id"], {"external_gateway_info": None})
    fip = service.update_floatingip(demo, fip["id"], {"port_id": None})
    assert fip["port_id"] is None and fip["fixed_ip_address"] is None
    service.delete_floatingip(demo, fip["id"])
    with pytest.raises(nexc.FloatingIPNotFound):
        service.get_floatingip(demo, fip["id"])


def test_floating_ip_needs_a_router_path(service, demo, public):
    net = service.create_network(demo, {"name": "isolated"})
    service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.5.0.0/24"})
    port = service.create_port(demo, {"network_id": net["id"]})
    with pytest.raises(nexc.ExternalGatewayForFloatingIPNotFound):
        service.create_floatingip(demo, {"floating_network_id": public["id"], "port_id": port["id"]})
    with pytest.raises(nexc.BadRequest, match="not a valid external network"):
        service.create_floatingip(demo, {"floating_network_id": net["id"]})


def test_floating_ip_specific_address(service, admin, demo, public):
    fip = service.create_floatingip(admin, {"floating_network_id": public["id"], "project_id": demo.project_id,
                                            "floating_ip_address": "172.24.4.200"})
    assert fip["floating_ip_address"] == "172.24.4.200" and fip["project_id"] == demo.project_id
    with pytest.raises(nexc.IpAddressAlreadyAllocated):
        service.create_floatingip(admin, {"floating_network_id": public["id"], "floating_ip_address": "172.24.4.200"})


def test_member_cannot_choose_floating_ip_address(service, demo, public):
    # Neutron's default: create_floatingip:floating_ip_address is admin-only.
    with pytest.raises(nexc.PolicyNotAuthorized, match="create_floatingip:floating_ip_address"):
        service.create_floatingip(demo, {"floating_network_id": public["id"], "floating_ip_address": "172.24.4.201"})
    assert service.list_floatingips(demo) == []


def test_member_cannot_disable_snat_or_pick_gateway_ips(service, admin, demo, public):
    gw = {"network_id": public["id"], "enable_snat": False}
    with pytest.raises(nexc.PolicyNotAuthorized, match="create_router:external_gateway_info:enable_snat"):
        service.create_router(demo, {"name": "r", "external_gateway_info": gw})
    router = service.create_router(demo, {"name": "r"})
    with pytest.raises(nexc.PolicyNotAuthorized, match="update_router:external_gateway_info:enable_snat"):
        service.update_router(demo, router["id"], {"external_gateway_info": gw})
    fixed = {"network_id": public["id"], "external_fixed_ips": [{"ip_address": "172.24.4.77"}]}
    with pytest.raises(nexc.PolicyNotAuthorized, match="update_router:external_gateway_info:external_fixed_ips"):
        service.update_router(demo, router["id"], {"external_gateway_info": fixed})
    assert service.get_router(demo, router["id"])["external_gateway_info"] is None
    # an administrator may do all three on the project's router
    done = service.update_router(admin, router["id"], {"external_gateway_info": {**gw, **fixed}})
    assert done["external_gateway_info"]["enable_snat"] is False
    assert done["external_gateway_info"]["external_fixed_ips"][0]["ip_address"] == "172.24.4.77"


def test_router_gateway_and_interfaces(service, demo, public):
    router = service.create_router(demo, {"name": "r"})
    assert router["external_gateway_info"] is None
    router = service.update_router(demo, router["id"], {"external_gateway_info": {"network_id": public["id"]}})
    gw = router["external_gateway_info"]
    assert gw["network_id"] == public["id"] and gw["enable_snat"] is True
    assert gw["external_fixed_ips"][0]["ip_address"].startswith("172.24.4.")
    net = service.create_network(demo, {"name": "n"})
    with pytest.raises(nexc.BadRequest, match="not an external network"):
        service.update_router(demo, router["id"], {"external_gateway_info": {"network_id": net["id"]}})
    sub = service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.0.0.0/24"})
    info = service.add_router_interface(demo, router["id"], {"subnet_id": sub["id"]})
    assert info["subnet_id"] == sub["id"] and info["port_id"]
    with pytest.raises(nexc.BadRequest, match="already has a port"):
        service.add_router_interface(demo, router["id"], {"subnet_id": sub["id"]})
    port = service.get_port(demo, info["port_id"])
    assert port["device_owner"] == "network:router_interface" and port["fixed_ips"][0]["ip_address"] == "10.0.0.1"
    router = service.update_router(demo, router["id"], {"routes": [{"destination": "198.51.100.0/24",
                                                                     "nexthop": "10.0.0.9"}]})
    assert router["routes"] == [{"destination": "198.51.100.0/24", "nexthop": "10.0.0.9"}]
    router = service.update_router(demo, router["id"], {"external_gateway_info": None})
    assert router["external_gateway_info"] is None
    with pytest.raises(nexc.RouterInterfaceNotFoundForSubnet):
        service.remove_router_interface(demo, router["id"], {"subnet_id": public["subnets"][0]})


def test_security_groups_and_rules(service, demo, other):
    groups = service.list_security_groups(demo)
    assert [g["name"] for g in groups] == ["default"]
    default = groups[0]
    assert len(default["security_group_rules"]) == 4
    assert service.list_security_groups(demo)[0]["id"] == default["id"]  # created once
    sg = service.create_security_group(demo, {"name": "web", "description": "web servers"})
    assert {r["direction"] for r in sg["security_group_rules"]} == {"egress"}
    rule = service.create_security_group_rule(demo, {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp", "port_range_min": 22,
        "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0", "ethertype": "IPv4"})
    assert rule["protocol"] == "tcp" and rule["port_range_min"] == 22
    with pytest.raises(nexc.SecurityGroupRuleExists):
        service.create_security_group_rule(demo, {
            "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp", "port_range_min": 22,
            "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"})
    # as Neutron: the prefix is kept as given (host bits too), normalized_cidr is its network, and a
    # rule naming the same network another way is a duplicate
    hosty = service.create_security_group_rule(demo, {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp", "port_range_min": 80,
        "port_range_max": 80, "remote_ip_prefix": "10.2.3.124/24"})
    assert (hosty["remote_ip_prefix"], hosty["normalized_cidr"]) == ("10.2.3.124/24", "10.2.3.0/24")
    assert service.get_security_group_rule(demo, hosty["id"])["remote_ip_prefix"] == "10.2.3.124/24"
    with pytest.raises(nexc.SecurityGroupRuleExists):
        service.create_security_group_rule(demo, {
            "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp", "port_range_min": 80,
            "port_range_max": 80, "remote_ip_prefix": "10.2.3.0/24"})
    single = service.create_security_group_rule(demo, {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "udp", "port_range_min": 53,
        "port_range_max": 53, "remote_ip_prefix": "10.9.9.9"})
    assert (single["remote_ip_prefix"], single["normalized_cidr"]) == ("10.9.9.9/32", "10.9.9.9/32")
    remote = service.create_security_group_rule(demo, {"security_group_id": sg["id"], "direction": "ingress",
                                                       "remote_group_id": default["id"]})
    assert remote["remote_group_id"] == default["id"]
    for bad in ({"direction": "sideways"}, {"direction": "ingress", "protocol": "bogus"},
                {"direction": "ingress", "protocol": "tcp", "port_range_min": 90, "port_range_max": 80},
                {"direction": "ingress", "remote_ip_prefix": "::/0", "ethertype": "IPv4"},
                {"direction": "ingress", "port_range_min": 22}):
        with pytest.raises(exception.Invalid):
            service.create_security_group_rule(demo, dict(bad, security_group_id=sg["id"]))
    with pytest.raises(nexc.SecurityGroupNotFound):
        service.get_security_group(other, sg["id"])
    with pytest.raises(nexc.SecurityGroupCannotRemoveDefault):
        service.delete_security_group(demo, default["id"])
    net = service.create_network(demo, {"name": "n"})
    service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.0.0.0/24"})
    port = service.create_port(demo, {"network_id": net["id"], "security_groups": [sg["id"]]})
    assert port["security_groups"] == [sg["id"]]
    with pytest.raises(nexc.SecurityGroupInUse):
        service.delete_security_group(demo, sg["id"])
    service.delete_port(demo, port["id"])
    service.delete_security_group_rule(demo, rule["id"])
    service.delete_security_group(demo, sg["id"])
    # the rule in default pointing at nothing was removed with the group; default is intact
    assert service.get_security_group(demo, default["id"])["name"] == "default"


def test_port_security_and_address_pairs(service, demo):
    net = service.create_network(demo, {"name": "n"})
    service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.0.0.0/24"})
    port = service.create_port(demo, {"network_id": net["id"], "allowed_address_pairs": [
        {"ip_address": "10.0.0.200/32"}, {"ip_address": "10.0.0.201", "mac_address": "fa:16:3e:aa:bb:cc"}]})
    assert len(port["allowed_address_pairs"]) == 2 and port["port_security_enabled"]
    with pytest.raises(nexc.PortSecurityPortHasSecurityGroup):
        service.update_port(demo, port["id"], {"port_security_enabled": False, "allowed_address_pairs": []})
    with pytest.raises(nexc.AddressPairAndPortSecurityRequired):
        service.update_port(demo, port["id"], {"port_security_enabled": False, "security_groups": []})
    port = service.update_port(demo, port["id"], {"port_security_enabled": False, "security_groups": [],
                                                  "allowed_address_pairs": []})
    assert port["port_security_enabled"] is False and port["security_groups"] == []
    with pytest.raises(nexc.PortSecurityAndIPRequiredForSecurityGroups):
        service.create_port(demo, {"network_id": net["id"], "port_security_enabled": False,
                                   "security_groups": [service.list_security_groups(demo)[0]["id"]]})


def test_binding_is_admin_only(service, demo, admin):
    net = service.create_network(demo, {"name": "n"})
    service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.0.0.0/24"})
    with pytest.raises(nexc.PolicyNotAuthorized):
        service.create_port(demo, {"network_id": net["id"], "binding:host_id": "h"})
    port = service.create_port(admin, {"network_id": net["id"], "binding:host_id": "h",
                                       "project_id": demo.project_id})
    assert port["binding:host_id"] == "h" and port["binding:vif_type"] != "unbound"


def test_quotas(service, admin, demo):
    assert service.get_quota(demo, demo.project_id)["network"] == 100
    with pytest.raises(nexc.PolicyNotAuthorized):
        service.update_quota(demo, demo.project_id, {"network": 1})
    with pytest.raises(nexc.PolicyNotAuthorized):
        service.get_quota(demo, "someone-else")
    service.update_quota(admin, demo.project_id, {"network": 1})
    service.create_network(demo, {"name": "one"})
    with pytest.raises(nexc.OverQuota) as err:
        service.create_network(demo, {"name": "two"})
    assert err.value.code == 409
    details = service.get_quota_details(demo, demo.project_id)
    assert details["network"] == {"limit": 1, "used": 1, "reserved": 0}
    assert [q["project_id"] for q in service.list_quotas(admin)] == [demo.project_id]
    service.delete_quota(admin, demo.project_id)
    service.create_network(demo, {"name": "two"})


def test_tags(service, demo, other):
    net = service.create_network(demo, {"name": "n"})
    assert service.replace_tags(demo, "networks", net["id"], ["b", "a"]) == ["a", "b"]
    service.add_tag(demo, "networks", net["id"], "c")
    assert service.get_network(demo, net["id"])["tags"] == ["a", "b", "c"]
    service.has_tag(demo, "networks", net["id"], "a")
    service.remove_tag(demo, "networks", net["id"], "a")
    with pytest.raises(nexc.TagNotFound):
        service.has_tag(demo, "networks", net["id"], "a")
    with pytest.raises(nexc.NetworkNotFound):
        service.add_tag(other, "networks", net["id"], "x")
    service.remove_tag(demo, "networks", net["id"])
    assert service.get_tags(demo, "networks", net["id"]) == []


def test_ip_availability(service, admin, demo):
    net = service.create_network(demo, {"name": "n"})
    service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.0.0.0/28"})
    service.create_port(demo, {"network_id": net["id"]})
    avail = service.get_network_ip_availability(admin, net["id"])
    assert avail["total_ips"] == 13 and avail["used_ips"] == 1
    with pytest.raises(nexc.PolicyNotAuthorized):
        service.list_network_ip_availabilities(demo)


def test_router_interface_by_port(service, demo, other):
    net = service.create_network(demo, {"name": "n"})
    sub = service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.0.0.0/24"})
    router = service.create_router(demo, {"name": "r"})
    port = service.create_port(demo, {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.0.0.5"}]})
    info = service.add_router_interface(demo, router["id"], {"port_id": port["id"]})
    assert info["port_id"] == port["id"] and info["subnet_ids"] == [sub["id"]]
    port = service.get_port(demo, port["id"])
    assert port["device_owner"] == "network:router_interface" and port["device_id"] == router["id"]
    assert port["security_groups"] == []
    with pytest.raises(nexc.PortInUse):
        service.add_router_interface(demo, service.create_router(demo, {"name": "r2"})["id"], {"port_id": port["id"]})
    with pytest.raises(nexc.RouterNotFound):
        service.add_router_interface(other, router["id"], {"subnet_id": sub["id"]})
    service.remove_router_interface(demo, router["id"], {"port_id": port["id"]})
    with pytest.raises(nexc.PortNotFound):
        service.get_port(demo, port["id"])
    service.delete_router(demo, router["id"])


def test_gateway_address_reserved_for_owner_router_ports(service, admin, demo):
    shared = service.create_network(admin, {"name": "shared", "shared": True})
    service.create_subnet(admin, {"network_id": shared["id"], "cidr": "10.9.0.0/24"})
    with pytest.raises(nexc.GatewayIpInUse):
        service.create_port(demo, {"network_id": shared["id"], "device_owner": "network:router_interface",
                                   "fixed_ips": [{"ip_address": "10.9.0.1"}]})
