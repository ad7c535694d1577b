"""The manager implements the kernel contract ``cumulo.contracts.network`` with its typed records.

The static half is in ``cumulo_service_network.manager`` (mypy checks the
manager's spelled-out methods against :class:`NetworkService`); here, the
run-time half: every member of the protocol is defined on the manager itself
(not only reached through its ``__getattr__``, which mypy cannot see through)
with the protocol's parameters, and the records say what the dict views say.
"""

from __future__ import annotations

import dataclasses
import inspect

import cumulo_service_network.manager as manager
import pytest

from cumulo import exception
from cumulo.contracts import network as contract
from cumulo.contracts.network import (
    FixedIP,
    FloatingIP,
    InstancePort,
    NetworkService,
    NetworkSummary,
    RequestedNetwork,
    SecurityGroup,
    SecurityGroupRule,
)

PROTOCOL_MEMBERS = sorted(n for n, v in vars(NetworkService).items() if inspect.isfunction(v) and not n.startswith("_"))


def test_the_service_is_a_network_service(service: manager.Service) -> None:
    checked: NetworkService = service  # checked by mypy too (this function is typed)
    assert isinstance(checked, NetworkService)


@pytest.mark.parametrize("name", PROTOCOL_MEMBERS)
def test_each_contract_method_is_spelled_out_with_the_protocols_parameters(name):
    assert name in vars(manager.Service), f"{name} is only reached through __getattr__: mypy cannot check it"
    wanted = inspect.signature(getattr(NetworkService, name))
    got = inspect.signature(getattr(manager.Service, name))
    assert [(p.name, p.kind, p.default) for p in got.parameters.values()] == \
        [(p.name, p.kind, p.default) for p in wanted.parameters.values()]
    assert getattr(NetworkService, name).__doc__


def test_records_are_frozen() -> None:
    rule = SecurityGroupRule(id="r", security_group_id="g", direction="ingress", ethertype="IPv4")
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.protocol = "tcp"  # type: ignore[misc]
    port = InstancePort(id="p", network_id="n", mac_address="fa:16:3e:00:00:01", vif_details={"bridge_name": "br"})
    assert hash(port) == hash(dataclasses.replace(port, vif_details={}))  # the mapping is not hashed...
    assert port != dataclasses.replace(port, vif_details={})  # ...but compared


def test_errors_are_network_errors_with_the_kernel_status():
    assert issubclass(contract.NetworkNotFound, contract.NetworkError)
    assert issubclass(contract.NetworkNotFound, exception.NotFound) and contract.NetworkNotFound.code == 404
    assert contract.OverQuota.code == 409 and contract.PolicyNotAuthorized.code == 403
    errors = [v for v in vars(contract).values() if isinstance(v, type) and issubclass(v, contract.NetworkError)]
    assert len(errors) > 40 and all(e.__name__ in contract.__all__ for e in errors)


@pytest.fixture
def net(service, demo):
    n = service.create_network(demo, {"name": "n"})
    service.create_subnet(demo, {"network_id": n["id"], "cidr": "10.0.0.0/24", "dns_nameservers": ["10.0.0.53"]})
    return n


def test_allocate_instance_ports_answers_records(service, admin, demo, net):
    service.ensure_defaults()
    public = next(n for n in service.list_networks(admin) if n["is_default"])
    ports = service.allocate_instance_ports(demo, "vm1", "host1", [RequestedNetwork(network_id=net["id"])],
                                            ["default"], availability_zone="az1")
    assert len(ports) == 1
    port = ports[0]
    view = service.get_port(demo, port.id)
    assert isinstance(port, InstancePort)
    assert (port.id, port.network_id, port.mac_address, port.network_name) == \
        (view["id"], net["id"], view["mac_address"], "n")
    # The subnet's facts come with the address: a guest configures itself from them (config drive).
    assert port.fixed_ips == (FixedIP(ip_address=view["fixed_ips"][0]["ip_address"],
                                      subnet_id=view["fixed_ips"][0]["subnet_id"], version=4, prefixlen=24,
                                      gateway="10.0.0.1", dns_nameservers=("10.0.0.53",), dhcp=True),)
    assert port.addresses(4) == (view["fixed_ips"][0]["ip_address"],) and port.addresses(6) == ()
    assert port.security_groups == tuple(view["security_groups"])
    assert (port.instance_uuid, port.host, port.status, port.mtu) == ("vm1", "host1", "ACTIVE", 1500)
    assert port.vif_type == view["binding:vif_type"] and dict(port.vif_details) == view["binding:vif_details"]
    assert port.floating_ips == ()

    router = service.create_router(demo, {"name": "r", "external_gateway_info": {"network_id": public["id"]}})
    service.add_router_interface(demo, router["id"], {"subnet_id": port.fixed_ips[0].subnet_id})
    fip = service.create_floatingip(demo, {"floating_network_id": public["id"], "port_id": port.id})
    [again] = service.instance_ports(demo, "vm1")
    assert again.floating_ips == (FloatingIP(
        id=fip["id"], floating_ip_address=fip["floating_ip_address"], floating_network_id=public["id"],
        project_id="demo-project", fixed_ip_address=port.fixed_ips[0].ip_address, port_id=port.id,
        router_id=router["id"], status="ACTIVE"),)
    assert again.floating_ips[0].associated
    assert service.floating_ips(demo) == list(again.floating_ips)

    service.deallocate_for_instance(demo, "vm1")
    assert service.instance_ports(demo, "vm1") == []


def test_requested_networks_are_records(service, demo, net):
    port = service.create_port(demo, {"network_id": net["id"]})
    assert service.validate_networks(demo, [RequestedNetwork(port_id=port["id"])]) == 1
    assert service.validate_networks(demo, (RequestedNetwork(network_id=net["id"], fixed_ip="10.0.0.200"),)) == 1
    with pytest.raises(exception.Invalid, match="Bad networks format"):  # Nova's dict items are compute's to convert
        service.validate_networks(demo, [{"uuid": net["id"]}])
    with pytest.raises(exception.Invalid, match="must be 'auto', 'none' or a list"):
        service.validate_networks(demo, "everything")
    with pytest.raises(exception.Invalid):
        service.validate_networks(demo, [RequestedNetwork(network_id=net["id"], fixed_ip="10.0.0.200")], 2)
    with pytest.raises(contract.NetworkNotFound):
        service.validate_networks(demo, [RequestedNetwork(network_id="nope")])
    [bound] = service.allocate_instance_ports(demo, "vm2", "host1", (RequestedNetwork(port_id=port["id"]),))
    assert bound.id == port["id"] and bound.instance_uuid == "vm2"
    assert service.allocate_instance_ports(demo, "vm3", "host1", contract.NONE) == []


def test_instance_security_groups_with_rules(service, demo, net):
    web = service.create_security_group(demo, {"name": "web"})
    rule = service.create_security_group_rule(demo, {"security_group_id": web["id"], "direction": "ingress",
                                                     "protocol": "tcp", "port_range_min": 80,
                                                     "port_range_max": 80, "remote_ip_prefix": "0.0.0.0/0"})
    assert service.validate_security_groups(demo, ["web", "default"]) == [web["id"]]
    service.allocate_instance_ports(demo, "vm1", "host1", [RequestedNetwork(network_id=net["id"])], ["web"])
    [group] = service.instance_security_groups(demo, "vm1")
    assert isinstance(group, SecurityGroup) and (group.id, group.name, group.stateful) == (web["id"], "web", True)
    assert SecurityGroupRule(id=rule["id"], security_group_id=web["id"], direction="ingress", ethertype="IPv4",
                             protocol="tcp", port_range_min=80, port_range_max=80, remote_ip_prefix="0.0.0.0/0",
                             project_id="demo-project") in group.rules
    service.add_security_group_to_instance(demo, "vm1", "default")
    assert [g.name for g in service.instance_security_groups(demo, "vm1")] == ["default", "web"]
    service.remove_security_group_from_instance(demo, "vm1", "web")
    assert [g.name for g in service.instance_security_groups(demo, "vm1")] == ["default"]


def test_network_summaries(service, admin, demo, net):
    service.ensure_defaults()
    summaries = {n.name: n for n in service.network_summaries(demo)}
    assert set(summaries) == {"n", "public"}
    mine = summaries["n"]
    assert mine == NetworkSummary(id=net["id"], name="n", project_id="demo-project", status="ACTIVE",
                                  subnet_ids=mine.subnet_ids)
    assert mine.subnet_ids == tuple(service.get_network(demo, net["id"])["subnets"]) and len(mine.subnet_ids) == 1
    assert summaries["public"].external and summaries["public"].is_default and not summaries["n"].external


def test_instance_by_address_for_the_metadata_service(service, admin, demo, net):
    [port] = service.allocate_instance_ports(demo, "vm1", "host1", [RequestedNetwork(network_id=net["id"])])
    address = port.fixed_ips[0].ip_address
    assert service.instance_by_address(admin, address) == "vm1"
    assert service.instance_by_address(admin, f"::ffff:{address}") == "vm1"
    assert service.instance_by_address(admin, address, network_id="other") is None
    with pytest.raises(contract.PolicyNotAuthorized):
        service.instance_by_address(demo, address)
