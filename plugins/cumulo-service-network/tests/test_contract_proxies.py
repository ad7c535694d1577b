"""Contract 1.3: the security groups, rules and floating IPs the Compute API's proxies manage, as records."""

from __future__ import annotations

import pytest

from cumulo import exception
from cumulo.contracts import network as contract
from cumulo.contracts.network import FloatingIP, RequestedNetwork, SecurityGroup, SecurityGroupRule


def test_security_groups_and_rules(service, demo, other):
    group = service.add_security_group(demo, "web", "the web tier")
    assert isinstance(group, SecurityGroup) and (group.name, group.description) == ("web", "the web tier")
    assert {r.direction for r in group.rules} == {"egress"}  # a new group lets everything out
    assert {g.name for g in service.project_security_groups(demo)} == {"default", "web"}
    assert service.security_group(demo, group.id) == group
    with pytest.raises(contract.SecurityGroupNotFound):
        service.security_group(other, group.id)
    with pytest.raises(exception.Conflict):
        service.add_security_group(demo, "default")

    renamed = service.edit_security_group(demo, group.id, name="web2")
    assert (renamed.name, renamed.description) == ("web2", "the web tier")
    rule = service.add_security_group_rule(demo, group.id, protocol="tcp", port_range_min=22, port_range_max=22,
                                           remote_ip_prefix="10.0.0.0/8")
    assert isinstance(rule, SecurityGroupRule) and (rule.direction, rule.ethertype) == ("ingress", "IPv4")
    assert rule in service.security_group(demo, group.id).rules
    with pytest.raises(contract.SecurityGroupRuleExists):
        service.add_security_group_rule(demo, group.id, protocol="tcp", port_range_min=22, port_range_max=22,
                                        remote_ip_prefix="10.0.0.0/8")
    with pytest.raises(contract.InvalidInput):
        service.add_security_group_rule(demo, group.id, protocol="bogus")
    service.drop_security_group_rule(demo, rule.id)
    with pytest.raises(contract.SecurityGroupRuleNotFound):
        service.drop_security_group_rule(demo, rule.id)
    default = [g for g in service.project_security_groups(demo) if g.name == "default"][0]
    with pytest.raises(contract.SecurityGroupCannotRemoveDefault):
        service.drop_security_group(demo, default.id)
    service.drop_security_group(demo, group.id)
    with pytest.raises(contract.SecurityGroupNotFound):
        service.drop_security_group(demo, group.id)


def test_floating_ips_allocated_associated_released(service, admin, demo):
    service.ensure_defaults()
    net = service.create_network(demo, {"name": "n"})
    subnet = service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.9.0.0/24"})
    public = [n for n in service.network_summaries(demo) if n.external][0]
    router = service.create_router(demo, {"name": "r", "external_gateway_info": {"network_id": public.id}})
    service.add_router_interface(demo, router["id"], {"subnet_id": subnet["id"]})
    [port] = service.allocate_instance_ports(demo, "vm1", "host1", [RequestedNetwork(network_id=net["id"])])

    fip = service.allocate_floating_ip(demo)
    assert isinstance(fip, FloatingIP) and fip.floating_network_id == public.id and not fip.associated
    assert service.allocate_floating_ip(demo, public.name).floating_network_id == public.id
    with pytest.raises(contract.NetworkNotFound):
        service.allocate_floating_ip(demo, "no-such-pool")
    with pytest.raises(contract.NetworkNotFound):
        service.allocate_floating_ip(demo, net["id"])  # not an external network

    done = service.associate_floating_ip(demo, fip.id, port.id)
    assert done.port_id == port.id and done.fixed_ip_address == port.fixed_ips[0].ip_address
    assert service.floating_ip(demo, fip.id) == done
    assert service.instance_ports(demo, "vm1")[0].floating_ips == (done,)
    assert not service.disassociate_floating_ip(demo, fip.id).associated
    service.release_floating_ip(demo, fip.id)
    with pytest.raises(contract.FloatingIPNotFound):
        service.floating_ip(demo, fip.id)
