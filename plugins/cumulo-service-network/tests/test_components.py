"""The network service is composed of components with explicit dependencies.

``hub.network.<method>`` reaches the component that owns the method; the
components get what they need from the service (no mixins, no component
reaching another through ``self``); the helpers they share are leaf modules.
"""

from __future__ import annotations

import ast
import importlib
import inspect

import cumulo_service_network.manager as manager
import pytest
from cumulo_service_network.instances import Instances
from cumulo_service_network.l3 import L3
from cumulo_service_network.networks import Networks
from cumulo_service_network.ports import Ports
from cumulo_service_network.quotas import Quotas
from cumulo_service_network.secgroups import SecurityGroups
from cumulo_service_network.subnets import Subnets
from cumulo_service_network.tags import Tags

from cumulo import exception

COMPONENTS = (Networks, Subnets, Ports, L3, SecurityGroups, Quotas, Tags, Instances)

#: Every public method ``hub.network`` offers, component by component (the service's own last).
PUBLIC = {
    "list_networks", "get_network", "create_network", "update_network", "delete_network",
    "list_subnets", "get_subnet", "create_subnet", "update_subnet", "delete_subnet",
    "list_subnetpools", "get_subnetpool", "create_subnetpool", "update_subnetpool", "delete_subnetpool",
    "list_ports", "get_port", "create_port", "update_port", "delete_port",
    "list_network_ip_availabilities", "get_network_ip_availability", "network_summaries",
    "list_routers", "get_router", "create_router", "update_router", "delete_router", "add_router_interface",
    "remove_router_interface", "list_floatingips", "get_floatingip", "create_floatingip", "update_floatingip",
    "delete_floatingip", "floating_ips",
    "ensure_default_security_group", "list_security_groups", "get_security_group", "create_security_group",
    "update_security_group", "delete_security_group", "list_security_group_rules", "get_security_group_rule",
    "create_security_group_rule", "delete_security_group_rule",
    "default_quotas", "list_quotas", "get_quota", "get_quota_details", "update_quota", "delete_quota",
    "get_tags", "replace_tags", "add_tag", "has_tag", "remove_tag",
    "validate_networks", "validate_security_groups", "instance_by_address", "allocate_instance_ports",
    "attach_instance_port", "detach_instance_port",
    "deallocate_for_instance", "instance_ports", "add_security_group_to_instance",
    "remove_security_group_from_instance", "instance_security_groups", "get_auto_allocated_topology",
    "delete_auto_allocated_topology",
    "model_snapshot", "sync_driver", "ensure_defaults",
}
#: The untyped instance calls the contract's records replaced: no longer offered.
RETIRED = ("allocate_for_instance", "get_instance_nw_info", "list_instance_security_groups")


def test_the_service_offers_every_public_method(service):
    for name in PUBLIC:
        assert callable(getattr(service, name)), name
    assert PUBLIC <= set(dir(service))
    with pytest.raises(AttributeError):
        service.no_such_method  # noqa: B018
    for name in RETIRED:
        assert not hasattr(service, name), name


def test_each_component_lists_exactly_its_public_methods():
    offered: list[str] = []
    for component in COMPONENTS:
        public = {n for n, v in vars(component).items() if callable(v) and not n.startswith("_")}
        assert set(component.API) <= public, component
        offered += component.API
    assert len(offered) == len(set(offered)), "a method offered by two components"
    assert set(offered) | {"model_snapshot", "sync_driver", "ensure_defaults"} == PUBLIC


def test_a_replaced_driver_is_the_one_every_component_calls(service, demo):
    calls = []

    class Recorder:
        supported_network_types = ("local", "flat", "vlan", "vxlan")

        def __getattr__(self, name):
            return lambda *args: calls.append(name)

    service.driver = Recorder()
    assert service.dataplane.driver is service.driver
    net = service.create_network(demo, {"name": "n"})
    service.create_security_group(demo, {"name": "g"})
    service.create_router(demo, {"name": "r"})
    assert {"network_changed", "security_group_changed", "router_changed"} <= set(calls)
    assert service.get_network(demo, net["id"])["status"] == "ACTIVE"


@pytest.mark.parametrize("name", ["networks", "subnets", "ports", "l3", "secgroups", "quotas", "tags", "instances",
                                  "dataplane", "driver_records", "views", "common", "ipam", "policies", "records",
                                  "manager", "area"])
def test_no_module_imports_the_package_back(name):
    """``from cumulo_service_network import x`` would read the package: modules name their targets."""
    module = importlib.import_module(f"cumulo_service_network.{name}")
    tree = ast.parse(inspect.getsource(module))
    froms = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert "cumulo_service_network" not in froms
    assert "cumulo.services" not in froms


def test_components_are_given_their_dependencies():
    params = {c.__name__: list(inspect.signature(c.__init__).parameters)[1:] if "__init__" in vars(c) else []
              for c in COMPONENTS}
    assert params == {
        "Networks": ["conf", "dataplane", "quotas"],
        "Subnets": ["dataplane", "quotas"],
        "Ports": ["dataplane", "quotas", "security_groups"],
        "L3": ["dataplane", "quotas"],
        "SecurityGroups": ["dataplane", "quotas"],
        "Quotas": ["conf"],
        "Tags": [],
        "Instances": ["conf", "networks", "subnets", "ports", "l3", "security_groups", "quotas", "dataplane"],
    }
    assert manager.Service.__mro__ == (manager.Service, object)


# -- client mistakes that used to crash (nexc.conflict did not exist): now 409 ------------------


def test_a_second_default_security_group_is_a_conflict(service, demo):
    with pytest.raises(exception.Conflict, match="Default security group already exists"):
        service.create_security_group(demo, {"name": "default"})
    group = service.create_security_group(demo, {"name": "g"})
    with pytest.raises(exception.Conflict, match="Default security group already exists"):
        service.update_security_group(demo, group["id"], {"name": "default"})
    default = next(g for g in service.list_security_groups(demo) if g["name"] == "default")
    with pytest.raises(exception.Conflict, match="Updating default security group not allowed"):
        service.update_security_group(demo, default["id"], {"name": "other"})


def test_an_exhausted_subnet_pool_is_a_conflict(service, admin, demo):
    pool = service.create_subnetpool(admin, {"name": "p", "prefixes": ["10.9.0.0/24"], "default_prefixlen": 24,
                                             "shared": True})
    net = service.create_network(demo, {"name": "n"})
    service.create_subnet(demo, {"network_id": net["id"], "subnetpool_id": pool["id"]})
    with pytest.raises(exception.Conflict, match="Insufficient prefix space"):
        service.create_subnet(demo, {"network_id": net["id"], "subnetpool_id": pool["id"]})
