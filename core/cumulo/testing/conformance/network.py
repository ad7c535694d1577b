"""Conformance suite for network drivers (``cumulo.network``).

Subclass it in the plugin's tests and provide the driver instance::

    class TestMyDriver(NetworkDriverConformance):
        plugin_name = "mydriver"

        @pytest.fixture
        def driver(self):
            return MyDriver(PluginContext(CONF))

The suite runs the installed network area (``hub.network``, on a fresh SQLite
database, the ``cumulo_db`` fixture) with that driver, so the driver receives the same
resource dicts it gets in production: a network with its subnets, ports with
fixed IPs and bindings, routers with interfaces, gateway and floating IPs,
security groups with rules and member ports. It checks that each method
accepts them, that calls are idempotent (the service may replay them), that a
delete of something unknown is not an error, and that ``sync`` takes a whole
model.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from cumulo.context import RequestContext
from cumulo.contracts.network import InstancePort, RequestedNetwork
from cumulo.testing.conformance import RegistryConformance

KNOWN_TYPES = {"flat", "vlan", "local", "vxlan", "gre", "geneve"}


class NetworkDriverConformance(RegistryConformance):
    kind: ClassVar[str] = "network"

    @pytest.fixture
    def driver(self) -> Any:
        raise NotImplementedError("subclasses provide the driver instance")

    @pytest.fixture
    def service(self, cumulo_db: Any, driver: Any) -> Any:
        from cumulo.conf import CONF
        from cumulo.testing.fixtures import FakeHub

        cumulo_db.set("driver", self.plugin_name, group="network")
        svc = FakeHub(CONF).get("network")  # the installed network area, whichever plugin provides it
        svc.driver = driver
        return svc

    @pytest.fixture
    def ctx(self) -> RequestContext:
        return RequestContext(user_id="u", project_id="conformance", roles=["member", "reader"])

    @pytest.fixture
    def topology(self, service: Any, ctx: RequestContext) -> dict[str, Any]:
        """A private network behind a router to the default external network, a bound port with a floating IP.

        The server's port is made as compute makes it (the contract's ``allocate_instance_ports``);
        ``port`` is its API view (what the driver is handed), ``instance_port`` the record.
        """
        service.ensure_defaults()
        public = next(n for n in service.list_networks(ctx) if n["router:external"])
        net = service.create_network(ctx, {"name": "conf-net"})
        subnet = service.create_subnet(ctx, {"network_id": net["id"], "cidr": "192.0.2.0/24", "ip_version": 4})
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

    def test_full_lifecycle_leaves_nothing_in_error(self, service: Any, ctx: RequestContext,
                                                    topology: dict[str, Any]) -> None:
        admin = ctx.elevated()
        assert service.get_network(admin, topology["network"]["id"])["status"] == "ACTIVE"
        assert service.get_router(admin, topology["router"]["id"])["status"] == "ACTIVE"
        assert service.get_port(admin, topology["port"]["id"])["status"] != "ERROR"
        [port] = service.instance_ports(ctx, "conformance-instance")
        assert port.id == topology["port"]["id"]
        assert [f.id for f in port.floating_ips] == [topology["floatingip"]["id"]]
        service.update_floatingip(ctx, topology["floatingip"]["id"], {"port_id": None})
        service.delete_floatingip(ctx, topology["floatingip"]["id"])
        service.deallocate_for_instance(ctx, "conformance-instance")
        assert service.instance_ports(ctx, "conformance-instance") == []
        service.remove_router_interface(ctx, topology["router"]["id"], {"subnet_id": topology["subnet"]["id"]})
        service.delete_router(ctx, topology["router"]["id"])
        service.delete_network(ctx, topology["network"]["id"])
        assert service.list_ports(ctx, device_id="conformance-instance") == []

    def test_security_group_changes(self, service: Any, ctx: RequestContext, topology: dict[str, Any]) -> None:
        group = service.create_security_group(ctx, {"name": "web"})
        rule = service.create_security_group_rule(ctx, {"security_group_id": group["id"], "direction": "ingress",
                                                        "protocol": "tcp", "port_range_min": 80,
                                                        "port_range_max": 80, "remote_ip_prefix": "0.0.0.0/0"})
        service.add_security_group_to_instance(ctx, "conformance-instance", group["id"])
        assert "web" in [g.name for g in service.instance_security_groups(ctx, "conformance-instance")]
        service.remove_security_group_from_instance(ctx, "conformance-instance", group["id"])
        service.delete_security_group_rule(ctx, rule["id"])
        service.delete_security_group(ctx, group["id"])

    def test_calls_are_idempotent(self, service: Any, driver: Any, topology: dict[str, Any]) -> None:
        model = service.model_snapshot()
        for _ in range(2):
            for net in model["networks"]:
                driver.network_changed("create", net)
                driver.network_changed("update", net)
            for port in model["ports"]:
                driver.port_changed("update", port)
            for router in model["routers"]:
                driver.router_changed("update", router)
            for fip in model["floatingips"]:
                driver.floatingip_changed("update", fip)
            for group in model["security_groups"]:
                driver.security_group_changed("update", group)

    def test_delete_of_unknown_is_not_an_error(self, service: Any, driver: Any, topology: dict[str, Any]) -> None:
        model = service.model_snapshot()
        port = dict(model["ports"][0], id="00000000-0000-0000-0000-000000000000")
        driver.port_changed("delete", port)
        driver.port_changed("delete", port)
        net = dict(model["networks"][0], id="00000000-0000-0000-0000-000000000001")
        driver.network_changed("delete", net)

    def test_sync_takes_the_whole_model(self, service: Any, driver: Any, topology: dict[str, Any]) -> None:
        model = service.model_snapshot()
        assert {"networks", "ports", "routers", "floatingips", "security_groups"} <= set(model)
        driver.sync(model)
        driver.sync(model)
        driver.sync({k: [] for k in model})

    def test_port_binding_vif(self, driver: Any, topology: dict[str, Any]) -> None:
        vif = driver.port_binding_vif(topology["port"], "conformance-host")
        assert isinstance(vif, dict) and isinstance(vif.get("vif_type"), str) and vif["vif_type"]
        assert isinstance(vif.get("vif_details", {}), dict)


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
