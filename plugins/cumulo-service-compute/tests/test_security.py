"""Security: the metadata lookup by address, request validation before the 202, network
failures during a build reaching the fault (never a silent BUILD)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from cumulo import exception
from cumulo.context import RequestContext
from cumulo.contracts.network import FixedIP, InstancePort
from cumulo.testing.fixtures import FakeHub, running_compute, use_fake_hypervisor


# The network area's errors as the compute area sees them: kernel errors (NotFound, Conflict),
# here with the network area's names and messages, without importing another plugin.
class NetworkNotFound(exception.NotFound):
    msg_fmt = "Network %(id)s could not be found."


class PortNotFound(exception.NotFound):
    msg_fmt = "Port %(id)s could not be found."


class SecurityGroupNotFound(exception.NotFound):
    msg_fmt = "Security group %(id)s does not exist."


class PortInUse(exception.Conflict):
    msg_fmt = ("Unable to complete operation on port %(port_id)s for network %(net_id)s. "
               "Port already has an attached device %(device_id)s.")


class IpAddressGenerationFailure(exception.Conflict):
    msg_fmt = "No more IP addresses available on network %(net_id)s."


class FakeNetwork:
    """The compute contract of the network service, in memory, with failures on demand."""

    def __init__(self) -> None:
        self.ports: dict[str, list[InstancePort]] = {}
        self.fail_allocate: BaseException | None = None
        self.during_allocate: Any = None
        self.visible_groups = {"default", "web"}
        self._next = 10

    def validate_networks(self, ctx: RequestContext, requested: Any, num_instances: int = 1) -> int:
        for item in requested if isinstance(requested, list) else []:
            if item.network_id == "theirs":
                raise NetworkNotFound(id="theirs")
        return num_instances

    def validate_security_groups(self, ctx: RequestContext, groups: Sequence[str] | None) -> list[str]:
        for g in groups or []:
            if g not in self.visible_groups:
                raise SecurityGroupNotFound(id=g)
        return list(groups or [])

    def allocate_instance_ports(self, ctx: RequestContext, uuid: str, host: str, requested: Any,
                                security_groups: Sequence[str] | None = None,
                                availability_zone: str = "nova") -> list[InstancePort]:
        if self.during_allocate is not None:
            self.during_allocate(uuid)
        if self.fail_allocate is not None:
            raise self.fail_allocate
        self._next += 1
        port = InstancePort(id=f"port-{uuid[:8]}", network_id="n1", mac_address="fa:16:3e:00:00:01",
                            fixed_ips=(FixedIP(ip_address=f"10.0.0.{self._next}", subnet_id="s1", version=4),),
                            instance_uuid=uuid, host=host, mtu=1450, vif_type="bridge",
                            vif_details={"bridge_name": "brq-n1"})
        self.ports[uuid] = [port]
        return [port]

    def deallocate_for_instance(self, ctx: RequestContext, uuid: str) -> None:
        self.ports.pop(uuid, None)

    def instance_ports(self, ctx: RequestContext, uuid: str) -> list[InstancePort]:
        return list(self.ports.get(uuid, []))

    def instance_by_address(self, ctx: RequestContext, address: str, network_id: str | None = None) -> str | None:
        assert ctx.is_admin  # the lookup crosses projects: only the service itself may make it
        owners = [u for u, ports in self.ports.items() for p in ports if address in p.addresses()]
        return owners[0] if len(owners) == 1 else None


@pytest.fixture
def fake_net_hub(cumulo_db: Any) -> Iterator[Any]:
    """3 fake hosts and :class:`FakeNetwork` as the network service."""
    use_fake_hypervisor(cumulo_db)
    network = FakeNetwork()
    with running_compute(FakeHub(without=("image", "volume"), services={"network": network})) as hub:
        hub.fake_network = network  # the tests reach the double through the hub
        yield hub


@pytest.fixture
def net_hub(cumulo_db: Any) -> Iterator[Any]:
    """3 fake hosts and the real network service (noop driver)."""
    from cumulo import registry

    if "network" not in registry.names("service") or "noop" not in registry.names("network"):
        pytest.skip("the network area (cumulo-service-network) or its noop driver is not installed")
    use_fake_hypervisor(cumulo_db)
    cumulo_db.set("driver", "noop", group="network")
    with running_compute(FakeHub(without=("image", "volume"))) as hub:
        yield hub


def _final(hub: Any, ctx: RequestContext, uuid: str, timeout: float = 5.0) -> dict[str, Any]:
    """The server once ACTIVE or ERROR; fails if that takes longer than ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        server = hub.compute.get_server(ctx, uuid)
        if server["status"] in ("ACTIVE", "ERROR"):
            return server
        assert time.monotonic() < deadline, f"{uuid} still {server['status']}/{server['task_state']}"
        time.sleep(0.02)


# -- the metadata service's lookup by source address -----------------------------------

def test_metadata_lookup_by_address_with_a_fake_network(fake_net_hub, ctx):
    hub = fake_net_hub
    [a] = hub.compute.create_servers(ctx, name="a", image_ref="img", flavor_id="42")
    [b] = hub.compute.create_servers(ctx, name="b", image_ref="img", flavor_id="42")
    _final(hub, ctx, a["uuid"])
    _final(hub, ctx, b["uuid"])
    ip_a = hub.fake_network.ports[a["uuid"]][0].fixed_ips[0].ip_address
    ip_b = hub.fake_network.ports[b["uuid"]][0].fixed_ips[0].ip_address
    assert hub.compute.instance_for_metadata(remote_address=ip_a)["uuid"] == a["uuid"]
    found = hub.compute.instance_for_metadata(remote_address=ip_b)
    assert found["uuid"] == b["uuid"] and found["ports"][0]["fixed_ips"][0]["ip_address"] == ip_b
    for nobody in ("127.0.0.1", "10.9.9.9", "", None):
        with pytest.raises(exception.NotFound):
            hub.compute.instance_for_metadata(remote_address=nobody)
    # A deleted server's address no longer answers (its ports are gone with it).
    hub.compute.delete_server(ctx, a["uuid"])
    deadline = time.monotonic() + 5
    while a["uuid"] in hub.fake_network.ports and time.monotonic() < deadline:
        time.sleep(0.02)
    with pytest.raises(exception.NotFound):
        hub.compute.instance_for_metadata(remote_address=ip_a)


def test_metadata_lookup_by_address_with_the_network_service(net_hub):
    hub = net_hub
    mine = RequestContext(user_id="u1", project_id="p1", roles=["member", "reader"])
    theirs = RequestContext(user_id="u2", project_id="p2", roles=["member", "reader"])
    uuids = {}
    nets = {}
    for who in (mine, theirs):  # two projects, the same private range (and the same address)
        net = hub.network.create_network(who, {"name": "private"})
        hub.network.create_subnet(who, {"network_id": net["id"], "cidr": "10.1.0.0/24"})
        nets[who.project_id] = net["id"]
        [inst] = hub.compute.create_servers(who, name="vm", image_ref="img", flavor_id="42",
                                            networks=[{"uuid": net["id"], "fixed_ip": "10.1.0.50"}])
        uuids[who.project_id] = inst["uuid"]
        assert _final(hub, who, inst["uuid"])["status"] == "ACTIVE"
    # Ambiguous without the network: refused rather than guessed.
    with pytest.raises(exception.NotFound):
        hub.compute.instance_for_metadata(remote_address="10.1.0.50")
    for project, net_id in nets.items():
        assert hub.compute.instance_for_metadata(remote_address="10.1.0.50",
                                                 network_id=net_id)["uuid"] == uuids[project]
    hub.compute.delete_server(theirs, uuids["p2"])
    deadline = time.monotonic() + 5
    while hub.network.instance_ports(theirs, uuids["p2"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hub.compute.instance_for_metadata(remote_address="10.1.0.50")["uuid"] == uuids["p1"]
    assert hub.compute.instance_for_metadata(remote_address="::ffff:10.1.0.50")["uuid"] == uuids["p1"]
    # A port that is not a server's (here the user's own unbound port) identifies nobody.
    hub.network.create_port(mine, {"network_id": nets["p1"], "fixed_ips": [{"ip_address": "10.1.0.60"}]})
    for nobody in ("10.1.0.60", "127.0.0.1", "not-an-address"):
        with pytest.raises(exception.NotFound):
            hub.compute.instance_for_metadata(remote_address=nobody)
    with pytest.raises(exception.Forbidden):  # the network service's PolicyNotAuthorized
        hub.network.instance_by_address(mine, "10.1.0.50")


# -- validation before the 202 ---------------------------------------------------------

def test_security_group_the_user_cannot_see_is_400_and_nothing_is_left(net_hub):
    hub = net_hub
    mine = RequestContext(user_id="u1", project_id="p1", roles=["member", "reader"])
    theirs = RequestContext(user_id="u2", project_id="p2", roles=["member", "reader"])
    net = hub.network.create_network(mine, {"name": "n"})
    hub.network.create_subnet(mine, {"network_id": net["id"], "cidr": "10.2.0.0/24"})
    their_group = hub.network.create_security_group(theirs, {"name": "secret-group"})
    their_net = hub.network.create_network(theirs, {"name": "their-net"})
    hub.network.create_subnet(theirs, {"network_id": their_net["id"], "cidr": "10.3.0.0/24"})
    their_port = hub.network.create_port(theirs, {"network_id": their_net["id"]})
    for groups, networks, what in (
            ([their_group["id"]], "auto", their_group["id"]),
            (["secret-group"], "auto", "secret-group"),
            (["no-such-group"], [{"uuid": net["id"]}], "no-such-group"),
            (None, [{"uuid": their_net["id"]}], their_net["id"]),
            (None, [{"port": their_port["id"]}], their_port["id"]),
            (None, [{"uuid": "3f2d1c9e-0000-4000-8000-000000000000"}], "3f2d1c9e")):
        with pytest.raises(exception.Invalid, match=what) as err:
            hub.compute.create_servers(mine, name="sg", image_ref="img", flavor_id="42", networks=networks,
                                       security_groups=groups)
        assert err.value.code == 400
    assert hub.compute.list_servers(mine) == []
    assert hub.compute.quota_set(mine, "p1", detail=True)["instances"]["in_use"] == 0
    # The caller's own group, by name or id, and "default" are fine.
    web = hub.network.create_security_group(mine, {"name": "web"})
    for groups in (["web"], [web["id"]], ["default", "web"]):
        [inst] = hub.compute.create_servers(mine, name="ok", image_ref="img", flavor_id="42",
                                            networks=[{"uuid": net["id"]}], security_groups=groups)
        assert _final(hub, mine, inst["uuid"])["status"] == "ACTIVE"
        assert "web" in [g["name"] for g in hub.compute.security_groups(mine, inst["uuid"])]


def test_validation_with_a_fake_network(fake_net_hub, ctx):
    hub = fake_net_hub
    with pytest.raises(exception.Invalid, match="Security group theirs does not exist"):
        hub.compute.create_servers(ctx, name="x", image_ref="img", flavor_id="42", security_groups=["theirs"])
    with pytest.raises(exception.Invalid, match="Network theirs could not be found"):
        hub.compute.create_servers(ctx, name="x", image_ref="img", flavor_id="42", networks=[{"uuid": "theirs"}])
    assert hub.compute.list_servers(ctx) == []


# -- failures during network setup reach the fault, quickly ------------------------------

@pytest.mark.parametrize("error, text", [
    (SecurityGroupNotFound(id="gone-group"), "Security group gone-group does not exist"),
    (IpAddressGenerationFailure(net_id="n1"), "No more IP addresses available on network n1"),
    (PortInUse(port_id="p9", net_id="n1", device_id="other"), "p9"),
    (exception.Invalid(reason="Network n1 requires a subnet"), "requires a subnet"),
])
def test_network_setup_failure_is_the_servers_fault(fake_net_hub, ctx, error, text):
    hub = fake_net_hub
    hub.fake_network.fail_allocate = error
    started = time.monotonic()
    [inst] = hub.compute.create_servers(ctx, name="nf", image_ref="img", flavor_id="42")
    server = _final(hub, ctx, inst["uuid"], timeout=5)
    assert server["status"] == "ERROR" and server["task_state"] is None
    assert text in server["fault"]["message"] and "network setup" in server["fault"]["message"]
    assert time.monotonic() - started < 5
    # A client mistake is not retried elsewhere, and its fault shows no traceback.
    events = hub.compute.get_instance_action(ctx, inst["uuid"], hub.compute.list_instance_actions(
        ctx, inst["uuid"])[0]["request_id"])["events"]
    assert sum(1 for e in events if e["event"] == "compute__do_build_and_run_instance") == 1
    assert "Traceback" not in (server["fault"]["details"] or "")
    assert hub.fake_network.ports == {}


def test_unexpected_network_error_is_retried_then_the_fault(fake_net_hub, ctx):
    hub = fake_net_hub
    hub.fake_network.fail_allocate = RuntimeError("the network driver fell over")
    [inst] = hub.compute.create_servers(ctx, name="nf", image_ref="img", flavor_id="42")
    server = _final(hub, ctx, inst["uuid"], timeout=10)
    assert server["status"] == "ERROR"
    assert "the network driver fell over" in server["fault"]["message"]
    assert "fake-" not in server["fault"]["message"]  # the owner is not told host names


def test_server_deleted_during_network_setup_is_not_an_error(fake_net_hub, ctx):
    hub = fake_net_hub

    def delete_meanwhile(uuid: str) -> None:
        hub.fake_network.during_allocate = None
        hub.compute.delete_server(ctx, uuid)  # the host finishes it after this build gives up
        raise PortNotFound(id="vanished-with-the-server")

    hub.fake_network.during_allocate = delete_meanwhile
    [inst] = hub.compute.create_servers(ctx, name="gone", image_ref="img", flavor_id="42")
    deadline = time.monotonic() + 5
    while hub.compute.list_servers(ctx) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hub.compute.list_servers(ctx) == []
    from cumulo_service_compute import objects

    assert objects.latest_faults([inst["uuid"]]) == {}
