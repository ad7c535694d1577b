"""Routers of the linuxbridge driver with real packets: SNAT, floating IPs, hairpin, extra routes, convergence.

Each test builds its own host namespace holding two tenant bridges and an
external bridge, an "outside" namespace on the external bridge holding the
external subnet's gateway address, and "instance" namespaces on the tenant
bridges; a router made by :class:`Routers` joins them. A tiny TCP server
answers every connection with the address it came from, which is what NAT
did to it. Everything a test makes is removed by its fixture.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import secrets
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator, Sequence

import pytest
from cumulo_network_linux import names, netns
from cumulo_network_linux.routers import NAT_TABLE, Routers, render_nat

from cumulo.interfaces.network import (
    FloatingIP,
    InterfaceIP,
    Network,
    NetworkDriverError,
    Route,
    Router,
    RouterInterface,
    Subnet,
)
from cumulo.testing.fixtures import unavailable, wait_for

PORT = 7000
OUTSIDE_IP = "172.24.4.1"
GATEWAY_IP = "172.24.4.2"
FIP = "172.24.4.10"
FIP2 = "172.24.4.11"


def _mac() -> str:
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))


def _network(cidr: str, gateway_ip: str, external: bool = False) -> Network:
    network_id = str(uuid.uuid4())
    subnet = Subnet(id=str(uuid.uuid4()), network_id=network_id, cidr=cidr, ip_version=4, gateway_ip=gateway_ip)
    return Network(id=network_id, name=cidr, project_id="p", network_type="local", external=external,
                   subnets=(subnet,))


def _iface(network: Network, address: str) -> RouterInterface:
    subnet = network.subnets[0]
    return RouterInterface(port_id=str(uuid.uuid4()), network_id=network.id, mac_address=_mac(),
                           fixed_ips=(InterfaceIP(subnet_id=subnet.id, ip_address=address, cidr=subnet.cidr),))


# -- talking through the data plane ----------------------------------------------------------------


@contextlib.contextmanager
def echo_peer(ns: str, port: int = PORT) -> Iterator[None]:
    """A TCP server in ``ns`` that answers each connection with the address it came from."""
    server = netns.in_namespace(ns, lambda: socket.create_server(("0.0.0.0", port)))
    server.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, peer = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(peer[0].encode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        server.close()


def ask(ns: str, address: str, port: int = PORT, timeout: float = 2.0) -> str | None:
    """What the echo server at ``address`` says to a connection from ``ns``; None when none gets through."""
    def go() -> str | None:
        try:
            with socket.create_connection((address, port), timeout=timeout) as conn:
                return conn.recv(64).decode() or None
        except OSError:
            return None

    result: str | None = netns.in_namespace(ns, go)
    return result


# -- what a test builds ----------------------------------------------------------------------------


@dataclasses.dataclass
class Plane:
    host_ns: str
    outside_ns: str
    tenant: Network
    tenant2: Network
    external: Network
    routers: Routers
    suffix: str
    namespaces: list[str] = dataclasses.field(default_factory=list)
    router_ids: list[str] = dataclasses.field(default_factory=list)

    @property
    def networks(self) -> dict[str, Network]:
        return {n.id: n for n in (self.tenant, self.tenant2, self.external)}

    def host(self, network: Network, address: str, gateway: str | None, extra: Sequence[str] = ()) -> str:
        """A namespace on ``network``'s bridge with ``address``/24 (and ``extra`` /32s on lo), default via ``gateway``."""
        ns = f"rt{self.suffix}-{len(self.namespaces)}"
        self.namespaces.append(ns)
        netns.plug_veth(self.host_ns, names.bridge(network.id), f"trt{self.suffix}{len(self.namespaces)}", ns,
                        "eth0", _mac(), [(address, 24)])
        with netns.route(ns) as ipr:
            if gateway:
                ipr.route("add", dst="0.0.0.0/0", gateway=gateway)
            for a in extra:
                ipr.addr("add", index=netns.link_index(ipr, "lo"), address=a, prefixlen=32)
        return ns

    def router(self, interfaces: Sequence[RouterInterface] | None = None, **fields: object) -> Router:
        router_id = str(uuid.uuid4())
        self.router_ids.append(router_id)
        record = Router(id=router_id, project_id="p", external_network_id=self.external.id,
                        gateway=_iface(self.external, GATEWAY_IP),
                        interfaces=tuple(interfaces) if interfaces is not None
                        else (_iface(self.tenant, "10.20.0.1"), _iface(self.tenant2, "10.30.0.1")))
        return dataclasses.replace(record, **fields)  # type: ignore[arg-type]

    def fip(self, router: Router, address: str, fixed: str) -> FloatingIP:
        return FloatingIP(id=str(uuid.uuid4()), floating_ip_address=address, floating_network_id=self.external.id,
                          port_id=str(uuid.uuid4()), fixed_ip_address=fixed, router_id=router.id)


def _require() -> None:
    if os.geteuid() != 0:
        unavailable("router namespaces need root")
    for tool in ("nft", "nsenter"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            unavailable(f"{tool} is not installed (tools/system-packages.sh installs nftables)")


@pytest.fixture
def plane() -> Iterator[Plane]:
    _require()
    suffix = secrets.token_hex(3)
    host_ns, outside_ns = f"rt{suffix}-host", f"rt{suffix}-out"
    tenant, tenant2 = _network("10.20.0.0/24", "10.20.0.1"), _network("10.30.0.0/24", "10.30.0.1")
    external = _network("172.24.4.0/24", OUTSIDE_IP, external=True)
    made = Plane(host_ns, outside_ns, tenant, tenant2, external, Routers(host_ns), suffix)
    try:
        netns.ensure(host_ns)
        with netns.route(host_ns) as ipr:
            for network in (tenant, tenant2, external):
                ipr.link("add", ifname=names.bridge(network.id), kind="bridge")
                ipr.link("set", index=netns.link_index(ipr, names.bridge(network.id)), state="up")
        netns.plug_veth(host_ns, names.bridge(external.id), f"trt{suffix}o", outside_ns, "eth0", _mac(),
                        [(OUTSIDE_IP, 24)])
        yield made
    finally:
        for router_id in made.router_ids:
            with contextlib.suppress(Exception):
                made.routers.remove(router_id)
            netns.remove(names.router_namespace(router_id))
        for ns in [*made.namespaces, outside_ns, host_ns]:
            netns.remove(ns)


# -- inspecting the router -------------------------------------------------------------------------


def nat_listing(router: Router) -> str:
    return netns.run(names.router_namespace(router.id), ["nft", "list", "table", "ip", NAT_TABLE]).stdout


def addresses(ns: str) -> dict[str, set[tuple[str, int]]]:
    """Every link's addresses in ``ns`` (IPv6 link-local left out: the kernel makes it)."""
    with netns.route(ns) as ipr:
        by_index = {link["index"]: link.get("ifname") for link in ipr.get_links()}
        out: dict[str, set[tuple[str, int]]] = {name: set() for name in by_index.values()}
        for addr in ipr.get_addr():
            if not str(addr.get("IFA_ADDRESS")).startswith("fe80:"):
                out[by_index[addr["index"]]].add((addr.get("IFA_ADDRESS"), addr["prefixlen"]))
    return out


def static_routes(ns: str) -> set[tuple[str, str | None]]:
    with netns.route(ns) as ipr:
        return {(f"{r.get('dst') or '0.0.0.0'}/{r['dst_len']}", r.get("gateway"))
                for r in ipr.get_routes(family=socket.AF_INET, table=254) if r["proto"] == 4}


def links(ns: str | None) -> set[tuple[str, int | None, str]]:
    """(name, master index, operational flags up?) of every link in ``ns``."""
    with netns.route(ns) as ipr:
        return {(link.get("ifname"), link.get("master"), "up" if link["flags"] & 1 else "down")
                for link in ipr.get_links()}


def conntrack_of(ns: str, address: str) -> list[object]:
    from pyroute2 import Conntrack
    from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple

    def dump() -> list[object]:
        with Conntrack() as ct:
            return [*ct.dump_entries(tuple_orig=NFCTAttrTuple(daddr=address)),
                    *ct.dump_entries(tuple_reply=NFCTAttrTuple(daddr=address))]

    found: list[object] = netns.in_namespace(ns, dump)
    return found


def neighbour_mac(ns: str, address: str) -> str | None:
    with netns.route(ns) as ipr:
        for neigh in ipr.get_neighbours(family=socket.AF_INET):
            if neigh.get("NDA_DST") == address:
                mac: str | None = neigh.get("NDA_LLADDR")
                return mac
    return None


# -- the render (no root needed) -------------------------------------------------------------------


def _record(enable_snat: bool = True, gateway: bool = True) -> Router:
    tenant = _network("10.20.0.0/24", "10.20.0.1")
    external = _network("172.24.4.0/24", OUTSIDE_IP, external=True)
    router = Router(id="r1", project_id="p", enable_snat=enable_snat, interfaces=(_iface(tenant, "10.20.0.1"),),
                    external_network_id=external.id if gateway else None,
                    gateway=_iface(external, GATEWAY_IP) if gateway else None)
    fip = FloatingIP(id="f1", floating_ip_address=FIP, floating_network_id=external.id, port_id="port",
                     fixed_ip_address="10.20.0.5", router_id="r1")
    unassociated = FloatingIP(id="f2", floating_ip_address=FIP2, floating_network_id=external.id)
    return dataclasses.replace(router, floating_ips=(fip, unassociated) if gateway else ())


def test_render_nat_rules_in_order() -> None:
    router = _record()
    assert router.gateway is not None
    qg = names.router_gateway(router.gateway.port_id)
    script = render_nat(router)
    assert script.startswith(f"table ip {NAT_TABLE}\ndelete table ip {NAT_TABLE}\ntable ip {NAT_TABLE} {{\n")
    rules = [line.strip() for line in script.splitlines() if line.startswith("\t\t") and "type nat" not in line]
    assert rules == [
        f"ip daddr {FIP} dnat to 10.20.0.5",  # prerouting
        f"ip daddr {FIP} dnat to 10.20.0.5",  # output
        f'oifname != "{qg}" ct status ! dnat accept',
        f"ip saddr 10.20.0.5 snat to {FIP}",
        f"ip saddr {{ 10.20.0.0/24 }} ct status dnat snat to {GATEWAY_IP}",
        f'oifname "{qg}" ip saddr {{ 10.20.0.0/24 }} snat to {GATEWAY_IP}',
    ]
    assert FIP2 not in script  # not associated


def test_render_nat_without_snat_or_gateway() -> None:
    no_snat = render_nat(_record(enable_snat=False))
    assert "ct status dnat snat to" in no_snat  # hairpin still works
    assert 'oifname "qg-' not in no_snat
    bare = render_nat(_record(gateway=False))
    assert "dnat" not in bare and "snat" not in bare and bare.count("type nat hook") == 3


# -- real packets ----------------------------------------------------------------------------------


def test_snat_takes_instances_outside_and_not_between_subnets(plane: Plane) -> None:
    router = plane.router()
    plane.routers.ensure(router, plane.networks)
    instance = plane.host(plane.tenant, "10.20.0.5", "10.20.0.1")
    other = plane.host(plane.tenant2, "10.30.0.5", "10.30.0.1")
    with echo_peer(plane.outside_ns):
        assert ask(instance, OUTSIDE_IP) == GATEWAY_IP
    with echo_peer(other):
        assert ask(instance, "10.30.0.5") == "10.20.0.5"  # routed between the router's subnets, not NATed

    plane.routers.ensure(dataclasses.replace(router, enable_snat=False), plane.networks)
    with echo_peer(plane.outside_ns):
        assert ask(instance, OUTSIDE_IP, timeout=1.5) is None  # leaves with 10.20.0.5: the outside cannot answer
    plane.routers.ensure(router, plane.networks)
    with echo_peer(plane.outside_ns):
        assert ask(instance, OUTSIDE_IP) == GATEWAY_IP


def test_floating_ip_reaches_the_instance_until_removed(plane: Plane) -> None:
    router = plane.router()
    plane.routers.ensure(router, plane.networks)
    instance = plane.host(plane.tenant, "10.20.0.5", "10.20.0.1")
    neighbour = plane.host(plane.tenant, "10.20.0.6", "10.20.0.1")
    # The outside learns addresses from gratuitous ARP only when it accepts unsolicited ARP.
    netns.sysctl(plane.outside_ns, "net.ipv4.conf.eth0.arp_accept", 1)
    with_fip = dataclasses.replace(router, floating_ips=(plane.fip(router, FIP, "10.20.0.5"),))
    plane.routers.ensure(with_fip, plane.networks)
    assert router.gateway is not None
    ns = names.router_namespace(router.id)
    assert (FIP, 32) in addresses(ns)[names.router_gateway(router.gateway.port_id)]
    wait_for(lambda: neighbour_mac(plane.outside_ns, FIP) == router.gateway.mac_address if router.gateway else None,
             timeout=3, message="no gratuitous ARP for the floating IP reached the outside")

    with echo_peer(instance):
        assert ask(plane.outside_ns, FIP) == OUTSIDE_IP  # the instance sees the outside's real address
        assert ask(neighbour, FIP) == GATEWAY_IP  # hairpin: from the router's own subnet, replies come back
    with echo_peer(plane.outside_ns):
        assert ask(instance, OUTSIDE_IP) == FIP  # its own outbound traffic leaves as its floating IP
    with echo_peer(instance):
        assert ask(instance, FIP) == FIP  # hairpin to its own floating IP: it is NATed to itself
    with echo_peer(neighbour):
        assert ask(instance, "10.20.0.6") == "10.20.0.5"  # on the subnet: no router, no NAT
    assert conntrack_of(ns, FIP)

    plane.routers.ensure(router, plane.networks)
    assert (FIP, 32) not in addresses(ns)[names.router_gateway(router.gateway.port_id)]
    assert not conntrack_of(ns, FIP)  # the connections of the floating IP are forgotten too
    with echo_peer(instance):
        assert ask(plane.outside_ns, FIP, timeout=1.5) is None
    with echo_peer(plane.outside_ns):
        assert ask(instance, OUTSIDE_IP) == GATEWAY_IP


def test_extra_routes_appear_and_go(plane: Plane) -> None:
    router = plane.router()
    instance = plane.host(plane.tenant, "10.20.0.5", "10.20.0.1")
    beyond = plane.host(plane.tenant2, "10.30.0.9", "10.30.0.1", extra=["192.168.50.1"])
    with_route = dataclasses.replace(router, routes=(Route("192.168.50.0/24", "10.30.0.9"),))
    plane.routers.ensure(with_route, plane.networks)
    ns = names.router_namespace(router.id)
    assert static_routes(ns) == {("0.0.0.0/0", OUTSIDE_IP), ("192.168.50.0/24", "10.30.0.9")}
    with echo_peer(beyond):
        assert ask(instance, "192.168.50.1") == "10.20.0.5"

    plane.routers.ensure(router, plane.networks)
    assert static_routes(ns) == {("0.0.0.0/0", OUTSIDE_IP)}
    with echo_peer(beyond):
        assert ask(instance, "192.168.50.1", timeout=1.5) is None  # now sent to the outside, which drops it

    unreachable = dataclasses.replace(router, routes=(Route("192.168.60.0/24", "10.99.0.1"),))
    with pytest.raises(NetworkDriverError, match="192.168.60.0/24 via 10.99.0.1"):
        plane.routers.ensure(unreachable, plane.networks)
    assert static_routes(ns) == {("0.0.0.0/0", OUTSIDE_IP)}  # the rest of the router is still there


def test_ensure_twice_changes_nothing_and_converges(plane: Plane) -> None:
    router = plane.router()
    record = dataclasses.replace(router, floating_ips=(plane.fip(router, FIP, "10.20.0.5"),),
                                 routes=(Route("192.168.50.0/24", "10.30.0.9"),))
    ns = names.router_namespace(router.id)
    plane.routers.ensure(record, plane.networks)
    before = (nat_listing(record), addresses(ns), static_routes(ns), links(ns), links(plane.host_ns))
    plane.routers.ensure(record, plane.networks)
    assert (nat_listing(record), addresses(ns), static_routes(ns), links(ns), links(plane.host_ns)) == before
    assert ("169.254.169.254", 32) in addresses(ns)["lo"]

    # One interface and the floating IP go: their veth (both ends), address and NAT go with them.
    kept, dropped = router.interfaces
    smaller = dataclasses.replace(router, interfaces=(kept,))
    plane.routers.ensure(smaller, plane.networks)
    assert names.router_interface(dropped.port_id) not in netns.link_names(ns)
    assert names.tap(dropped.port_id) not in netns.link_names(plane.host_ns)
    assert names.tap(kept.port_id) in netns.link_names(plane.host_ns)
    assert router.gateway is not None
    assert addresses(ns)[names.router_gateway(router.gateway.port_id)] == {(GATEWAY_IP, 24)}
    assert FIP not in nat_listing(smaller) and "10.30.0.0/24" not in nat_listing(smaller)
    assert static_routes(ns) == {("0.0.0.0/0", OUTSIDE_IP)}

    # Without a metadata address, the one that was on lo goes.
    Routers(plane.host_ns, metadata_address=None).ensure(smaller, plane.networks)
    assert ("169.254.169.254", 32) not in addresses(ns)["lo"] and ("127.0.0.1", 8) in addresses(ns)["lo"]


def test_admin_state_down_takes_the_interfaces_down(plane: Plane) -> None:
    router = plane.router()
    instance = plane.host(plane.tenant, "10.20.0.5", "10.20.0.1")
    ns = names.router_namespace(router.id)
    plane.routers.ensure(dataclasses.replace(router, admin_state_up=False), plane.networks)
    ours = {name: state for name, _, state in links(ns) if name.startswith(("qr-", "qg-"))}
    assert len(ours) == 3 and set(ours.values()) == {"down"}
    with echo_peer(plane.outside_ns):
        assert ask(instance, OUTSIDE_IP, timeout=1.5) is None
    plane.routers.ensure(router, plane.networks)
    with echo_peer(plane.outside_ns):
        assert ask(instance, OUTSIDE_IP) == GATEWAY_IP


def test_remove_leaves_nothing(plane: Plane) -> None:
    router = plane.router()
    plane.routers.ensure(router, plane.networks)
    assert router.id in plane.routers.managed()
    taps = {names.tap(i.port_id) for i in (*router.interfaces, router.gateway) if i is not None}
    assert taps <= set(netns.link_names(plane.host_ns))

    plane.routers.remove(router.id)
    assert not netns.exists(names.router_namespace(router.id))
    assert router.id not in plane.routers.managed()
    assert not taps & set(netns.link_names(plane.host_ns))
    plane.routers.remove(router.id)  # removing what is gone is not an error


def test_with_a_state_dir_only_the_routers_made_here_are_managed(plane: Plane, tmp_path: pathlib.Path) -> None:
    ours = Routers(plane.host_ns, state_dir=str(tmp_path / "routers"))
    router = plane.router()
    foreign = names.router_namespace(uuid.uuid4().hex)  # another data plane's router on this machine
    netns.ensure(foreign)
    try:
        ours.ensure(router, plane.networks)
        assert ours.managed() == {router.id}  # not the foreign one, which a stray sweep would delete
        ours.remove(router.id)
        assert ours.managed() == set() and netns.exists(foreign)
    finally:
        netns.remove(foreign)
