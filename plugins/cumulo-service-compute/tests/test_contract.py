"""``hub.compute`` implements the kernel contract ``cumulo.contracts.compute`` and answers its views.

The static half is at the end of ``cumulo_service_compute.service`` (mypy checks the
bindings against :class:`ComputeService`: types, arity, keyword-only names). Here, the
run-time half: the protocol and the service have the same public methods, with the same
parameter names, kinds and defaults (which mypy does not compare for positional
parameters), and the dicts the components build have the keys of the views they are
typed as (which mypy cannot see: the components return ``dict[str, Any]``).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import pytest
from cumulo_service_compute.area import ComputeArea
from cumulo_service_compute.service import Service

import cumulo.contracts.compute as contract
from cumulo import registry
from cumulo.conf import CONF
from cumulo.contracts.compute import ComputeService

#: The per-resource protocols ComputeService is composed of (FlavorService, ServerService...).
PARTS = [base for base in ComputeService.__bases__ if base is not Protocol]
#: Every method of the contract: ComputeService declares none itself, its parts declare them.
PROTOCOL_MEMBERS = sorted(n for n, v in inspect.getmembers(ComputeService, inspect.isfunction)
                          if not n.startswith("_"))


def _own_methods(protocol: type) -> set[str]:
    return {n for n, v in vars(protocol).items() if inspect.isfunction(v) and not n.startswith("_")}


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    """A service built on no hub: enough to read its bindings (nothing is called)."""
    # Module-scoped, so before any cumulo_db fixture: the area's options ([compute]) are registered here.
    registry.register_plugin_opts(ComputeArea, CONF)
    svc = Service(hub=None)
    yield svc
    svc.shutdown()


def _service_members(svc: Service) -> set[str]:
    """The public flat methods of ``hub.compute``: the components' bound methods and the class's own."""
    bound = {n for n, v in vars(svc).items() if inspect.ismethod(v) and not n.startswith("_")}
    own = {n for n, v in vars(Service).items() if inspect.isfunction(v) and not n.startswith("_")}
    return bound | own


def _params(sig: inspect.Signature) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


def test_the_service_is_a_compute_service(service: Service) -> None:
    checked: ComputeService = service  # checked by mypy too (this function is typed)
    assert isinstance(checked, ComputeService)


def test_each_method_is_declared_by_one_part_only() -> None:
    # A method declared in two parts would be one in ComputeService (the MRO's first), the other unchecked.
    declared: dict[str, str] = {}
    for part in PARTS:
        assert getattr(contract, part.__name__) is part, f"{part.__name__} is not exported by the contract"
        for name in _own_methods(part):
            assert name not in declared, f"{name} is declared by {declared[name]} and {part.__name__}"
            declared[name] = part.__name__
    assert sorted(declared) == PROTOCOL_MEMBERS
    assert _own_methods(ComputeService) == set()


def test_the_service_is_each_part(service: Service) -> None:
    for part in PARTS:
        assert isinstance(service, part), part.__name__


def test_the_protocol_and_the_service_have_the_same_methods(service: Service) -> None:
    members = _service_members(service)
    assert set(PROTOCOL_MEMBERS) - members == set(), "in the protocol, not on hub.compute"
    assert members - set(PROTOCOL_MEMBERS) == set(), "on hub.compute, not in the protocol"


@pytest.mark.parametrize("name", PROTOCOL_MEMBERS)
def test_each_method_has_the_protocols_parameters(service: Service, name: str) -> None:
    wanted = inspect.signature(getattr(ComputeService, name))
    got = inspect.signature(getattr(service, name))  # bound: no ``self``
    assert _params(got) == _params(wanted)[1:]
    doc = getattr(ComputeService, name).__doc__
    assert doc and doc.strip(), f"{name} has no docstring in the protocol"


# -- the dicts have the views' keys ----------------------------------------------------------------


def assert_view(view: Any, answer: Mapping[str, Any]) -> None:
    """Every required key of TypedDict ``view`` is in ``answer``, and no key the view does not name."""
    keys = set(answer)
    missing = sorted(view.__required_keys__ - keys)
    unknown = sorted(keys - view.__required_keys__ - view.__optional_keys__)
    assert not missing and not unknown, f"{view.__name__}: missing {missing}, not in the view {unknown}"


def test_flavor_keypair_group_and_quota_answers_are_their_views(compute_hub, ctx, admin_ctx) -> None:
    api = compute_hub.compute
    flavor = api.create_flavor(admin_ctx, name="private", vcpus=1, ram=64, disk=1, is_public=False)
    assert_view(contract.FlavorView, flavor)
    for f in api.list_flavors(admin_ctx, is_public=None):
        assert_view(contract.FlavorView, f)
    [access] = api.add_flavor_access(admin_ctx, flavor["id"], "p1")
    assert_view(contract.FlavorAccessView, access)

    generated = api.create_keypair(ctx, "k1")
    assert_view(contract.KeypairView, generated)
    assert "private_key" in generated and "private_key" not in api.get_keypair(ctx, "k1")
    assert_view(contract.KeypairView, api.get_keypair(ctx, "k1"))

    assert_view(contract.ServerGroupView, api.create_server_group(ctx, "g", "anti-affinity"))
    for usage in api.quota_set(ctx, "p1", detail=True).values():
        assert_view(contract.QuotaUsageView, usage)


def test_server_answers_are_server_views(compute_hub, ctx, admin_ctx, waiter) -> None:
    api = compute_hub.compute
    [created] = api.create_servers(ctx, name="vm", image_ref="img-1", flavor_id="42")
    assert_view(contract.ServerView, created)  # not decorated: the optional keys may be missing
    uuid = created["uuid"]
    waiter(lambda: api.get_server(ctx, uuid)["status"] in ("ACTIVE", "ERROR"))
    server = api.get_server(ctx, uuid)
    assert_view(contract.ServerView, server)
    assert contract.ServerView.__optional_keys__ <= set(server)  # decorated
    assert_view(contract.ServerFlavorView, server["flavor"])
    for s in api.list_servers(ctx):
        assert_view(contract.ServerView, s)
    assert_view(contract.ServerView, api.instance_for_metadata(instance_uuid=uuid))
    for group in api.security_groups(ctx, uuid):  # no network service: the names it was created with
        assert_view(contract.ServerSecurityGroupView, group)
    assert_view(contract.ConsoleView, api.remote_console(ctx, uuid, "novnc"))
    [action] = api.list_instance_actions(ctx, uuid)
    assert_view(contract.InstanceActionView, action)
    detail = api.get_instance_action(ctx, uuid, action["request_id"])
    assert_view(contract.InstanceActionView, detail)
    for event in detail["events"]:
        assert_view(contract.InstanceActionEventView, event)
    rebuilt, password = api.rebuild(ctx, uuid, "img-1")
    assert_view(contract.ServerView, rebuilt)
    assert isinstance(password, str)


def test_host_and_aggregate_answers_are_their_views(compute_hub, admin_ctx) -> None:
    api = compute_hub.compute
    hypervisors = api.list_hypervisors(admin_ctx)
    assert hypervisors
    for h in hypervisors:
        assert_view(contract.HypervisorView, h)
    assert_view(contract.HypervisorView, api.get_hypervisor(admin_ctx, hypervisors[0]["id"]))
    for s in api.hypervisor_servers(admin_ctx, hypervisors[0]["host"]):
        assert_view(contract.HypervisorServerView, s)
    for s in api.list_services(admin_ctx):
        assert_view(contract.ServiceView, s)
    host = hypervisors[0]["host"]
    assert_view(contract.ServiceView, api.set_service(admin_ctx, host=host, binary="cumulo-compute", disabled=False))
    for zone in api.availability_zones(admin_ctx, detail=True):
        assert_view(contract.AvailabilityZoneView, zone)
        for services in (zone["hosts"] or {}).values():
            for svc in services.values():
                assert_view(contract.ZoneServiceView, svc)
    agg = api.create_aggregate(admin_ctx, "agg", availability_zone="az1")
    assert_view(contract.AggregateView, agg)
    assert_view(contract.AggregateView, api.aggregate_add_host(admin_ctx, agg["id"], host))
    for a in api.list_aggregates(admin_ctx):
        assert_view(contract.AggregateView, a)
