"""dnsmasq per network, with real DHCP exchanges between namespaces the tests make.

Every test works in its own "host" namespace (the bridges live there), so it
touches nothing of the machine's and overlapping runs do not meet.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import socket
import stat
import uuid
from collections.abc import Iterator

import pytest
from cumulo_network_linux import dhcp as dhcp_module
from cumulo_network_linux import names, netns
from cumulo_network_linux.bridges import Bridges
from cumulo_network_linux.dhcp import DhcpServers
from cumulo_network_linux.testhosts import TestHost

from cumulo.interfaces.network import NetworkDriverError
from cumulo.interfaces.network.records import FixedIP, HostRoute, Network, Port, Subnet
from cumulo.testing.fixtures import unavailable, wait_for

METADATA = "169.254.169.254"


def _uid() -> str:
    return str(uuid.uuid4())


def _mac() -> str:
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in os.urandom(3))


def _net(cidr: str = "10.61.0.0/24", gateway: str | None = "10.61.0.1", mtu: int = 1450,
         host_routes: tuple[HostRoute, ...] = (), extra: tuple[Subnet, ...] = ()) -> Network:
    network_id = _uid()
    subnet = Subnet(id=_uid(), network_id=network_id, cidr=cidr, ip_version=4, gateway_ip=gateway,
                    host_routes=host_routes)
    return Network(id=network_id, name="n", project_id="p", network_type="local", mtu=mtu,
                   subnets=(subnet, *[dataclasses.replace(s, network_id=network_id) for s in extra]))


def _port(network: Network, *addresses: str, owner: str = "compute:nova") -> Port:
    fixed = []
    for address in addresses:
        subnet = next(s for s in network.subnets if address.startswith(s.cidr.rsplit(".", 1)[0] + "."))
        fixed.append(FixedIP(subnet_id=subnet.id, ip_address=address))
    return Port(id=_uid(), network_id=network.id, mac_address=_mac(), fixed_ips=tuple(fixed), device_owner=owner)


@pytest.fixture(scope="module")
def tools() -> None:
    if os.geteuid() != 0:
        unavailable("DHCP tests need root (namespaces, bridges, dnsmasq)")
    for tool in ("dnsmasq", "busybox", "nsenter", "ip"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed")


@dataclasses.dataclass
class Site:
    host_ns: str
    bridges: Bridges
    dhcp: DhcpServers
    state_dir: str
    hosts: list[TestHost]

    def host(self, port: Port) -> TestHost:
        host = TestHost.create(f"l2t-{port.id[:8]}", port, self.host_ns)
        self.hosts.append(host)
        return host

    def network(self, network: Network, dhcp_port: Port, ports: list[Port]) -> None:
        self.bridges.ensure(network)
        self.dhcp.ensure(network, dhcp_port, ports)


@pytest.fixture
def site(tools: None, tmp_path: os.PathLike[str]) -> Iterator[Site]:
    host_ns = f"l2h-{uuid.uuid4().hex[:8]}"
    netns.ensure(host_ns)
    state_dir = os.path.join(str(tmp_path), "dhcp")
    s = Site(host_ns, Bridges(host_ns, {}, None), DhcpServers(state_dir, host_ns, lease_time=600),
             state_dir, [])
    try:
        yield s
    finally:
        for host in s.hosts:
            host.delete()
        for network_id in s.dhcp.managed():
            s.dhcp.remove(network_id)
        netns.remove(host_ns)


def _ping(host: TestHost, address: str, count: int = 1) -> bool:
    return host.run("busybox", "ping", "-c", str(count), "-W", "1", address, check=False).returncode == 0


def _routes(namespace: str) -> dict[str, str | None]:
    """destination CIDR -> gateway (None: on-link) of the IPv4 main table in ``namespace``."""
    found: dict[str, str | None] = {}
    with netns.route(namespace) as ipr:
        for route in ipr.get_routes(family=socket.AF_INET, table=254):
            found[f"{route.get('dst') or '0.0.0.0'}/{route['dst_len']}"] = route.get("gateway")
    return found


def _mtu(namespace: str, ifname: str = "eth0") -> int:
    with netns.route(namespace) as ipr:
        return int(ipr.get_links(netns.link_index(ipr, ifname))[0].get("mtu"))


def _pid(dhcp: DhcpServers, network_id: str) -> int:
    with open(os.path.join(dhcp.state_dir, network_id, "pid"), encoding="ascii") as f:
        return int(f.read())


def _dnsmasq_of(network_id: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if network_id.encode() in f.read():
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


def test_two_hosts_get_leases_and_ping_each_other_but_not_another_network(site: Site) -> None:
    net = _net("10.61.0.0/25", host_routes=(HostRoute(destination="192.168.77.0/24", nexthop="10.61.0.126"),))
    dhcp_port = _port(net, "10.61.0.2", owner="network:dhcp")
    a, b = _port(net, "10.61.0.11"), _port(net, "10.61.0.12")
    site.network(net, dhcp_port, [dhcp_port, a, b])
    host_a, host_b = site.host(a), site.host(b)
    assert host_a.dhcp() == "10.61.0.11"
    assert host_b.dhcp() == "10.61.0.12"
    assert _ping(host_a, "10.61.0.12") and _ping(host_b, "10.61.0.11")

    # What the lease carried: the prefix, MTU, and option 121 with the metadata route, the host route
    # and the default.
    with netns.route(host_a.namespace) as ipr:
        index = netns.link_index(ipr, "eth0")
        assert [(a.get("address"), a["prefixlen"]) for a in ipr.get_addr(index=index, family=socket.AF_INET)] == [
            ("10.61.0.11", 25)]
    assert _mtu(host_a.namespace) == 1450
    routes = _routes(host_a.namespace)
    assert routes["0.0.0.0/0"] == "10.61.0.1"
    assert routes[f"{METADATA}/32"] == "10.61.0.2"
    assert routes["192.168.77.0/24"] == "10.61.0.126"
    # The DHCP namespace holds the metadata address on the DHCP port's interface.
    with netns.route(names.dhcp_namespace(net.id)) as ipr:
        index = netns.link_index(ipr, names.dhcp_interface(dhcp_port.id))
        held = {(a.get("address"), a["prefixlen"]) for a in ipr.get_addr(index=index, family=socket.AF_INET)}
    assert held == {("10.61.0.2", 25), (METADATA, 32)}

    # Another network's bridge, same addresses: nothing gets across.
    other = _net()
    site.bridges.ensure(other)
    intruder_port = _port(other, "10.61.0.13")
    intruder = site.host(intruder_port)
    intruder.run("ip", "addr", "add", "10.61.0.13/24", "dev", "eth0")
    assert not _ping(intruder, "10.61.0.11") and not _ping(intruder, "10.61.0.2")


def test_files_are_private_and_name_only_known_hosts(site: Site) -> None:
    net = _net(gateway=None, extra=(Subnet(id=_uid(), network_id="", cidr="10.62.0.0/24", ip_version=4,
                                           enable_dhcp=False),))
    dhcp_port = _port(net, "10.61.0.2", owner="network:dhcp")
    known, elsewhere = _port(net, "10.61.0.30"), _port(net, "10.62.0.30")
    site.network(net, dhcp_port, [dhcp_port, known, elsewhere])
    directory = os.path.join(site.state_dir, net.id)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    for name in ("hosts", "opts", "leases", "dnsmasq.log"):
        assert stat.S_IMODE(os.stat(os.path.join(directory, name)).st_mode) == 0o600
    with open(os.path.join(directory, "hosts"), encoding="utf-8") as f:
        assert f.read() == f"{known.mac_address},host-10-61-0-30,10.61.0.30\n"
    with open(os.path.join(directory, "opts"), encoding="utf-8") as f:
        opts = f.read().splitlines()
    tag = f"tag:subnet-{net.subnets[0].id}"
    # No gateway: an empty router option (else dnsmasq offers itself); option 121 without a default route.
    assert f"{tag},option:router" in opts
    assert f"{tag},option:classless-static-route,{METADATA}/32,10.61.0.2" in opts
    assert f"{tag},option:mtu,1450" in opts
    assert not any(line.startswith(f"tag:subnet-{net.subnets[1].id}") for line in opts)
    # A MAC the hosts file does not name gets no lease ("static" ranges).
    stranger = site.host(dataclasses.replace(known, id=_uid(), mac_address=_mac()))
    with pytest.raises(NetworkDriverError, match="no DHCP lease"):
        stranger.dhcp(timeout=2)


def test_a_port_added_later_gets_a_lease_after_ensure_through_sighup(site: Site) -> None:
    net = _net()
    dhcp_port = _port(net, "10.61.0.2", owner="network:dhcp")
    first = _port(net, "10.61.0.21")
    site.network(net, dhcp_port, [dhcp_port, first])
    pid = _pid(site.dhcp, net.id)
    site.dhcp.ensure(net, dhcp_port, [dhcp_port, first])  # the same state: the same process, left alone
    assert _pid(site.dhcp, net.id) == pid

    late = _port(net, "10.61.0.22")
    late_host = site.host(late)
    with pytest.raises(NetworkDriverError):
        late_host.dhcp(timeout=2)
    site.dhcp.ensure(net, dhcp_port, [dhcp_port, first, late])
    assert _pid(site.dhcp, net.id) == pid  # reloaded, not restarted
    assert late_host.dhcp() == "10.61.0.22"


def test_a_new_driver_adopts_dnsmasq_and_restarts_it_when_the_subnets_change(site: Site) -> None:
    net = _net()
    dhcp_port = _port(net, "10.61.0.2", owner="network:dhcp")
    port = _port(net, "10.61.0.40")
    site.network(net, dhcp_port, [port])
    pid = _pid(site.dhcp, net.id)

    again = DhcpServers(site.state_dir, site.host_ns, lease_time=600)  # the driver after a restart
    again.ensure(net, dhcp_port, [port])
    assert _pid(again, net.id) == pid

    second = Subnet(id=_uid(), network_id=net.id, cidr="10.63.0.0/24", ip_version=4, gateway_ip="10.63.0.1")
    grown = dataclasses.replace(net, subnets=(*net.subnets, second))
    grown_dhcp = dataclasses.replace(dhcp_port, fixed_ips=(*dhcp_port.fixed_ips, FixedIP(second.id, "10.63.0.2")))
    again.ensure(grown, grown_dhcp, [port])
    assert _pid(again, net.id) != pid
    assert _dnsmasq_of(net.id) == [_pid(again, net.id)]
    assert site.host(port).dhcp() == "10.61.0.40"


def test_supervise_restarts_a_killed_dnsmasq(site: Site) -> None:
    net = _net()
    dhcp_port = _port(net, "10.61.0.2", owner="network:dhcp")
    port = _port(net, "10.61.0.50")
    site.network(net, dhcp_port, [port])
    assert site.dhcp.supervise() == []
    pid = _pid(site.dhcp, net.id)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: pid not in _dnsmasq_of(net.id), timeout=5)
    assert site.dhcp.supervise() == [net.id]
    assert _pid(site.dhcp, net.id) != pid
    assert site.dhcp.supervise() == []
    assert site.host(port).dhcp() == "10.61.0.50"


def test_remove_leaves_no_namespace_process_or_file(site: Site) -> None:
    net = _net()
    dhcp_port = _port(net, "10.61.0.2", owner="network:dhcp")
    site.network(net, dhcp_port, [])
    assert _dnsmasq_of(net.id) and net.id in site.dhcp.managed()
    site.dhcp.remove(net.id)
    assert _dnsmasq_of(net.id) == []
    assert not netns.exists(names.dhcp_namespace(net.id))
    assert not os.path.exists(os.path.join(site.state_dir, net.id))
    assert net.id not in site.dhcp.managed()
    with netns.route(site.host_ns) as ipr:
        assert netns.link_index(ipr, names.tap(dhcp_port.id)) is None
    site.dhcp.remove(net.id)  # removing what is gone is no error
    assert site.dhcp.supervise() == []  # and it is not brought back


def test_a_network_without_dhcp_subnets_gets_no_server(site: Site) -> None:
    net = _net()
    dhcp_port = _port(net, "10.61.0.2", owner="network:dhcp")
    site.network(net, dhcp_port, [])
    off = dataclasses.replace(net, subnets=tuple(dataclasses.replace(s, enable_dhcp=False) for s in net.subnets))
    site.dhcp.ensure(off, dhcp_port, [])
    assert _dnsmasq_of(net.id) == [] and net.id not in site.dhcp.managed()


def test_ipv6_subnets_get_ranges_by_address_mode() -> None:
    net = _net()
    v6 = [Subnet(id=_uid(), network_id=net.id, cidr=f"fd00:{i}::/64", ip_version=6, ipv6_address_mode=mode,
                 ipv6_ra_mode=mode) for i, mode in enumerate(("dhcpv6-stateful", "dhcpv6-stateless", "slaac"))]
    net = dataclasses.replace(net, subnets=(*net.subnets, *v6))
    dhcp_port = Port(id=_uid(), network_id=net.id, mac_address=_mac(),
                     fixed_ips=(FixedIP(net.subnets[0].id, "10.61.0.2"),
                                *[FixedIP(s.id, f"fd00:{i}::2") for i, s in enumerate(v6)]))
    servers = DhcpServers("/nonexistent", None, lease_time=600, dns_servers=("10.0.0.53", "fd00::53"))
    served = servers._served_subnets(net, dhcp_port)
    argv = servers._command(net, served, "ns-x", dhcp_module._Files("/s", net.id))
    ranges = [a for a in argv if a.startswith("--dhcp-range=")]
    assert ranges == [f"--dhcp-range=set:subnet-{net.subnets[0].id},10.61.0.0,static,255.255.255.0,600s",
                      f"--dhcp-range=set:subnet-{v6[0].id},fd00::,static,64,600s",
                      f"--dhcp-range=set:subnet-{v6[1].id},fd00:1::,ra-stateless,64,600s",
                      f"--dhcp-range=set:subnet-{v6[2].id},fd00:2::,ra-only,64,600s"]
    assert "--enable-ra" in argv and "--ra-param=ns-x,mtu:1450,60,0" in argv
    port = Port(id=_uid(), network_id=net.id, mac_address="fa:16:3e:00:00:01",
                fixed_ips=(FixedIP(v6[0].id, "fd00::5"), FixedIP(v6[1].id, "fd00:1::5")))
    assert servers._hosts(net, served, dhcp_port, [port]) == "fa:16:3e:00:00:01,host-fd00--5,[fd00::5]\n"
    opts = servers._opts(net, served, dhcp_port).splitlines()
    assert f"tag:subnet-{v6[0].id},option6:dns-server,[fd00::53]" in opts
    assert f"tag:subnet-{net.subnets[0].id},option:dns-server,10.0.0.53" in opts


def test_dnsmasq_accepts_the_ipv6_ranges_and_router_advertisements(site: Site) -> None:
    net = _net()
    v6 = [Subnet(id=_uid(), network_id=net.id, cidr=f"fd00:{i}::/64", ip_version=6, ipv6_address_mode=mode,
                 ipv6_ra_mode=mode) for i, mode in enumerate(("dhcpv6-stateful", "slaac"))]
    net = dataclasses.replace(net, subnets=(*net.subnets, *v6))
    dhcp_port = Port(id=_uid(), network_id=net.id, mac_address=_mac(),
                     fixed_ips=(FixedIP(net.subnets[0].id, "10.61.0.2"),
                                *[FixedIP(s.id, f"fd00:{i}::2") for i, s in enumerate(v6)]))
    site.network(net, dhcp_port, [])
    pid = _pid(site.dhcp, net.id)
    assert _dnsmasq_of(net.id) == [pid]
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert b"--enable-ra" in f.read()
