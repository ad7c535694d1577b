"""The compute contract: ports for servers, addresses, security groups, auto-allocated topology."""

from __future__ import annotations

import pytest

import cumulo.contracts.network as nexc
from cumulo import exception
from cumulo.contracts.network import AUTO, RequestedNetwork


@pytest.fixture
def net(service, demo):
    n = service.create_network(demo, {"name": "n"})
    service.create_subnet(demo, {"network_id": n["id"], "cidr": "10.0.0.0/24"})
    return n


def test_allocate_on_requested_network(service, demo, net):
    ports = service.allocate_instance_ports(demo, "vm1", "host1", [RequestedNetwork(network_id=net["id"])],
                                            ["default"], availability_zone="az1")
    assert len(ports) == 1
    p = ports[0]
    assert (p.instance_uuid, p.host, p.network_id, p.network_name) == ("vm1", "host1", net["id"], "n")
    assert p.fixed_ips[0].version == 4 and p.floating_ips == ()
    assert p.security_groups == (service.list_security_groups(demo)[0]["id"],)
    assert service.get_port(demo, p.id)["device_owner"] == "compute:az1"
    assert service.instance_ports(demo, "vm1") == ports
    assert service.list_ports(demo, device_id="vm1")[0]["status"] == "ACTIVE"
    service.deallocate_for_instance(demo, "vm1")
    service.deallocate_for_instance(demo, "vm1")  # idempotent
    assert service.instance_ports(demo, "vm1") == []


def test_fixed_ip_and_user_port(service, demo, net):
    ports = service.allocate_instance_ports(demo, "vm1", "h",
                                            [RequestedNetwork(network_id=net["id"], fixed_ip="10.0.0.77")], None)
    assert ports[0].addresses() == ("10.0.0.77",)
    mine = service.create_port(demo, {"network_id": net["id"], "name": "mine"})
    [bound] = service.allocate_instance_ports(demo, "vm2", "h", [RequestedNetwork(port_id=mine["id"])], None)
    assert bound.id == mine["id"] and bound.instance_uuid == "vm2"
    with pytest.raises(nexc.PortInUse):
        service.validate_networks(demo, [RequestedNetwork(port_id=mine["id"])], 1)
    service.deallocate_for_instance(demo, "vm2")
    kept = service.get_port(demo, mine["id"])
    assert kept["device_id"] == "" and kept["binding:host_id"] == ""  # unbound, not deleted


def test_validate_networks(service, demo, other, net):
    assert service.validate_networks(demo, [RequestedNetwork(network_id=net["id"])], 2) == 2
    with pytest.raises(nexc.NetworkNotFound):
        service.validate_networks(other, [RequestedNetwork(network_id=net["id"])], 1)
    with pytest.raises(exception.NotFound):
        service.validate_networks(demo, [RequestedNetwork(network_id="3f2d1c9e-0000-4000-8000-000000000000")], 1)
    with pytest.raises(exception.Invalid, match="single fixed IP"):
        service.validate_networks(demo, [RequestedNetwork(network_id=net["id"], fixed_ip="10.0.0.9")], 2)
    empty = service.create_network(demo, {"name": "nosubnet"})
    with pytest.raises(exception.Invalid, match="requires a subnet"):
        service.validate_networks(demo, [RequestedNetwork(network_id=empty["id"])], 1)
    with pytest.raises(exception.Invalid, match="needs a 'uuid' or a 'port'"):
        service.validate_networks(demo, [RequestedNetwork(network_id="")], 1)
    with pytest.raises(nexc.InvalidInput, match="not a valid id for networks port"):
        service.validate_networks(demo, [RequestedNetwork(port_id=42)], 1)
    with pytest.raises(nexc.NetworkAmbiguous) as err:
        service.validate_networks(demo, AUTO, 1)
    assert err.value.code == 409
    assert service.validate_networks(demo, "none", 1) == 1


def test_failed_allocation_leaves_nothing(service, demo, net):
    # the second port fails (the gateway address is not for servers) after the first was made
    with pytest.raises(nexc.GatewayIpInUse):
        service.allocate_instance_ports(demo, "vm1", "h", [RequestedNetwork(network_id=net["id"]),
                                                           RequestedNetwork(network_id=net["id"], fixed_ip="10.0.0.1")],
                                        None)
    assert service.list_ports(demo, device_id="vm1") == []


def test_auto_topology(service, demo, admin):
    with pytest.raises(nexc.AutoAllocationFailure):
        service.validate_networks(demo, "auto", 1)
    service.ensure_defaults()
    service.validate_networks(demo, "auto", 1)
    ports = service.allocate_instance_ports(demo, "vm1", "h", AUTO, None)
    assert ports[0].network_name == "auto_allocated_network"
    topo = service.get_auto_allocated_topology(demo, demo.project_id)
    assert topo["id"] == ports[0].network_id
    routers = service.list_routers(demo)
    assert len(routers) == 1 and routers[0]["external_gateway_info"]["network_id"]
    # second use: the same network, nothing new
    ports2 = service.allocate_instance_ports(demo, "vm2", "h", AUTO, None)
    assert ports2[0].network_id == topo["id"] and len(service.list_routers(demo)) == 1
    assert service.get_auto_allocated_topology(demo, demo.project_id, dry_run=True)["id"] == topo["id"]
    with pytest.raises(nexc.PolicyNotAuthorized):
        service.get_auto_allocated_topology(demo, "another-project")
    with pytest.raises(nexc.NetworkInUse):
        service.delete_auto_allocated_topology(demo, demo.project_id)
    service.deallocate_for_instance(demo, "vm1")
    service.deallocate_for_instance(demo, "vm2")
    service.delete_auto_allocated_topology(demo, demo.project_id)
    assert service.list_routers(demo) == [] and service.list_networks(demo) == [
        n for n in service.list_networks(demo) if n["router:external"]]


def test_floating_ip_shows_on_the_instance_port(service, demo):
    service.ensure_defaults()
    ports = service.allocate_instance_ports(demo, "vm1", "h", AUTO, None)
    public = next(n for n in service.list_networks(demo) if n["router:external"])
    fip = service.create_floatingip(demo, {"floating_network_id": public["id"], "port_id": ports[0].id})
    [port] = service.instance_ports(demo, "vm1")
    assert [f.floating_ip_address for f in port.floating_ips] == [fip["floating_ip_address"]]
    assert port.floating_ips[0].fixed_ip_address == port.fixed_ips[0].ip_address
    service.deallocate_for_instance(demo, "vm1")
    assert service.get_floatingip(demo, fip["id"])["port_id"] is None  # disassociated, kept


def test_instance_security_groups(service, demo, net):
    service.allocate_instance_ports(demo, "vm1", "h", [RequestedNetwork(network_id=net["id"])], None)
    web = service.create_security_group(demo, {"name": "web"})
    service.add_security_group_to_instance(demo, "vm1", "web")
    names = [g.name for g in service.instance_security_groups(demo, "vm1")]
    assert names == ["default", "web"]
    with pytest.raises(exception.Invalid, match="already associated"):
        service.add_security_group_to_instance(demo, "vm1", web["id"])
    service.remove_security_group_from_instance(demo, "vm1", "web")
    with pytest.raises(exception.Invalid, match="not associated"):
        service.remove_security_group_from_instance(demo, "vm1", "web")
    with pytest.raises(nexc.SecurityGroupNotFound):
        service.add_security_group_to_instance(demo, "vm1", "nope")
    with pytest.raises(exception.NotFound):
        service.add_security_group_to_instance(demo, "no-such-vm", "web")
    service.create_security_group(demo, {"name": "dup"})
    service.create_security_group(demo, {"name": "dup"})
    with pytest.raises(nexc.SecurityGroupAmbiguous):
        service.add_security_group_to_instance(demo, "vm1", "dup")


def test_unknown_security_group_at_boot(service, demo, net):
    with pytest.raises(nexc.SecurityGroupNotFound):
        service.allocate_instance_ports(demo, "vm1", "h", [RequestedNetwork(network_id=net["id"])], ["nope"])
    assert service.list_ports(demo, device_id="vm1") == []


# -- attaching and detaching one port (contract 1.2) ---------------------------------------------

def test_attach_a_new_port_on_a_network_then_detach_deletes_it(service, demo, net):
    service.allocate_instance_ports(demo, "vm1", "h1", [RequestedNetwork(network_id=net["id"])], None)
    port = service.attach_instance_port(demo, "vm1", "h1", RequestedNetwork(network_id=net["id"],
                                                                              fixed_ip="10.0.0.50"), "az1")
    assert (port.instance_uuid, port.host, port.addresses()) == ("vm1", "h1", ("10.0.0.50",))
    default = next(g for g in service.list_security_groups(demo) if g["name"] == "default")
    assert port.security_groups == (default["id"],)
    assert service.get_port(demo, port.id)["device_owner"] == "compute:az1"
    assert [p.id for p in service.instance_ports(demo, "vm1")][-1] == port.id
    assert len(service.instance_ports(demo, "vm1")) == 2
    service.detach_instance_port(demo, "vm1", port.id)
    with pytest.raises(nexc.PortNotFound):
        service.get_port(demo, port.id)  # made for the server: deleted with the interface
    assert len(service.instance_ports(demo, "vm1")) == 1


def test_attach_the_users_port_then_detach_unbinds_it(service, demo, net):
    sg = service.create_security_group(demo, {"name": "web"})
    mine = service.create_port(demo, {"network_id": net["id"], "name": "mine", "security_groups": [sg["id"]]})
    port = service.attach_instance_port(demo, "vm1", "h1", RequestedNetwork(port_id=mine["id"]))
    assert port.id == mine["id"] and port.security_groups == (sg["id"],)  # its own groups stay
    with pytest.raises(nexc.PortInUse):  # a port in use by a server cannot go to another
        service.attach_instance_port(demo, "vm2", "h1", RequestedNetwork(port_id=mine["id"]))
    with pytest.raises(nexc.PortNotFound):  # not that server's port
        service.detach_instance_port(demo, "vm2", mine["id"])
    service.detach_instance_port(demo, "vm1", mine["id"])
    kept = service.get_port(demo, mine["id"])
    assert (kept["device_id"], kept["device_owner"], kept["binding:host_id"]) == ("", "", "")
    assert service.instance_ports(demo, "vm1") == []
    with pytest.raises(nexc.PortNotFound):  # detached already
        service.detach_instance_port(demo, "vm1", mine["id"])


def test_attach_refuses_what_a_create_would(service, demo, other, net):
    with pytest.raises(exception.Invalid, match="needs a port or a network"):
        service.attach_instance_port(demo, "vm1", "h1", RequestedNetwork(fixed_ip="10.0.0.9"))
    with pytest.raises(nexc.NetworkNotFound):  # another project's network
        service.attach_instance_port(other, "vm1", "h1", RequestedNetwork(network_id=net["id"]))
    mine = service.create_port(demo, {"network_id": net["id"]})
    # an address this port did not get (it takes a free one at random: once it was 10.0.0.9)
    ip = next(a for a in ("10.0.0.9", "10.0.0.10") if a != mine["fixed_ips"][0]["ip_address"])
    with pytest.raises(nexc.PortNotFound):  # another project's port
        service.attach_instance_port(other, "vm1", "h1", RequestedNetwork(port_id=mine["id"]))
    with pytest.raises(nexc.PortNotFound):
        service.attach_instance_port(demo, "vm1", "h1", RequestedNetwork(port_id="no-such-port"))
    with pytest.raises(nexc.InvalidIpForNetwork):
        service.attach_instance_port(demo, "vm1", "h1", RequestedNetwork(network_id=net["id"], fixed_ip="10.9.0.1"))
    service.attach_instance_port(demo, "vm1", "h1", RequestedNetwork(network_id=net["id"], fixed_ip=ip))
    with pytest.raises(exception.Conflict, match="already in use"):
        service.attach_instance_port(demo, "vm2", "h1", RequestedNetwork(network_id=net["id"], fixed_ip=ip))
    assert service.instance_ports(demo, "vm2") == []  # nothing left behind by the refusals


def test_attach_over_the_port_quota_leaves_nothing_behind(service, admin, demo, net):
    service.update_quota(admin, demo.project_id, {"port": 1})
    service.attach_instance_port(demo, "vm1", "h1", RequestedNetwork(network_id=net["id"]))
    with pytest.raises((nexc.OverQuota, exception.QuotaExceeded)):
        service.attach_instance_port(demo, "vm1", "h1", RequestedNetwork(network_id=net["id"]))
    assert len(service.instance_ports(demo, "vm1")) == 1 and len(service.list_ports(demo)) == 1
