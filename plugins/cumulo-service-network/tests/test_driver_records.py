"""What the network driver is handed: records built once per change (NetworkDriver 3.0)."""

from __future__ import annotations

import pytest

from cumulo.interfaces.network import Model, Network, NetworkDriverError, Port, Router, VifBinding


@pytest.fixture
def received(service):
    """The records the driver is handed, ``[(method, action, record)]``, the noop driver still behind."""
    calls = []
    noop = service.driver
    for method in ("network_changed", "port_changed", "router_changed", "floatingip_changed",
                   "security_group_changed"):
        def forward(action, record, method=method, real=getattr(noop, method)):
            calls.append((method, action, record))
            real(action, record)
        setattr(noop, method, forward)
    return calls


def test_a_deleted_network_is_handed_over_as_it_was(service, demo, received):
    net = service.create_network(demo, {"name": "n"})
    sub = service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.9.0.0/24",
                                       "allocation_pools": [{"start": "10.9.0.10", "end": "10.9.0.20"}]})
    service.delete_network(demo, net["id"])
    method, action, record = received[-1]
    assert (method, action) == ("network_changed", "delete") and isinstance(record, Network)
    [subnet] = record.subnets
    assert (subnet.id, subnet.cidr, subnet.enable_dhcp) == (sub["id"], "10.9.0.0/24", True)
    assert [(p.start, p.end) for p in subnet.allocation_pools] == [("10.9.0.10", "10.9.0.20")]


def test_a_port_record_says_what_its_view_says(service, demo, received):
    net = service.create_network(demo, {"name": "n"})
    service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.9.0.0/24"})
    view = service.create_port(demo, {"network_id": net["id"],
                                      "allowed_address_pairs": [{"ip_address": "10.9.1.0/24"}]})
    [(method, action, record)] = [c for c in received if c[0] == "port_changed"]
    assert (method, action) == ("port_changed", "create") and isinstance(record, Port)
    assert [(ip.subnet_id, ip.ip_address) for ip in record.fixed_ips] == [
        (ip["subnet_id"], ip["ip_address"]) for ip in view["fixed_ips"]]
    assert record.security_group_ids == tuple(view["security_groups"]) and record.security_group_ids
    assert [(p.ip_address, p.mac_address) for p in record.allowed_address_pairs] == [("10.9.1.0/24", None)]
    assert (record.mac_address, record.host, record.vif_type) == (view["mac_address"], "", "unbound")


def test_a_floating_ip_created_associated_reaches_its_router(service, demo, received):
    service.ensure_defaults()
    public = next(n for n in service.list_networks(demo) if n["router:external"])
    net = service.create_network(demo, {"name": "n"})
    sub = service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.9.0.0/24"})
    router = service.create_router(demo, {"name": "r", "external_gateway_info": {"network_id": public["id"]}})
    service.add_router_interface(demo, router["id"], {"subnet_id": sub["id"]})
    port = service.create_port(demo, {"network_id": net["id"]})
    fip = service.create_floatingip(demo, {"floating_network_id": public["id"], "port_id": port["id"]})
    method, action, record = received[-1]
    assert (method, action) == ("router_changed", "update") and isinstance(record, Router)
    assert [(f.id, f.fixed_ip_address) for f in record.floating_ips] == [(fip["id"], fip["fixed_ip_address"])]
    assert record.gateway is not None and record.gateway.fixed_ips[0].cidr == "172.24.4.0/24"


def test_a_binding_the_driver_refuses_shows_binding_failed(service, demo, admin, monkeypatch):
    def refuse(port, host):
        raise NetworkDriverError(f"cannot plug on {host}")

    net = service.create_network(demo, {"name": "n"})
    port = service.create_port(demo, {"network_id": net["id"]})
    monkeypatch.setattr(service.driver, "port_binding_vif", refuse)
    bound = service.update_port(admin, port["id"], {"binding:host_id": "h1"})
    assert (bound["binding:vif_type"], bound["binding:vif_details"]) == ("binding_failed", {})
    assert [p["id"] for p in service.list_ports(admin)] == [port["id"]]


def test_the_driver_s_binding_is_shown_and_handed_back(service, demo, admin, received, monkeypatch):
    def bridge(port, host):
        return VifBinding(vif_type="bridge", details={"bridge_name": f"brq-{port.network_id[:11]}"})

    monkeypatch.setattr(service.driver, "port_binding_vif", bridge)
    net = service.create_network(demo, {"name": "n"})
    port = service.create_port(demo, {"network_id": net["id"]})
    bound = service.update_port(admin, port["id"], {"binding:host_id": "h1"})
    assert bound["binding:vif_details"] == {"bridge_name": f"brq-{net['id'][:11]}"}
    record = received[-1][2]
    assert (record.host, record.vif_type, dict(record.vif_details)) == ("h1", "bridge", bound["binding:vif_details"])


def test_a_failed_update_marks_the_port_error(service, demo, admin, monkeypatch):
    net = service.create_network(demo, {"name": "n"})
    port = service.create_port(demo, {"network_id": net["id"]})

    def fail(action, record):
        raise NetworkDriverError("data plane down")

    monkeypatch.setattr(service.driver, "port_changed", fail)
    service.update_port(admin, port["id"], {"name": "renamed"})
    assert service.get_port(admin, port["id"])["status"] == "ERROR"


def test_the_model_holds_every_kind(service, demo):
    service.ensure_defaults()
    net = service.create_network(demo, {"name": "n"})
    port = service.create_port(demo, {"network_id": net["id"]})  # makes the project's default group
    model = service.model_snapshot()
    assert isinstance(model, Model)
    assert net["id"] in {n.id for n in model.networks} and port["id"] in {p.id for p in model.ports}
    [group] = model.security_groups
    assert group.name == "default" and group.port_ids == (port["id"],)
    service.sync_driver()
    assert service.driver.synced == 1 and set(service.driver.model["networks"]) == {n.id for n in model.networks}


def test_a_driver_with_dhcp_ports_gets_one_per_dhcp_network(service, demo, received, monkeypatch):
    monkeypatch.setattr(type(service.driver), "dhcp_ports", True)
    net = service.create_network(demo, {"name": "n"})
    sub = service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.9.0.0/24"})
    [dhcp] = [p for p in service.list_ports(demo) if p["device_owner"] == "network:dhcp"]
    [ip] = dhcp["fixed_ips"]
    assert ip["subnet_id"] == sub["id"] and ip["ip_address"].startswith("10.9.0.")
    method, action, record = received[-1]
    assert (method, action) == ("network_changed", "update") and record.dhcp_port is not None
    assert (record.dhcp_port.id, record.dhcp_port.fixed_ips[0].ip_address) == (dhcp["id"], ip["ip_address"])
    # A second DHCP subnet adds an address to the same port; no DHCP left removes it.
    sub2 = service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.9.1.0/24"})
    [dhcp2] = [p for p in service.list_ports(demo) if p["device_owner"] == "network:dhcp"]
    assert dhcp2["id"] == dhcp["id"] and {i["subnet_id"] for i in dhcp2["fixed_ips"]} == {sub["id"], sub2["id"]}
    service.update_subnet(demo, sub2["id"], {"enable_dhcp": False})
    service.delete_subnet(demo, sub["id"])  # the DHCP port does not keep a subnet in use
    assert not [p for p in service.list_ports(demo) if p["device_owner"] == "network:dhcp"]
    assert received[-1][2].dhcp_port is None
    service.update_subnet(demo, sub2["id"], {"enable_dhcp": True})
    assert [p for p in service.list_ports(demo) if p["device_owner"] == "network:dhcp"]
    service.delete_network(demo, net["id"])  # nor the network
    assert received[-1][1] == "delete" and received[-1][2].dhcp_port is not None
    assert not service.list_ports(demo)


def test_a_driver_without_dhcp_ports_gets_none(service, demo, received):
    net = service.create_network(demo, {"name": "n"})
    service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.9.0.0/24"})
    assert not service.list_ports(demo) and received[-1][2].dhcp_port is None
