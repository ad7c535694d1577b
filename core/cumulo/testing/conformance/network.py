"""Conformance suite for network drivers (``cumulo.network``, NetworkDriver 3.0).

Subclass it in the plugin's tests and provide the driver instance::

    class TestMyDriver(NetworkDriverConformance):
        plugin_name = "mydriver"

        @pytest.fixture
        def driver(self):
            return MyDriver(PluginContext(CONF))

The suite runs the installed network area (``hub.network``, on a fresh SQLite
database, the ``cumulo_db`` fixture) with that driver behind a
:class:`Recorder`, so the driver receives the same records it gets in
production: a network with its subnets, ports with fixed IPs and bindings,
routers with interfaces, gateway and floating IPs, security groups with rules
and member ports. It checks that the records are those of the
:mod:`cumulo.interfaces.network.records` (and say what the topology is), that
each method accepts them, that calls are idempotent (the service may replay
them), that a delete of something unknown is not an error, that ``sync``
takes a whole :class:`~cumulo.interfaces.network.Model`, and that
``port_binding_vif`` returns a :class:`~cumulo.interfaces.network.VifBinding`.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from cumulo.context import RequestContext
from cumulo.contracts.network import InstancePort, RequestedNetwork
from cumulo.interfaces.network import (
    ACTIONS,
    VIF_TYPE_BRIDGE,
    FloatingIP,
    Model,
    Network,
    NetworkDriver,
    Port,
    Router,
    SecurityGroup,
    VifBinding,
)
from cumulo.testing.conformance import RegistryConformance

KNOWN_TYPES = {"flat", "vlan", "local", "vxlan", "gre", "geneve"}


class Recorder:
    """Stands in for the driver in the service: forwards every call to it and keeps ``(method, action, record)``."""

    def __init__(self, driver: NetworkDriver) -> None:
        self.driver = driver
        self.received: list[tuple[str, str, Any]] = []
        self._lock = threading.Lock()

    @property
    def supported_network_types(self) -> frozenset[str]:
        return self.driver.supported_network_types

    @property
    def dhcp_ports(self) -> bool:
        return self.driver.dhcp_ports

    def _forward(self, method: str, action: Any, record: Any) -> None:
        with self._lock:
            self.received.append((method, action, record))
        getattr(self.driver, method)(action, record)

    def last(self, method: str, resource_id: str) -> Any:
        """The last record ``method`` received for ``resource_id``."""
        with self._lock:
            found = [r for m, _, r in self.received if m == method and r.id == resource_id]
        assert found, f"{method} never received {resource_id}"
        return found[-1]

    def network_changed(self, action: Any, network: Any) -> None:
        self._forward("network_changed", action, network)

    def port_changed(self, action: Any, port: Any) -> None:
        self._forward("port_changed", action, port)

    def router_changed(self, action: Any, router: Any) -> None:
        self._forward("router_changed", action, router)

    def floatingip_changed(self, action: Any, fip: Any) -> None:
        self._forward("floatingip_changed", action, fip)

    def security_group_changed(self, action: Any, group: Any) -> None:
        self._forward("security_group_changed", action, group)

    def sync(self, model: Any) -> None:
        self.driver.sync(model)

    def port_binding_vif(self, port: Any, host: str) -> Any:
        return self.driver.port_binding_vif(port, host)


RECORD_OF = {"network_changed": Network, "port_changed": Port, "router_changed": Router,
             "floatingip_changed": FloatingIP, "security_group_changed": SecurityGroup}


class NetworkDriverConformance(RegistryConformance):
    kind: ClassVar[str] = "network"

    @pytest.fixture
    def driver(self) -> Any:
        raise NotImplementedError("subclasses provide the driver instance")

    @pytest.fixture
    def recorder(self, driver: Any) -> Recorder:
        return Recorder(driver)

    @pytest.fixture
    def service(self, cumulo_db: Any, recorder: Recorder) -> Any:
        from cumulo.conf import CONF
        from cumulo.testing.fixtures import FakeHub

        cumulo_db.set("driver", self.plugin_name, group="network")
        svc = FakeHub(CONF).get("network")  # the installed network area, whichever plugin provides it
        svc.driver = recorder
        return svc

    @pytest.fixture
    def ctx(self) -> RequestContext:
        return RequestContext(user_id="u", project_id="conformance", roles=["member", "reader"])

    @pytest.fixture
    def topology(self, service: Any, ctx: RequestContext) -> dict[str, Any]:
        """A private network behind a router to the default external network, a bound port with a floating IP.

        The server's port is made as compute makes it (the contract's ``allocate_instance_ports``);
        ``port`` is its API view, ``instance_port`` the contract's record.
        """
        service.ensure_defaults()
        public = next(n for n in service.list_networks(ctx) if n["router:external"])
        net = service.create_network(ctx, {"name": "conf-net"})
        subnet = service.create_subnet(ctx, {"network_id": net["id"], "cidr": "192.0.2.0/24", "ip_version": 4,
                                             "dns_nameservers": ["192.0.2.53"],
                                             "host_routes": [{"destination": "198.51.100.0/24",
                                                              "nexthop": "192.0.2.254"}]})
        router = service.create_router(ctx, {"name": "conf-router",
                                             "external_gateway_info": {"network_id": public["id"]}})
        service.add_router_interface(ctx, router["id"], {"subnet_id": subnet["id"]})
        [bound] = service.allocate_instance_ports(ctx, "conformance-instance", "conformance-host",
                                                  [RequestedNetwork(network_id=net["id"])], ["default"])
        assert isinstance(bound, InstancePort)
        assert (bound.instance_uuid, bound.host, bound.network_id) == ("conformance-instance", "conformance-host",
                                                                       net["id"])
        assert [ip.subnet_id for ip in bound.fixed_ips] == [subnet["id"]]
        fip = service.create_floatingip(ctx, {"floating_network_id": public["id"], "port_id": bound.id})
        return {"network": net, "subnet": subnet, "router": router, "port": service.get_port(ctx, bound.id),
                "instance_port": bound, "floatingip": fip, "public": public}

    def test_supported_network_types(self, driver: Any) -> None:
        types = set(driver.supported_network_types)
        assert types and types <= KNOWN_TYPES

    def test_the_driver_receives_records(self, recorder: Recorder, topology: dict[str, Any]) -> None:
        for method, action, record in recorder.received:
            assert action in ACTIONS
            assert isinstance(record, RECORD_OF[method]), f"{method} received {type(record).__name__}"
        net = recorder.last("network_changed", topology["network"]["id"])
        [subnet] = net.subnets
        assert (subnet.id, subnet.cidr, subnet.prefixlen, subnet.gateway_ip) == (
            topology["subnet"]["id"], "192.0.2.0/24", 24, "192.0.2.1")
        assert subnet.dns_nameservers == ("192.0.2.53",)
        assert [(r.destination, r.nexthop) for r in subnet.host_routes] == [("198.51.100.0/24", "192.0.2.254")]
        assert net.network_type in recorder.supported_network_types and not net.external

        port = recorder.last("port_changed", topology["port"]["id"])
        assert (port.host, port.device_id, port.network_id) == ("conformance-host", "conformance-instance",
                                                                net.id)
        assert [ip.subnet_id for ip in port.fixed_ips] == [subnet.id] and port.security_group_ids
        assert port.vif_type == topology["port"]["binding:vif_type"] == topology["instance_port"].vif_type

        router = recorder.last("router_changed", topology["router"]["id"])
        assert router.external_network_id == topology["public"]["id"] and router.enable_snat
        assert router.gateway is not None and router.gateway.fixed_ips
        [interface] = router.interfaces
        assert [(ip.ip_address, ip.cidr) for ip in interface.fixed_ips] == [("192.0.2.1", "192.0.2.0/24")]
        [nat] = router.floating_ips
        assert (nat.id, nat.port_id, nat.router_id) == (topology["floatingip"]["id"], port.id, router.id)
        fip = recorder.last("floatingip_changed", nat.id)
        assert fip.associated and fip.fixed_ip_address == port.fixed_ips[0].ip_address

    def test_full_lifecycle_leaves_nothing_in_error(self, service: Any, recorder: Recorder, ctx: RequestContext,
                                                    topology: dict[str, Any]) -> None:
        admin = ctx.elevated()
        assert service.get_network(admin, topology["network"]["id"])["status"] == "ACTIVE"
        assert service.get_router(admin, topology["router"]["id"])["status"] == "ACTIVE"
        assert service.get_port(admin, topology["port"]["id"])["status"] != "ERROR"
        [port] = service.instance_ports(ctx, "conformance-instance")
        assert port.id == topology["port"]["id"]
        assert [f.id for f in port.floating_ips] == [topology["floatingip"]["id"]]
        service.update_floatingip(ctx, topology["floatingip"]["id"], {"port_id": None})
        assert not recorder.last("floatingip_changed", topology["floatingip"]["id"]).associated
        service.delete_floatingip(ctx, topology["floatingip"]["id"])
        service.deallocate_for_instance(ctx, "conformance-instance")
        assert service.instance_ports(ctx, "conformance-instance") == []
        service.remove_router_interface(ctx, topology["router"]["id"], {"subnet_id": topology["subnet"]["id"]})
        service.delete_router(ctx, topology["router"]["id"])
        service.delete_network(ctx, topology["network"]["id"])
        assert service.list_ports(ctx, device_id="conformance-instance") == []
        deleted = {(m, r.id) for m, a, r in recorder.received if a == "delete"}
        assert {("floatingip_changed", topology["floatingip"]["id"]), ("port_changed", topology["port"]["id"]),
                ("router_changed", topology["router"]["id"]), ("network_changed", topology["network"]["id"])} <= deleted

    def test_security_group_changes(self, service: Any, recorder: Recorder, ctx: RequestContext,
                                    topology: dict[str, Any]) -> None:
        group = service.create_security_group(ctx, {"name": "web"})
        rule = service.create_security_group_rule(ctx, {"security_group_id": group["id"], "direction": "ingress",
                                                        "protocol": "tcp", "port_range_min": 80,
                                                        "port_range_max": 80, "remote_ip_prefix": "0.0.0.0/0"})
        service.add_security_group_to_instance(ctx, "conformance-instance", group["id"])
        assert "web" in [g.name for g in service.instance_security_groups(ctx, "conformance-instance")]
        received = recorder.last("security_group_changed", group["id"])
        assert received.port_ids == (topology["port"]["id"],)
        [allowed] = [r for r in received.rules if r.id == rule["id"]]
        assert (allowed.direction, allowed.ethertype, allowed.protocol, allowed.port_range_min,
                allowed.port_range_max, allowed.remote_ip_prefix) == ("ingress", "IPv4", "tcp", 80, 80, "0.0.0.0/0")
        assert group["id"] in recorder.last("port_changed", topology["port"]["id"]).security_group_ids
        service.remove_security_group_from_instance(ctx, "conformance-instance", group["id"])
        assert recorder.last("security_group_changed", group["id"]).port_ids == ()
        service.delete_security_group_rule(ctx, rule["id"])
        service.delete_security_group(ctx, group["id"])

    def test_calls_are_idempotent(self, service: Any, driver: Any, topology: dict[str, Any]) -> None:
        model = service.model_snapshot()
        assert isinstance(model, Model)
        for _ in range(2):
            for net in model.networks:
                driver.network_changed("create", net)
                driver.network_changed("update", net)
            for port in model.ports:
                driver.port_changed("update", port)
            for router in model.routers:
                driver.router_changed("update", router)
            for fip in model.floating_ips:
                driver.floatingip_changed("update", fip)
            for group in model.security_groups:
                driver.security_group_changed("update", group)

    def test_delete_of_unknown_is_not_an_error(self, service: Any, driver: Any, topology: dict[str, Any]) -> None:
        model = service.model_snapshot()
        port = dataclasses.replace(model.ports[0], id="00000000-0000-0000-0000-000000000000")
        driver.port_changed("delete", port)
        driver.port_changed("delete", port)
        net = dataclasses.replace(model.networks[0], id="00000000-0000-0000-0000-000000000001")
        driver.network_changed("delete", net)
        router = dataclasses.replace(model.routers[0], id="00000000-0000-0000-0000-000000000002")
        driver.router_changed("delete", router)

    def test_sync_takes_the_whole_model(self, service: Any, driver: Any, topology: dict[str, Any]) -> None:
        model = service.model_snapshot()
        assert isinstance(model, Model)
        assert {n.id for n in model.networks} >= {topology["network"]["id"], topology["public"]["id"]}
        assert topology["port"]["id"] in {p.id for p in model.ports}
        assert [r.id for r in model.routers] == [topology["router"]["id"]]
        assert [f.id for f in model.floating_ips] == [topology["floatingip"]["id"]]
        assert all(isinstance(g, SecurityGroup) for g in model.security_groups) and model.security_groups
        driver.sync(model)
        driver.sync(model)
        driver.sync(Model())

    def test_port_binding_vif(self, service: Any, driver: Any, topology: dict[str, Any]) -> None:
        [port] = [p for p in service.model_snapshot().ports if p.id == topology["port"]["id"]]
        vif = driver.port_binding_vif(port, "conformance-host")
        assert isinstance(vif, VifBinding) and isinstance(vif.vif_type, str) and vif.vif_type
        assert isinstance(vif.details, Mapping) and all(isinstance(k, str) for k in vif.details)
        if vif.vif_type == VIF_TYPE_BRIDGE and vif.details:
            assert isinstance(vif.details.get("bridge_name"), str)
        assert (port.vif_type, dict(port.vif_details)) == (vif.vif_type, dict(vif.details))


def run_parallel_ports(service: Any, ctx: RequestContext, count: int = 200, workers: int = 16) -> dict[str, Any]:
    """Create ``count`` ports in parallel on a subnet whose pool holds exactly ``count`` addresses,
    then one more. Returns ``{"addresses", "errors", "overflow_error"}`` for the caller to judge
    (used by the SQLite unit test and the PostgreSQL/MariaDB integration tests)."""
    import concurrent.futures

    import netaddr

    net = service.create_network(ctx, {"name": "race"})
    start = netaddr.IPAddress("10.77.0.0") + 10
    end = start + (count - 1)
    cidr = netaddr.spanning_cidr([start, end + 1])
    if cidr.prefixlen > 24:
        cidr = netaddr.IPNetwork(f"{cidr.network}/24")
    service.create_subnet(ctx, {"network_id": net["id"], "cidr": str(cidr),
                                "allocation_pools": [{"start": str(start), "end": str(end)}]})
    addresses: list[str] = []
    errors: list[BaseException] = []

    def one(_: int) -> None:
        try:
            port = service.create_port(ctx, {"network_id": net["id"]})
            addresses.append(port["fixed_ips"][0]["ip_address"])
        except BaseException as err:  # collected for the assertion message
            errors.append(err)

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(count)))
    overflow = None
    try:
        service.create_port(ctx, {"network_id": net["id"]})
    except Exception as err:
        overflow = err
    return {"addresses": addresses, "errors": errors, "overflow_error": overflow}
