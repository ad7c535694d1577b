"""The hosts call the network area through its typed contract, and the driver gets the ports as VIFs.

The fake hypervisor records the VIFs it was given (``interfaces`` of its instance
record): the port's MAC, fixed IPs, network, MTU, bridge and device name must be
there, on a build and again when a resize plugs the instance on another host.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import cumulo_service_compute.virt as virt
import pytest
from cumulo_service_compute.common import network_request

from cumulo.context import RequestContext
from cumulo.contracts.network import FixedIP, FloatingIP, InstancePort, RequestedNetwork, SecurityGroup
from cumulo.testing.fixtures import FakeHub, running_compute, use_fake_hypervisor


class RecordingNetwork:
    """The network contract in memory: one port per server, with an MTU and a bridge; records the requests."""

    def __init__(self) -> None:
        self.ports: dict[str, list[InstancePort]] = {}
        self.requests: list[Any] = []
        self.validated: list[Any] = []
        self._next = 10

    def validate_networks(self, ctx: RequestContext, requested: Any, num_instances: int = 1) -> int:
        self.validated.append(requested)
        return num_instances

    def validate_security_groups(self, ctx: RequestContext, groups: Sequence[str] | None) -> list[str]:
        return list(groups or [])

    def allocate_instance_ports(self, ctx: RequestContext, uuid: str, host: str, requested: Any,
                                security_groups: Sequence[str] | None = None,
                                availability_zone: str = "nova") -> list[InstancePort]:
        self.requests.append(requested)
        self._next += 1
        port = InstancePort(
            id=f"port-{uuid}", network_id="net-1", network_name="private", mac_address=f"fa:16:3e:00:00:{self._next}",
            fixed_ips=(FixedIP(ip_address=f"10.0.0.{self._next}", subnet_id="sub-4", version=4, prefixlen=24,
                               gateway="10.0.0.1", dns_nameservers=("10.0.0.53",)),
                       FixedIP(ip_address=f"fd00::{self._next}", subnet_id="sub-6", version=6)),
            floating_ips=(FloatingIP(id="fip-1", floating_ip_address="172.24.4.9", floating_network_id="public",
                                     project_id="p1", fixed_ip_address=f"10.0.0.{self._next}", port_id=f"port-{uuid}",
                                     status="ACTIVE"),),
            instance_uuid=uuid, host=host, status="ACTIVE", mtu=1442, vif_type="bridge",
            vif_details={"bridge_name": "brq-net-1"})
        self.ports[uuid] = [port]
        return [port]

    def deallocate_for_instance(self, ctx: RequestContext, uuid: str) -> None:
        self.ports.pop(uuid, None)

    def instance_ports(self, ctx: RequestContext, uuid: str) -> list[InstancePort]:
        return list(self.ports.get(uuid, []))

    def instance_security_groups(self, ctx: RequestContext, uuid: str) -> list[SecurityGroup]:
        return [SecurityGroup(id="sg-1", name="default", project_id="p1")]

    def instance_by_address(self, ctx: RequestContext, address: str, network_id: str | None = None) -> str | None:
        return next((u for u, ports in self.ports.items() for p in ports if address in p.addresses()), None)


@pytest.fixture
def recording_hub(cumulo_db: Any) -> Iterator[Any]:
    use_fake_hypervisor(cumulo_db)
    network = RecordingNetwork()
    with running_compute(FakeHub(without=("image", "volume"), services={"network": network})) as hub:
        hub.recording_network = network
        yield hub


def _wait(hub: Any, ctx: RequestContext, uuid: str, status: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        server = hub.compute.get_server(ctx, uuid)
        if server["status"] in (status, "ERROR"):
            assert server["status"] == status, server.get("fault")
            return server
        assert time.monotonic() < deadline, f"{uuid} still {server['status']}/{server['task_state']}"
        time.sleep(0.02)


def _plugged(hub: Any, server: dict[str, Any]) -> dict[str, Any]:
    manager = next(m for m in hub.compute_hosts.managers if m.host == server["host"])
    record = manager.driver.get_instance(server["uuid"])
    assert record is not None
    return record["interfaces"]


def _assert_vif(vif: dict[str, Any], port: InstancePort) -> None:
    assert vif["id"] == port.id and vif["network_id"] == "net-1"
    assert vif["mac_address"] == port.mac_address
    assert vif["mtu"] == 1442
    assert [(ip["address"], ip["subnet_id"], ip["version"]) for ip in vif["fixed_ips"]] == [
        (ip.ip_address, ip.subnet_id, ip.version) for ip in port.fixed_ips]
    v4 = vif["fixed_ips"][0]
    assert (v4["prefixlen"], v4["gateway"], list(v4["dns_nameservers"]), v4["dhcp"]) == (
        24, "10.0.0.1", ["10.0.0.53"], True)
    assert list(vif["floating_ips"]) == ["172.24.4.9"]
    assert vif["bridge"] == "brq-net-1" and vif["vif_type"] == "bridge"
    assert vif["devname"] == "tap" + port.id[:11]


def test_build_gives_the_driver_the_ports_mac_ips_and_mtu(recording_hub, ctx):
    hub = recording_hub
    [inst] = hub.compute.create_servers(ctx, name="vm", image_ref="img", flavor_id="42",
                                        networks=[{"uuid": "net-1", "fixed_ip": "10.0.0.11"}])
    server = _wait(hub, ctx, inst["uuid"], "ACTIVE")
    # The requested networks reach the service as the contract's records, before the 202 and on the host.
    wanted = [RequestedNetwork(network_id="net-1", fixed_ip="10.0.0.11")]
    assert hub.recording_network.validated == [wanted] and hub.recording_network.requests == [wanted]
    [port] = hub.recording_network.ports[inst["uuid"]]
    vifs = _plugged(hub, server)
    assert list(vifs) == [port.id]
    _assert_vif(vifs[port.id], port)
    # The server's addresses are built from the same record.
    [view] = server["ports"]
    assert view["network_name"] == "private" and view["mac_address"] == port.mac_address
    assert [ip["ip_address"] for ip in view["fixed_ips"]] == list(port.addresses())
    assert [f["floating_ip_address"] for f in view["floating_ips"]] == ["172.24.4.9"]
    assert [g["name"] for g in hub.compute.security_groups(ctx, inst["uuid"])] == ["default"]


def test_resize_plugs_the_same_vifs_on_the_destination(recording_hub, ctx):
    hub = recording_hub
    [inst] = hub.compute.create_servers(ctx, name="vm", image_ref="img", flavor_id="42")
    source = _wait(hub, ctx, inst["uuid"], "ACTIVE")["host"]
    assert hub.recording_network.requests == ["auto"]
    hub.compute.resize(ctx, inst["uuid"], "1")
    server = _wait(hub, ctx, inst["uuid"], "VERIFY_RESIZE")
    assert server["host"] != source
    [port] = hub.recording_network.ports[inst["uuid"]]
    _assert_vif(_plugged(hub, server)[port.id], port)


def test_vifs_from_records_unit():
    unbound = InstancePort(id="0123456789abcdef", network_id="n", mac_address="fa:16:3e:aa:bb:cc",
                           vif_details={"devname": "vnet7"})
    [vif] = virt.vifs([unbound])
    assert vif.vif_type == "unbound" and vif.mtu is None and vif.bridge is None
    assert vif.devname == "vnet7" and vif.tap_name == "vnet7" and vif.details == {"devname": "vnet7"}
    assert virt.vifs([]) == []


def test_network_request_unit():
    assert network_request("auto") == "auto" and network_request("none") == "none" and network_request(None) is None
    assert network_request([{"uuid": "n1"}, {"port": "p1"}, {"uuid": "n2", "fixed_ip": "10.0.0.5", "tag": "x"}]) == [
        RequestedNetwork(network_id="n1"), RequestedNetwork(port_id="p1"),
        RequestedNetwork(network_id="n2", fixed_ip="10.0.0.5")]
    assert network_request(["junk"]) == ["junk"]  # left for the network service to refuse


def test_deleting_a_resized_server_drops_the_copy_kept_for_a_revert(recording_hub, ctx):
    hub = recording_hub
    [inst] = hub.compute.create_servers(ctx, name="vm", image_ref="img", flavor_id="42")
    source = _wait(hub, ctx, inst["uuid"], "ACTIVE")["host"]
    hub.compute.resize(ctx, inst["uuid"], "1")
    _wait(hub, ctx, inst["uuid"], "VERIFY_RESIZE")
    source_driver = next(m.driver for m in hub.compute_hosts.managers if m.host == source)
    assert inst["uuid"] in source_driver._resize_source  # kept on the source until confirm or revert
    hub.compute.delete_server(ctx, inst["uuid"])
    deadline = time.monotonic() + 5
    while inst["uuid"] in source_driver._resize_source and time.monotonic() < deadline:
        time.sleep(0.05)
    assert inst["uuid"] not in source_driver._resize_source
