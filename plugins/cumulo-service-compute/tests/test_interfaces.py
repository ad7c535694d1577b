"""Attaching and detaching interfaces of a running server: the real network service (noop driver),
the fake hypervisor's hosts in process, ``hub.compute``'s interface methods.

The fake driver records the VIFs it plugged (``interfaces`` of its instance record): what it
holds and what the server's ports say must agree after every attach and detach.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cumulo_service_compute import objects
from cumulo_service_compute.server_interfaces import InterfaceFailed

import cumulo.contracts.network as nexc
from cumulo import exception
from cumulo.context import RequestContext
from cumulo.testing.fixtures import FakeHub, running_compute, use_fake_hypervisor, wait_for


@pytest.fixture
def hub(cumulo_db: Any) -> Iterator[Any]:
    use_fake_hypervisor(cumulo_db)
    cumulo_db.set("driver", "noop", group="network")
    cumulo_db.set("create_default_public_network", False, group="network")
    with running_compute(FakeHub(without=("image", "volume"))) as h:
        h.conf_fixture = cumulo_db  # type: ignore[attr-defined]  # for tests that inject driver failures
        yield h


@pytest.fixture
def nets(hub: Any, ctx: RequestContext) -> dict[str, Any]:
    out = {}
    for name, cidr in (("first", "10.1.0.0/24"), ("second", "10.2.0.0/24")):
        n = hub.network.create_network(ctx, {"name": name})
        hub.network.create_subnet(ctx, {"network_id": n["id"], "cidr": cidr})
        out[name] = n["id"]
    return out


def _boot(hub: Any, ctx: RequestContext, network_id: str) -> dict[str, Any]:
    [inst] = hub.compute.create_servers(ctx, name="vm", image_ref="img", flavor_id="42",
                                        networks=[{"uuid": network_id}])
    def settled() -> dict[str, Any]:
        server: dict[str, Any] = hub.compute.get_server(ctx, inst["uuid"])
        return server if server["status"] in ("ACTIVE", "ERROR") else {}

    return wait_for(settled)


def _plugged(hub: Any, server: dict[str, Any]) -> dict[str, Any]:
    manager = next(m for m in hub.compute_hosts.managers if m.host == server["host"])
    record = manager.driver.get_instance(server["uuid"])
    assert record is not None
    return record["interfaces"]


def _agree(hub: Any, ctx: RequestContext, uuid: str) -> list[str]:
    """The server's port ids, checked against what the fake hypervisor has plugged."""
    server = hub.compute.get_server(ctx, uuid)
    ports = [p["id"] for p in server["ports"]]
    assert sorted(_plugged(hub, server)) == sorted(ports)
    assert [i["port_id"] for i in hub.compute.list_interfaces(ctx, uuid)] == ports
    return ports


def test_attach_on_a_network_then_detach(hub, ctx, nets):
    server = _boot(hub, ctx, nets["first"])
    assert server["status"] == "ACTIVE"
    [first] = _agree(hub, ctx, server["uuid"])
    view = hub.compute.attach_interface(ctx, server["uuid"], network_id=nets["second"], fixed_ip="10.2.0.77",
                                        tag="db")
    assert view["net_id"] == nets["second"] and view["tag"] == "db"
    assert view["fixed_ips"] == [{"subnet_id": view["fixed_ips"][0]["subnet_id"], "ip_address": "10.2.0.77"}]
    assert _agree(hub, ctx, server["uuid"]) == [first, view["port_id"]]
    vif = _plugged(hub, server)[view["port_id"]]
    assert vif["mac_address"] == view["mac_addr"] and vif["fixed_ips"][0]["address"] == "10.2.0.77"
    shown = hub.compute.get_server(ctx, server["uuid"])
    assert "10.2.0.77" in [ip["ip_address"] for p in shown["ports"] for ip in p["fixed_ips"]]
    assert shown["security_groups"] == ["default"]
    assert hub.compute.get_interface(ctx, server["uuid"], view["port_id"]) == view
    actions = [a["action"] for a in hub.compute.list_instance_actions(ctx, server["uuid"])]
    assert actions[0] == "attach_interface"

    hub.compute.detach_interface(ctx, server["uuid"], view["port_id"])
    assert _agree(hub, ctx, server["uuid"]) == [first]
    with pytest.raises(nexc.PortNotFound):  # made for the server: deleted with the interface
        hub.network.get_port(ctx, view["port_id"])
    with pytest.raises(exception.NotFound):
        hub.compute.get_interface(ctx, server["uuid"], view["port_id"])
    assert objects.get_instance(server["uuid"])["system_metadata"]["interface_tags"] == {}  # its tag forgotten


def test_the_users_port_is_bound_then_unbound_and_not_shared(hub, ctx, nets):
    a = _boot(hub, ctx, nets["first"])
    b = _boot(hub, ctx, nets["first"])
    mine = hub.network.create_port(ctx, {"network_id": nets["second"], "name": "mine"})
    view = hub.compute.attach_interface(ctx, a["uuid"], port_id=mine["id"])
    assert view["port_id"] == mine["id"] and view["tag"] is None
    assert mine["id"] in _agree(hub, ctx, a["uuid"])
    with pytest.raises(nexc.PortInUse):  # in use by another server
        hub.compute.attach_interface(ctx, b["uuid"], port_id=mine["id"])
    with pytest.raises(exception.NotFound):  # not b's port
        hub.compute.detach_interface(ctx, b["uuid"], mine["id"])
    with pytest.raises(nexc.PortNotFound):
        hub.compute.attach_interface(ctx, b["uuid"], port_id="no-such-port")
    assert len(_agree(hub, ctx, b["uuid"])) == 1  # nothing left behind by the refusals
    hub.compute.detach_interface(ctx, a["uuid"], mine["id"])
    kept = hub.network.get_port(ctx, mine["id"])
    assert kept["device_id"] == "" and kept["binding:host_id"] == ""
    assert mine["id"] not in _agree(hub, ctx, a["uuid"])


def test_requests_refused_before_anything_is_made(hub, ctx, nets, admin_ctx):
    server = _boot(hub, ctx, nets["first"])
    with pytest.raises(exception.Invalid, match="both network_id and port_id"):
        hub.compute.attach_interface(ctx, server["uuid"], port_id="p", network_id=nets["second"])
    with pytest.raises(exception.Invalid, match="network_id when request IP"):
        hub.compute.attach_interface(ctx, server["uuid"], fixed_ip="10.2.0.5")
    with pytest.raises(exception.Invalid, match="Multiple possible networks"):
        hub.compute.attach_interface(ctx, server["uuid"])
    other = RequestContext(user_id="u2", project_id="p2", roles=["member", "reader"])
    with pytest.raises(exception.NotFound):  # another project's server
        hub.compute.attach_interface(other, server["uuid"], network_id=nets["second"])
    hub.compute.lock(admin_ctx, server["uuid"])
    with pytest.raises(exception.Conflict, match="locked"):
        hub.compute.attach_interface(ctx, server["uuid"], network_id=nets["second"])
    hub.compute.unlock(admin_ctx, server["uuid"])
    objects.update_instance(server["uuid"], {"vm_state": "error"})
    with pytest.raises(exception.Conflict, match="vm_state error"):
        hub.compute.attach_interface(ctx, server["uuid"], network_id=nets["second"])
    with pytest.raises(exception.Conflict, match="vm_state error"):
        hub.compute.detach_interface(ctx, server["uuid"], server["ports"][0]["id"])
    objects.update_instance(server["uuid"], {"vm_state": "building"})
    with pytest.raises(exception.Conflict, match="vm_state building"):
        hub.compute.attach_interface(ctx, server["uuid"], network_id=nets["second"])
    objects.update_instance(server["uuid"], {"vm_state": "active"})
    assert len(_agree(hub, ctx, server["uuid"])) == 1


def test_a_stopped_server_takes_an_interface(hub, ctx, nets):
    server = _boot(hub, ctx, nets["first"])
    hub.compute.stop(ctx, server["uuid"])
    wait_for(lambda: hub.compute.get_server(ctx, server["uuid"])["status"] == "SHUTOFF")
    view = hub.compute.attach_interface(ctx, server["uuid"], network_id=nets["second"])
    assert view["port_id"] in _agree(hub, ctx, server["uuid"])


def test_a_driver_failure_gives_the_port_back(hub, ctx, nets):
    server = _boot(hub, ctx, nets["first"])
    mine = hub.network.create_port(ctx, {"network_id": nets["second"]})
    hub.conf_fixture.set("fail_operations", ["attach_interface"], group="hypervisor_fake")
    before = {p["id"] for p in hub.network.list_ports(ctx)}
    with pytest.raises(InterfaceFailed, match="Injected failure") as err:
        hub.compute.attach_interface(ctx, server["uuid"], network_id=nets["second"])
    assert err.value.code == 500
    assert {p["id"] for p in hub.network.list_ports(ctx)} == before  # the new port is deleted again
    with pytest.raises(InterfaceFailed):
        hub.compute.attach_interface(ctx, server["uuid"], port_id=mine["id"])
    assert hub.network.get_port(ctx, mine["id"])["device_id"] == ""  # the user's port unbound again
    assert len(_agree(hub, ctx, server["uuid"])) == 1
    hub.conf_fixture.set("fail_operations", [], group="hypervisor_fake")
    assert hub.compute.attach_interface(ctx, server["uuid"], port_id=mine["id"])["port_id"] == mine["id"]


def test_legacy_fixed_ip_actions(hub, ctx, nets):
    server = _boot(hub, ctx, nets["first"])
    hub.compute.add_fixed_ip(ctx, server["uuid"], nets["second"])
    [added] = [i for i in hub.compute.list_interfaces(ctx, server["uuid"]) if i["net_id"] == nets["second"]]
    address = added["fixed_ips"][0]["ip_address"]
    assert address.startswith("10.2.0.")
    with pytest.raises(exception.Invalid, match="no interface with fixed IP"):
        hub.compute.remove_fixed_ip(ctx, server["uuid"], "10.9.9.9")
    hub.compute.remove_fixed_ip(ctx, server["uuid"], address)
    assert [i["net_id"] for i in hub.compute.list_interfaces(ctx, server["uuid"])] == [nets["first"]]
    assert len(_agree(hub, ctx, server["uuid"])) == 1


def test_remove_fixed_ip_keeps_a_port_holding_other_addresses(hub, ctx, nets):
    server = _boot(hub, ctx, nets["first"])
    two = hub.network.create_port(ctx, {"network_id": nets["second"], "fixed_ips": [
        {"ip_address": "10.2.0.21"}, {"ip_address": "10.2.0.22"}]})
    hub.compute.attach_interface(ctx, server["uuid"], port_id=two["id"])
    with pytest.raises(exception.Conflict, match="10.2.0.22; detach the port instead"):
        hub.compute.remove_fixed_ip(ctx, server["uuid"], "10.2.0.21")
    assert two["id"] in _agree(hub, ctx, server["uuid"])
