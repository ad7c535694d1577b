"""Bridges per network: uplinks by network type, the outside veth of external networks, VXLAN between hosts.

The root tests work in "host" namespaces they make (so the machine's own
links are never touched) and ping between test hosts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cumulo_network_linux import bridges as bridges_module
from cumulo_network_linux import names, netns
from cumulo_network_linux.bridges import Bridges, gateway_tap, vlan_device
from cumulo_network_linux.testhosts import TestHost
from pyroute2.netlink.exceptions import NetlinkError

from cumulo.interfaces.network import NetworkDriverError
from cumulo.interfaces.network.records import Network, Port, Subnet
from cumulo.testing.fixtures import unavailable

IFF_UP = 0x1


def _uid() -> str:
    return str(uuid.uuid4())


def _net(network_type: str = "local", physical_network: str | None = None, segmentation_id: int | None = None,
         mtu: int = 1500, external: bool = False, cidrs: tuple[tuple[str, str | None], ...] = ()) -> Network:
    network_id = _uid()
    subnets = tuple(Subnet(id=_uid(), network_id=network_id, cidr=cidr, ip_version=4, gateway_ip=gateway)
                    for cidr, gateway in cidrs)
    return Network(id=network_id, name="n", project_id="p", network_type=network_type,
                   physical_network=physical_network, segmentation_id=segmentation_id, mtu=mtu, external=external,
                   subnets=subnets)


def _port(network: Network) -> Port:
    return Port(id=_uid(), network_id=network.id, mac_address="fa:16:3e:" + ":".join(f"{b:02x}" for b in os.urandom(3)))


def _link(namespace: str | None, ifname: str) -> Any:
    """The link ``ifname`` in ``namespace``, None when absent."""
    with netns.route(namespace) as ipr:
        index = netns.link_index(ipr, ifname)
        return None if index is None else ipr.get_links(index)[0]


def _index(namespace: str | None, ifname: str) -> int | None:
    link = _link(namespace, ifname)
    return None if link is None else int(link["index"])


# -- without root: what is asked of pyroute2 for VLAN networks (this kernel has no 802.1Q) -----------


class FakeRoute:
    """Just enough of a pyroute2 handle: links by name, and the calls made."""

    def __init__(self, fail_vlan: bool = False) -> None:
        self.links = {"eth9": 2}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_vlan = fail_vlan

    def link_lookup(self, ifname: str) -> list[int]:
        return [self.links[ifname]] if ifname in self.links else []

    def link(self, command: str, **kwargs: Any) -> None:
        self.calls.append((command, kwargs))
        if command == "add":
            if kwargs["kind"] == "vlan" and self.fail_vlan:
                raise NetlinkError(errno.EOPNOTSUPP, "Operation not supported")
            self.links[kwargs["ifname"]] = 10 + len(self.links)

    def get_links(self, *indexes: int) -> list[Any]:
        return []


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRoute]:
    handle = FakeRoute()

    @contextlib.contextmanager
    def route(name: str | None = None) -> Iterator[FakeRoute]:
        yield handle

    monkeypatch.setattr(bridges_module.netns, "route", route)
    yield handle


def test_a_vlan_network_gets_a_subinterface_of_its_mapped_interface_on_its_bridge(fake: FakeRoute) -> None:
    net = _net("vlan", "physnet1", 100, mtu=1400)
    assert Bridges(None, {"physnet1": "eth9"}, None).ensure(net) == names.bridge(net.id)
    bridge = fake.links[names.bridge(net.id)]
    vlan = fake.links["eth9.100"]
    assert ("add", {"ifname": names.bridge(net.id), "kind": "bridge", "br_stp_state": 0, "br_forward_delay": 0,
                    "mtu": 1400}) in fake.calls
    assert ("add", {"ifname": "eth9.100", "kind": "vlan", "link": 2, "vlan_id": 100, "mtu": 1400}) in fake.calls
    assert ("set", {"index": vlan, "master": bridge, "state": "up", "mtu": 1400}) in fake.calls
    assert ("set", {"index": 2, "state": "up"}) in fake.calls  # the parent is up, its MTU left alone


def test_without_8021q_a_vlan_network_says_so(fake: FakeRoute) -> None:
    fake.fail_vlan = True
    with pytest.raises(NetworkDriverError, match="no 802.1Q VLAN support .CONFIG_VLAN_8021Q"):
        Bridges(None, {"physnet1": "eth9"}, None).ensure(_net("vlan", "physnet1", 100))


def test_names_fit_in_15_characters() -> None:
    assert vlan_device("enp0s31f6", 4094) == "enp0s31f6.4094"
    assert vlan_device("averylonginterface", 4094) == "averylongi.4094"
    assert len(gateway_tap(_uid())) <= names.IFNAME_MAX
    assert gateway_tap("0123456789abcdef") == "tapgw012345678"


def test_an_unknown_network_type_is_refused(fake: FakeRoute) -> None:
    with pytest.raises(NetworkDriverError, match="'geneve' is not supported"):
        Bridges(None, {}, None).ensure(_net("geneve"))


# -- with root, in namespaces the tests make ---------------------------------------------------------


@pytest.fixture(scope="module")
def tools() -> None:
    if os.geteuid() != 0:
        unavailable("bridge tests need root (namespaces, bridges, veths)")
    for tool in ("busybox", "nsenter", "ip"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed")


@pytest.fixture
def namespaces(tools: None) -> Iterator[list[str]]:
    """Names of namespaces to make (``made.append(name)``): all removed afterwards."""
    made: list[str] = []
    try:
        yield made
    finally:
        for name in made:
            netns.remove(name)


def _namespace(made: list[str], role: str) -> str:
    name = f"l2{role}-{uuid.uuid4().hex[:8]}"
    made.append(name)
    netns.ensure(name)
    return name


@pytest.fixture
def hosts() -> Iterator[list[TestHost]]:
    made: list[TestHost] = []
    try:
        yield made
    finally:
        for host in made:
            host.delete()


def _ping(namespace: str, address: str) -> bool:
    return netns.run(namespace, ["busybox", "ping", "-c", "1", "-W", "2", address], check=False).returncode == 0


def test_a_local_network_gets_a_bridge_up_without_stp_and_remove_deletes_it(namespaces: list[str]) -> None:
    host_ns = _namespace(namespaces, "h")
    bridges = Bridges(host_ns, {}, None)
    net = _net(mtu=1450)
    assert bridges.ensure(net) == names.bridge(net.id)
    link = _link(host_ns, names.bridge(net.id))
    assert link.get(("linkinfo", "kind")) == "bridge" and link["flags"] & IFF_UP and link.get("mtu") == 1450
    assert link.get(("linkinfo", "data", "br_stp_state")) == 0
    assert link.get(("linkinfo", "data", "br_forward_delay")) == 0
    bridges.ensure(net)  # again: the same bridge
    assert _index(host_ns, names.bridge(net.id)) == link["index"]
    assert bridges.managed() == {net.id[:names.ID_CHARS]}
    bridges.remove(net.id[:names.ID_CHARS])  # the driver removes strays by the prefix managed() gives
    assert _link(host_ns, names.bridge(net.id)) is None and bridges.managed() == set()
    bridges.remove(net.id)


def test_a_flat_network_holds_its_mapped_interface_and_releases_it_on_remove(namespaces: list[str]) -> None:
    host_ns = _namespace(namespaces, "h")
    with netns.route(host_ns) as ipr:
        ipr.link("add", ifname="l2phys", kind="veth", peer={"ifname": "l2physp"})  # no dummy module here
    bridges = Bridges(host_ns, {"physnet1": "l2phys"}, None)
    net = _net("flat", "physnet1")
    bridges.ensure(net)
    phys = _link(host_ns, "l2phys")
    assert phys.get("master") == _index(host_ns, names.bridge(net.id)) and phys["flags"] & IFF_UP
    bridges.remove(net.id)
    assert _link(host_ns, names.bridge(net.id)) is None
    assert _link(host_ns, "l2phys").get("master") is None  # released, not deleted
    with pytest.raises(NetworkDriverError, match="interface l2missing of physical network physnet2 does not exist"):
        Bridges(host_ns, {"physnet2": "l2missing"}, None).ensure(_net("flat", "physnet2"))


def test_a_vlan_network_on_this_kernel(namespaces: list[str]) -> None:
    host_ns = _namespace(namespaces, "h")
    with netns.route(host_ns) as ipr:
        ipr.link("add", ifname="l2phys", kind="veth", peer={"ifname": "l2physp"})  # no dummy module here
    bridges = Bridges(host_ns, {"physnet1": "l2phys"}, None)
    net = _net("vlan", "physnet1", 42)
    try:
        bridges.ensure(net)
    except NetworkDriverError as err:
        assert "CONFIG_VLAN_8021Q" in str(err)
    else:  # a kernel with 802.1Q: the subinterface is on the bridge, and goes with it
        assert _link(host_ns, "l2phys.42").get("master") == _index(host_ns, names.bridge(net.id))
        bridges.remove(net.id)
        assert _link(host_ns, "l2phys.42") is None
    bridges.remove(net.id)
    assert _link(host_ns, names.bridge(net.id)) is None


def test_an_unmapped_external_network_reaches_the_outside_through_its_gateway_veth(
        namespaces: list[str], hosts: list[TestHost]) -> None:
    host_ns, outside_ns = _namespace(namespaces, "h"), _namespace(namespaces, "o")
    bridges = Bridges(host_ns, {"physnet1": "l2nothere"}, outside_ns)
    net = _net("flat", "public", external=True, cidrs=(("172.31.9.0/24", "172.31.9.1"), ("172.31.10.0/24", None)))
    bridges.ensure(net)
    bridges.ensure(net)
    outside = _link(outside_ns, names.outside(net.id))
    assert outside is not None and outside["flags"] & IFF_UP
    with netns.route(outside_ns) as ipr:
        held = {(a.get("address"), a["prefixlen"]) for a in ipr.get_addr(index=outside["index"], family=2)}
    assert held == {("172.31.9.1", 24)}
    assert _link(host_ns, gateway_tap(net.id)).get("master") == _index(host_ns, names.bridge(net.id))

    port = _port(net)
    host = TestHost.create(f"l2t-{port.id[:8]}", port, host_ns)
    hosts.append(host)
    host.run("ip", "addr", "add", "172.31.9.10/24", "dev", "eth0")
    assert _ping(outside_ns, "172.31.9.10")

    bridges.ensure(dataclasses.replace(net, external=False))  # no longer external: no gateway veth
    assert _link(outside_ns, names.outside(net.id)) is None and _link(host_ns, gateway_tap(net.id)) is None
    bridges.ensure(net)
    assert _ping(outside_ns, "172.31.9.10")
    bridges.remove(net.id)
    assert _link(outside_ns, names.outside(net.id)) is None and _link(host_ns, gateway_tap(net.id)) is None
    assert not _ping(outside_ns, "172.31.9.10")


def test_vxlan_carries_a_ping_between_two_hosts(namespaces: list[str], hosts: list[TestHost]) -> None:
    host_a, host_b = _namespace(namespaces, "a"), _namespace(namespaces, "b")
    with netns.route(host_a) as ipr:  # the underlay: a veth between the two "hosts"
        ipr.link("add", ifname="l2u", kind="veth", peer={"ifname": "l2u", "net_ns_fd": host_b})
    for ns, address in ((host_a, "10.250.0.1"), (host_b, "10.250.0.2")):
        with netns.route(ns) as ipr:
            index = netns.link_index(ipr, "l2u")
            ipr.link("set", index=index, state="up")
            ipr.addr("add", index=index, address=address, prefixlen=30)
    vni = 1000 + int.from_bytes(os.urandom(2), "big")
    net = _net("vxlan", segmentation_id=vni, mtu=1450)
    side_a = Bridges(host_a, {}, None, vxlan_local_ip="10.250.0.1", vxlan_peers=["10.250.0.2"])
    side_b = Bridges(host_b, {}, None, vxlan_local_ip="10.250.0.2", vxlan_peers=["10.250.0.1"])
    side_a.ensure(net)
    side_a.ensure(net)
    side_b.ensure(net)
    vxlan = _link(host_a, names.vxlan(vni))
    assert vxlan.get("master") == _index(host_a, names.bridge(net.id))
    assert vxlan.get(("linkinfo", "data", "vxlan_id")) == vni and vxlan.get("mtu") == 1450

    for ns, address in ((host_a, "10.77.0.1"), (host_b, "10.77.0.2")):
        port = _port(net)
        host = TestHost.create(f"l2t-{port.id[:8]}", port, ns)
        hosts.append(host)
        host.run("ip", "addr", "add", f"{address}/24", "dev", "eth0")
    assert _ping(hosts[0].namespace, "10.77.0.2")
    assert _link(hosts[0].namespace, "eth0").get("mtu") == 1450  # a test host takes its bridge's MTU

    def flood(ns: str) -> set[str]:
        with netns.route(ns) as ipr:
            index = netns.link_index(ipr, names.vxlan(vni))
            return {str(e.get("dst")) for e in ipr.fdb("dump", ifindex=index)
                    if e.get("ifindex") == index and e.get("lladdr") == bridges_module.ZERO_MAC and e.get("dst")}

    assert flood(host_a) == {"10.250.0.2"}
    Bridges(host_a, {}, None, vxlan_local_ip="10.250.0.1", vxlan_peers=["10.250.0.9"]).ensure(net)
    assert flood(host_a) == {"10.250.0.9"}  # peers follow the configuration
    side_a.remove(net.id)
    assert _link(host_a, names.vxlan(vni)) is None and _link(host_a, names.bridge(net.id)) is None


def test_attach_plugs_an_existing_tap_into_the_bridge(namespaces: list[str]) -> None:
    host_ns = _namespace(namespaces, "h")
    bridges = Bridges(host_ns, {}, None)
    net = _net(mtu=1450)
    bridges.ensure(net)
    with netns.route(host_ns) as ipr:
        ipr.link("add", ifname="l2vnet0", kind="veth", peer={"ifname": "l2vnet0p"})
    bridges.attach("l2vnet0", net.id)
    bridges.attach("l2vnet0", net.id)
    tap = _link(host_ns, "l2vnet0")
    assert tap.get("master") == _index(host_ns, names.bridge(net.id)) and tap.get("mtu") == 1450
    assert tap["flags"] & IFF_UP
    with pytest.raises(NetworkDriverError, match="device l2nothing does not exist"):
        bridges.attach("l2nothing", net.id)
    with pytest.raises(NetworkDriverError, match="does not exist"):
        bridges.attach("l2vnet0", _uid())


def test_remove_and_managed_with_no_host_namespace_make_none(tools: None) -> None:
    gone = f"l2h-{uuid.uuid4().hex[:8]}"
    bridges = Bridges(gone, {}, gone)
    assert bridges.managed() == set()
    bridges.remove(_uid())
    assert not netns.exists(gone)
