"""The noop driver: passes the conformance suite and sees every change the service makes."""

from __future__ import annotations

import pytest
from cumulo_network_noop.driver import NoopDriver

from cumulo.conf import CONF
from cumulo.context import RequestContext
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.network import FloatingIP, Network, Port, Router, SecurityGroup
from cumulo.testing.conformance.network import NetworkDriverConformance


class TestNoopConformance(NetworkDriverConformance):
    plugin_name = "noop"

    @pytest.fixture
    def driver(self):
        return NoopDriver(PluginContext(CONF))


@pytest.fixture
def svc(cumulo_db):
    from cumulo.services import ServiceHub

    cumulo_db.set("driver", "noop", group="network")
    return ServiceHub().network


CTX = RequestContext(user_id="u", project_id="p", roles=["member"])


def test_service_loads_noop_by_default(svc):
    assert isinstance(svc.driver, NoopDriver)


def test_every_change_reaches_the_driver(svc):
    d = svc.driver
    svc.ensure_defaults()
    public = next(n for n in svc.list_networks(CTX) if n["router:external"])
    net = svc.create_network(CTX, {"name": "n"})
    assert d.calls_for(net["id"]) == [("network_changed", "create")]
    sub = svc.create_subnet(CTX, {"network_id": net["id"], "cidr": "10.1.0.0/24"})
    assert d.calls_for(net["id"])[-1] == ("network_changed", "update")
    assert [x.id for x in d.model["networks"][net["id"]].subnets] == [sub["id"]]
    svc.update_network(CTX, net["id"], {"name": "renamed"})
    assert d.model["networks"][net["id"]].name == "renamed"

    port = svc.create_port(CTX, {"network_id": net["id"]})
    assert d.calls_for(port["id"]) == [("port_changed", "create")]
    bound = svc.update_port(CTX.elevated(), port["id"], {"binding:host_id": "h1"})
    assert bound["binding:host_id"] == "h1" and bound["status"] == "ACTIVE"
    recorded = d.model["ports"][port["id"]]
    assert isinstance(recorded, Port) and recorded.host == "h1" and recorded.vif_type == "other"
    assert dict(recorded.vif_details) == bound["binding:vif_details"] == {"driver": "noop"}

    router = svc.create_router(CTX, {"name": "r", "external_gateway_info": {"network_id": public["id"]}})
    assert d.calls_for(router["id"]) == [("router_changed", "create")]
    gateway = d.model["routers"][router["id"]]
    assert isinstance(gateway, Router) and gateway.external_network_id == public["id"]
    assert gateway.gateway is not None and gateway.gateway.network_id == public["id"]
    svc.add_router_interface(CTX, router["id"], {"subnet_id": sub["id"]})
    assert d.calls_for(router["id"])[-1] == ("router_changed", "update")
    routed = d.model["routers"][router["id"]]
    assert isinstance(routed, Router)
    [interface] = routed.interfaces
    assert [(ip.ip_address, ip.cidr, ip.prefixlen) for ip in interface.fixed_ips] == [("10.1.0.1", "10.1.0.0/24", 24)]

    fip = svc.create_floatingip(CTX, {"floating_network_id": public["id"]})
    assert d.calls_for(fip["id"]) == [("floatingip_changed", "create")]
    svc.update_floatingip(CTX, fip["id"], {"port_id": port["id"]})
    floating = d.model["floating_ips"][fip["id"]]
    assert isinstance(floating, FloatingIP) and floating.associated
    assert floating.fixed_ip_address == port["fixed_ips"][0]["ip_address"]
    routed = d.model["routers"][router["id"]]
    assert isinstance(routed, Router) and [f.id for f in routed.floating_ips] == [fip["id"]]

    sg = svc.create_security_group(CTX, {"name": "web"})
    assert d.calls_for(sg["id"]) == [("security_group_changed", "create")]
    svc.create_security_group_rule(CTX, {"security_group_id": sg["id"], "direction": "ingress",
                                         "protocol": "tcp", "port_range_min": 22, "port_range_max": 22})
    group = d.model["security_groups"][sg["id"]]
    assert isinstance(group, SecurityGroup) and len(group.rules) == 3
    assert ("ingress", "tcp", 22, 22) in [(r.direction, r.protocol, r.port_range_min, r.port_range_max)
                                          for r in group.rules]

    svc.delete_floatingip(CTX, fip["id"])
    assert fip["id"] not in d.model["floating_ips"]
    svc.delete_port(CTX, port["id"])
    assert d.calls_for(port["id"])[-1] == ("port_changed", "delete")
    svc.remove_router_interface(CTX, router["id"], {"subnet_id": sub["id"]})
    svc.delete_router(CTX, router["id"])
    assert d.calls_for(router["id"])[-1] == ("router_changed", "delete")
    svc.delete_network(CTX, net["id"])
    assert d.calls_for(net["id"])[-1] == ("network_changed", "delete")
    assert net["id"] not in d.model["networks"]
    svc.delete_security_group(CTX, sg["id"])
    assert d.calls_for(sg["id"])[-1] == ("security_group_changed", "delete")


def test_driver_failure_marks_error_and_keeps_model(svc, monkeypatch):
    def boom(action, resource):
        raise RuntimeError("data plane down")

    monkeypatch.setattr(svc.driver, "network_changed", boom)
    net = svc.create_network(CTX, {"name": "n"})
    assert svc.get_network(CTX, net["id"])["status"] == "ERROR"


def test_sync_at_start_replays_model(svc):
    from cumulo.services import installed_areas

    svc.ensure_defaults()
    svc.create_network(CTX, {"name": "n"})

    class Hub:
        def get(self, area):
            return svc

    installed_areas()["network"].start(Hub())  # what a node starts for the area
    assert svc.driver.synced == 1
    assert {n.name for n in svc.driver.model["networks"].values() if isinstance(n, Network)} == {"public", "n"}
