"""The linuxbridge data plane under a real cloud, driven by the unmodified ``openstack`` client, with real packets.

A cloud runs with ``[network] driver = linuxbridge``, its bridges in a host
namespace and its "outside" in another, both made for this module. Servers
are booted on the fake hypervisor with ports the test made; each server's NIC
is a test host (a namespace plugged into the port with the port's MAC), so
DHCP, routing, NAT, security groups and metadata see real packets without a
hypervisor. Everything happens inside namespaces this module makes (and the
driver's ``qrouter-``/``qdhcp-`` namespaces of this cloud's resources).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cumulo.interfaces.network import Port
from cumulo.testing.cloud import CumuloCloud
from cumulo.testing.fixtures import unavailable, wait_for

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the Linux data plane")

SUFFIX = secrets.token_hex(3)
HOST_NS = f"cmt{SUFFIX}-host"
OUTSIDE_NS = f"cmt{SUFFIX}-out"
PUBLIC_CIDR = "172.24.4.0/24"
OUTSIDE_IP = "172.24.4.1"  # the public subnet's gateway: the outside's end of the external bridge

# A TCP server that answers every connection with the address it came from (what NAT did to it).
ECHO_PEER = ("import socket,sys\n"
             "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
             "s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(8)\n"
             "while True:\n"
             "    c,a=s.accept(); c.sendall(a[0].encode()); c.close()\n")


def _require() -> None:
    if os.geteuid() != 0:
        unavailable("the linuxbridge driver needs root")
    for tool in ("nft", "dnsmasq", "busybox", "curl", "nsenter"):
        if not shutil.which(tool) and not shutil.which(tool, path="/usr/sbin:/sbin"):
            unavailable(f"{tool} is not installed (tools/system-packages.sh installs it)")
    from cumulo import registry

    if "linuxbridge" not in registry.names("network"):
        unavailable("the cumulo-network-linux plugin is not installed")


def _in_ns(ns: str, *argv: str, timeout: float = 10, check: bool = False) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["nsenter", f"--net=/run/netns/{ns}", "--", *argv], capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode:
        raise AssertionError(f"{argv} in {ns}: {proc.returncode} {proc.stderr}")
    return proc


def _connect(ns: str, address: str, port: int, timeout: float = 3) -> str | None:
    """What the echo server at ``address:port`` says, from namespace ``ns``; None when nothing answers."""
    proc = _in_ns(ns, sys.executable, "-c",
                  "import socket,sys\n"
                  "try:\n"
                  f"    c=socket.create_connection(('{address}', {port}), timeout={timeout}); "
                  "print(c.recv(64).decode())\n"
                  "except OSError: sys.exit(1)\n", timeout=timeout + 5)
    return proc.stdout.strip() if proc.returncode == 0 else None


def _ping(ns: str, address: str) -> bool:
    return _in_ns(ns, "busybox", "ping", "-c", "1", "-W", "1", address).returncode == 0


class Echo:
    """An echo-peer server in a namespace (killed at the end of the module)."""

    def __init__(self, ns: str, port: int) -> None:
        self.proc = subprocess.Popen(["nsenter", f"--net=/run/netns/{ns}", "--", sys.executable, "-c", ECHO_PEER,
                                      str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _port_record(view: dict[str, Any]) -> Port:
    return Port(id=view["id"], network_id=view["network_id"], mac_address=view["mac_address"])


def _namespaces() -> set[str]:
    try:
        return set(os.listdir("/run/netns"))
    except FileNotFoundError:
        return set()


@pytest.fixture(scope="module")
def net_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    _require()
    from cumulo_network_linux import netns
    from cumulo_network_linux.driver import owned_namespaces

    before = _namespaces()
    netns.ensure(OUTSIDE_NS)
    cloud = CumuloCloud(tmp_path_factory.mktemp("linux-net"), config={
        "network": {"driver": "linuxbridge", "public_subnet_cidr": PUBLIC_CIDR},
        "linux_network": {"host_namespace": HOST_NS, "outside_namespace": OUTSIDE_NS, "supervise_interval": 1},
    })
    try:
        cloud.start(timeout=120)
        yield cloud
    finally:
        cloud.stop()
        # The backstop: whatever a failed test left of this cloud (its dnsmasq, its namespaces; only
        # those: another module's cloud may run beside this one).
        subprocess.run(["pkill", "-f", f"dnsmasq.*{cloud.state_path}"], check=False)
        ours = {ns for ns in _namespaces() - before if ns.startswith(f"cmt{SUFFIX}-")}
        for ns in ours | owned_namespaces(cloud.state_path):
            netns.remove(ns)


class World:
    """What the tests build once and then poke at: a tenant network, two servers with test hosts, a router."""

    def __init__(self, cloud: CumuloCloud) -> None:
        self.cloud = cloud
        self.hosts: dict[str, Any] = {}
        self.servers: dict[str, str] = {}
        self.ports: dict[str, dict[str, Any]] = {}
        self.echoes: list[Echo] = []
        self.image = ""
        self.fip = self.fip_id = ""

    def server_with_host(self, name: str, network: str) -> Any:
        from cumulo_network_linux.testhosts import TestHost

        port = self.cloud.openstack("port", "create", "--network", network, f"{name}-port")
        server = self.cloud.openstack("server", "create", "--image", self.image, "--flavor", "c1.nano",
                                      "--nic", f"port-id={port['id']}", "--wait", name)
        port = self.cloud.openstack("port", "show", port["id"])
        assert port["binding_host_id"] and port["device_id"] == server["id"]
        host = TestHost.create(f"cmt{SUFFIX}-{name}", _port_record(port), HOST_NS)
        self.hosts[name], self.servers[name], self.ports[name] = host, server["id"], port
        return host

    def fixed_ip(self, name: str) -> str:
        return str(self.ports[name]["fixed_ips"][0]["ip_address"])


@pytest.fixture(scope="module")
def world(net_cloud: CumuloCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    cloud = net_cloud
    w = World(cloud)
    disk = tmp_path_factory.mktemp("img") / "disk.raw"
    disk.write_bytes(os.urandom(4096))
    w.image = "net-img"
    cloud.openstack("image", "create", "--disk-format", "raw", "--container-format", "bare", "--file", str(disk),
                    w.image)
    cloud.openstack("network", "create", "net1")
    cloud.openstack("subnet", "create", "--network", "net1", "--subnet-range", "10.20.0.0/24",
                    "--dns-nameserver", "10.20.0.53", "sub1")
    try:
        yield w
    finally:
        for echo in w.echoes:
            echo.stop()
        for host in w.hosts.values():
            host.delete()


def test_dhcp_gives_each_server_its_port_address_and_they_talk(world: World) -> None:
    cloud = world.cloud
    [dhcp] = [p for p in cloud.openstack("port", "list", "--network", "net1", "--long")
              if p["Device Owner"] == "network:dhcp"]
    assert dhcp["Status"] == "ACTIVE"
    a = world.server_with_host("vm-a", "net1")
    b = world.server_with_host("vm-b", "net1")
    assert a.dhcp() == world.fixed_ip("vm-a")
    assert b.dhcp() == world.fixed_ip("vm-b")
    # The default group lets members reach each other.
    assert _ping(a.namespace, world.fixed_ip("vm-b"))
    assert _ping(b.namespace, world.fixed_ip("vm-a"))


def test_another_network_cannot_reach_them(world: World) -> None:
    cloud = world.cloud
    cloud.openstack("network", "create", "net2")
    cloud.openstack("subnet", "create", "--network", "net2", "--subnet-range", "10.30.0.0/24", "sub2")
    c = world.server_with_host("vm-c", "net2")
    assert c.dhcp() == world.fixed_ip("vm-c")
    assert not _ping(c.namespace, world.fixed_ip("vm-a"))


def test_a_router_gives_snat_and_a_floating_ip_reachability(world: World) -> None:
    cloud = world.cloud
    cloud.openstack("router", "create", "r1")
    cloud.openstack("router", "set", "--external-gateway", "public", "r1")
    cloud.openstack("router", "add", "subnet", "r1", "sub1")
    router = cloud.openstack("router", "show", "r1")
    gateway_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    world.echoes.append(Echo(OUTSIDE_NS, 7100))
    a = world.hosts["vm-a"]
    # Outbound through SNAT: the outside sees the router's gateway address.
    assert wait_for(lambda: _connect(a.namespace, OUTSIDE_IP, 7100), timeout=10) == gateway_ip

    # Inbound through a floating IP, once a rule lets TCP 7000 in.
    world.echoes.append(Echo(a.namespace, 7000))
    world.echoes.append(Echo(a.namespace, 7001))
    fip = cloud.openstack("floating", "ip", "create", "--port", world.ports["vm-a"]["id"], "public")
    address = fip["floating_ip_address"]
    assert _connect(OUTSIDE_NS, address, 7000, timeout=1) is None  # ingress is denied by default
    rule = cloud.openstack("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "7000",
                           "--remote-ip", "0.0.0.0/0", "default", json_out=True)
    assert wait_for(lambda: _connect(OUTSIDE_NS, address, 7000, timeout=1), timeout=5) == OUTSIDE_IP
    assert _connect(OUTSIDE_NS, address, 7001, timeout=1) is None  # only the port the rule names
    assert not _ping(OUTSIDE_NS, address)  # nor ICMP
    started = time.monotonic()
    cloud.openstack("security", "group", "rule", "delete", rule["id"])
    assert wait_for(lambda: _connect(OUTSIDE_NS, address, 7000, timeout=0.5) is None, timeout=5)
    assert time.monotonic() - started < 5
    cloud.openstack("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "7000",
                    "--remote-ip", "0.0.0.0/0", "default")
    assert wait_for(lambda: _connect(OUTSIDE_NS, address, 7000, timeout=1), timeout=5) == OUTSIDE_IP
    world.fip = address
    world.fip_id = fip["id"]


def test_metadata_answers_each_server_for_itself(world: World) -> None:
    for name in ("vm-a", "vm-b"):
        host = world.hosts[name]
        out = host.run("curl", "-sf", "--max-time", "5", "http://169.254.169.254/openstack/latest/meta_data.json")
        assert json.loads(out.stdout)["uuid"] == world.servers[name]
    # A forged header from the instance changes nothing.
    out = world.hosts["vm-a"].run("curl", "-sf", "--max-time", "5", "-H", f"X-Instance-ID: {world.servers['vm-b']}",
                                  "http://169.254.169.254/openstack/latest/meta_data.json")
    assert json.loads(out.stdout)["uuid"] == world.servers["vm-a"]


def test_the_flat_public_network_reaches_the_outside_directly(world: World) -> None:
    from cumulo_network_linux.testhosts import TestHost

    cloud = world.cloud
    port = cloud.openstack("port", "create", "--network", "public", "flat-port")
    server = cloud.openstack("server", "create", "--image", world.image, "--flavor", "c1.nano",
                             "--nic", f"port-id={port['id']}", "--wait", "vm-flat")
    port = cloud.openstack("port", "show", port["id"])
    host = TestHost.create(f"cmt{SUFFIX}-flat", _port_record(port), HOST_NS)
    world.hosts["vm-flat"], world.servers["vm-flat"] = host, server["id"]
    address = port["fixed_ips"][0]["ip_address"]
    assert address.startswith("172.24.4.")
    # The public subnet has no DHCP: the address is configured as the port says.
    host.run("ip", "addr", "add", f"{address}/24", "dev", "eth0")
    world.echoes.append(Echo(host.namespace, 7000))  # the default group's rule of the previous test allows 7000
    assert wait_for(lambda: _connect(OUTSIDE_NS, address, 7000, timeout=1), timeout=5) == OUTSIDE_IP


def test_after_kill_9_and_damage_a_restart_restores_everything(world: World) -> None:
    from cumulo_network_linux import netns

    cloud = world.cloud
    router_id = cloud.openstack("router", "show", "r1")["id"]
    cloud.kill()
    # Damage: the router namespace and the security group tables gone, every dnsmasq of this cloud killed.
    netns.remove(f"qrouter-{router_id}")
    subprocess.run(["pkill", "-f", f"dnsmasq.*{cloud.state_path}"], check=False)
    _in_ns(HOST_NS, "nft", "flush", "ruleset", check=True)
    cloud.start(timeout=120)
    assert wait_for(lambda: _connect(OUTSIDE_NS, world.fip, 7000, timeout=1), timeout=20) == OUTSIDE_IP
    assert _connect(OUTSIDE_NS, world.fip, 7001, timeout=1) is None  # the rules are back, not just open
    assert world.hosts["vm-b"].dhcp() == world.fixed_ip("vm-b")
    out = world.hosts["vm-a"].run("curl", "-sf", "--max-time", "5",
                                  "http://169.254.169.254/openstack/latest/meta_data.json")
    assert json.loads(out.stdout)["uuid"] == world.servers["vm-a"]


def test_removing_the_floating_ip_stops_inbound_and_deleting_leaves_nothing(world: World) -> None:
    from cumulo_network_linux import netns

    cloud = world.cloud
    cloud.openstack("floating", "ip", "delete", world.fip_id)
    assert wait_for(lambda: _connect(OUTSIDE_NS, world.fip, 7000, timeout=0.5) is None, timeout=5)
    networks = {n["Name"]: n["ID"] for n in cloud.openstack("network", "list")}
    router_id = cloud.openstack("router", "show", "r1")["id"]
    for server in world.servers.values():
        cloud.openstack("server", "delete", "--wait", server)
    cloud.openstack("router", "remove", "subnet", "r1", "sub1")
    cloud.openstack("router", "delete", "r1")
    for name in ("vm-a-port", "vm-b-port", "vm-c-port", "flat-port"):
        cloud.openstack("port", "delete", name, check=False)  # a port the user made outlives its server
    cloud.openstack("network", "delete", "net1", "net2")
    left = _namespaces()
    assert f"qrouter-{router_id}" not in left
    assert not {f"qdhcp-{networks['net1']}", f"qdhcp-{networks['net2']}"} & left
    links = set(netns.link_names(HOST_NS))
    for net in ("net1", "net2"):
        assert f"brq{networks[net][:11]}" not in links
    assert not {f"tap{world.ports[name]['id'][:11]}" for name in world.ports} & links
    dnsmasq = subprocess.run(["pgrep", "-f", f"dnsmasq.*{cloud.state_path}"], capture_output=True, text=True)
    assert dnsmasq.stdout.strip() == ""
