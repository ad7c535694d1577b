"""Time from ``port create`` + bind to traffic flowing, on the linuxbridge driver itself (no API, no database).

Usage::

    sudo .venv/bin/python tests/bench/bench_port_to_traffic.py [--sizes 1,10,50] [--rounds 3]

It builds :class:`cumulo_network_linux.driver.LinuxBridgeDriver` with an
oslo.config ``ConfigOpts`` of its own, its bridges in a host namespace made for
the run (``[linux_network] host_namespace``), metadata proxies off. For each
size N and round it makes a network (``local``, one /24 subnet with DHCP, a
DHCP port) with a reference "instance" (a test host on a bound compute port,
its address configured statically, a TCP listener), in the default-group shape:
egress allowed, ingress from members of the group. Then, one after the other,
N more bound compute ports (``device_owner`` ``compute:nova``, ``host`` set),
each measured from the call to ``port_changed("create", port)`` to the first
TCP connection it opens to the reference host. The steps of one port:

* ``driver``: ``port_changed("create")`` returns (dnsmasq's hosts file
  rewritten and SIGHUPed, the whole security group ruleset re-rendered and
  applied, the new address in the group's remote set);
* ``plug``: a test host is plugged into the bridge under the port's tap name,
  as a hypervisor plugs the instance's tap (:class:`TestHost`);
* ``dhcp``: the test host gets its lease (busybox ``udhcpc``, one DISCOVER a
  second);
* ``tcp``: its first TCP connect to the reference host succeeds (tries of
  0.2 s), through both ends' security groups.

Prints, per size, the median and 90th percentile of each step and of the
total over all N x rounds ports (the Nth port of a size has N ports on the
network before it). It asserts nothing. Nothing outside the namespaces it
makes is touched; it does not call ``sync`` (which removes every ``qdhcp-`` and
``qrouter-`` namespace its model does not have, on the whole machine).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator

from cumulo_network_linux import netns
from cumulo_network_linux import opts as linux_opts
from cumulo_network_linux.driver import LinuxBridgeDriver
from cumulo_network_linux.testhosts import TestHost
from oslo_config import cfg

from cumulo import conf as cumulo_conf
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.network import Direction, FixedIP, Network, Port, SecurityGroup, SecurityGroupRule, Subnet

STEPS = ("driver", "plug", "dhcp", "tcp", "total")
LISTEN_PORT = 7070
CONNECT_TRY = 0.2  # seconds per TCP connect attempt
CONNECT_DEADLINE = 15.0
GROUP = "default"
HOST = "bench-compute"


def _mac(i: int) -> str:
    return f"fa:16:3e:{os.urandom(1).hex()}:{i >> 8:02x}:{i & 255:02x}"


def _group() -> SecurityGroup:
    """The default group's rules: egress anywhere, ingress from members."""
    def rule(n: int, direction: Direction, remote: str | None) -> SecurityGroupRule:
        return SecurityGroupRule(id=f"{GROUP}-r{n}", security_group_id=GROUP, direction=direction,
                                 ethertype="IPv4", remote_group_id=remote)
    return SecurityGroup(id=GROUP, name=GROUP, project_id="p", rules=(rule(1, "egress", None),
                                                                    rule(2, "ingress", GROUP)))


class Lab:
    """The driver, its host namespace and state directory, and the test hosts of one run."""

    def __init__(self) -> None:
        self.suffix = uuid.uuid4().hex[:6]
        self.host_ns = f"p2t-{self.suffix}-host"
        self.state = tempfile.mkdtemp(prefix="bench-p2t-")
        conf = cfg.ConfigOpts()
        cumulo_conf.register(conf)
        linux_opts.register(conf)
        conf.set_override("state_path", self.state)
        conf.set_override("host_namespace", self.host_ns, group=linux_opts.GROUP)
        conf.set_override("metadata_proxy", False, group=linux_opts.GROUP)
        conf.set_override("dhcp_lease_time", 600, group=linux_opts.GROUP)
        self.driver = LinuxBridgeDriver(PluginContext(conf, kind="network", name="linuxbridge", host=HOST))
        self.driver.security_group_changed("create", _group())
        self.hosts: list[TestHost] = []
        self.networks: list[Network] = []
        self.count = 0

    def network(self, index: int) -> tuple[Network, list[str]]:
        """A network with a DHCP subnet ``10.<index>.0.0/24`` and its DHCP port; the free addresses."""
        network_id = str(uuid.uuid4())
        subnet = Subnet(id=str(uuid.uuid4()), network_id=network_id, cidr=f"10.{100 + index}.0.0/24", ip_version=4,
                        gateway_ip=f"10.{100 + index}.0.1")
        dhcp = Port(id=str(uuid.uuid4()), network_id=network_id, mac_address=self._next_mac(), project_id="p",
                    fixed_ips=(FixedIP(subnet.id, f"10.{100 + index}.0.2"),), device_owner="network:dhcp",
                    device_id=f"dhcp-{network_id}")
        network = Network(id=network_id, name=f"bench-{index}", project_id="p", network_type="local", mtu=1500,
                          subnets=(subnet,), dhcp_port=dhcp)
        self.driver.network_changed("create", network)
        self.networks.append(network)
        return network, [f"10.{100 + index}.0.{i}" for i in range(10, 254)]

    def _next_mac(self) -> str:
        self.count += 1
        return _mac(self.count)

    def port(self, network: Network, address: str) -> Port:
        return Port(id=str(uuid.uuid4()), network_id=network.id, mac_address=self._next_mac(), project_id="p",
                    fixed_ips=(FixedIP(network.subnets[0].id, address),), device_owner="compute:nova",
                    device_id=str(uuid.uuid4()), host=HOST, security_group_ids=(GROUP,))

    def plug(self, port: Port) -> TestHost:
        host = TestHost.create(f"p2t-{self.suffix}-{port.id[:8]}", port, self.host_ns)
        self.hosts.append(host)
        return host

    def close(self) -> None:
        for host in self.hosts:
            with contextlib.suppress(Exception):
                host.delete()
        for network in self.networks:
            with contextlib.suppress(Exception):
                self.driver.network_changed("delete", network)
        self.driver.close()
        netns.remove(self.host_ns)
        shutil.rmtree(self.state, ignore_errors=True)


@contextlib.contextmanager
def listener(namespace: str) -> Iterator[None]:
    """A TCP server on LISTEN_PORT in ``namespace`` that accepts and closes every connection."""
    def listen() -> socket.socket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", LISTEN_PORT))
        sock.listen(64)
        return sock

    sock: socket.socket = netns.in_namespace(namespace, listen)
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        sock.close()


def first_connect(namespace: str, address: str) -> None:
    """Return once a TCP connection from ``namespace`` to ``address`` succeeds.

    :raises TimeoutError: none did within CONNECT_DEADLINE seconds.
    """
    def attempt() -> None:
        deadline = time.monotonic() + CONNECT_DEADLINE
        while True:
            try:
                socket.create_connection((address, LISTEN_PORT), timeout=CONNECT_TRY).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no TCP connection to {address} from {namespace}") from None
                time.sleep(0.01)  # a refused or unreachable attempt returns at once: do not spin

    netns.in_namespace(namespace, attempt)


def one_port(lab: Lab, network: Network, address: str, reference: str) -> dict[str, float]:
    port = lab.port(network, address)
    t0 = time.perf_counter()
    lab.driver.port_changed("create", port)
    t1 = time.perf_counter()
    host = lab.plug(port)
    t2 = time.perf_counter()
    got = host.dhcp(timeout=10)
    t3 = time.perf_counter()
    if got != address:
        raise RuntimeError(f"port {port.id} got {got} by DHCP, not {address}")
    first_connect(host.namespace, reference)
    t4 = time.perf_counter()
    return {"driver": t1 - t0, "plug": t2 - t1, "dhcp": t3 - t2, "tcp": t4 - t3, "total": t4 - t0}


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def run(sizes: list[int], rounds: int) -> None:
    lab = Lab()
    try:
        print(f"{'ports':>5s} {'samples':>7s}  " + "  ".join(f"{s + ' med/p90':>17s}" for s in STEPS))
        index = 0
        for n in sizes:
            samples: list[dict[str, float]] = []
            for _ in range(rounds):
                network, free = lab.network(index)
                index += 1
                reference_port = lab.port(network, free.pop(0))
                reference_address = reference_port.fixed_ips[0].ip_address
                lab.driver.port_changed("create", reference_port)
                reference = lab.plug(reference_port)
                reference.run("ip", "addr", "add", f"{reference_address}/24", "dev", "eth0")
                with listener(reference.namespace):
                    for _ in range(n):
                        samples.append(one_port(lab, network, free.pop(0), reference_address))
                for host in lab.hosts:
                    host.delete()
                lab.hosts.clear()
                lab.driver.network_changed("delete", network)
                lab.networks.remove(network)
                for port_id in [p.id for p in lab.driver.ports.values() if p.network_id == network.id]:
                    lab.driver.port_changed("delete", lab.driver.ports[port_id])
            cells = []
            for step in STEPS:
                values = [s[step] * 1000 for s in samples]
                cells.append(f"{statistics.median(values):7.1f}/{p90(values):7.1f}ms")
            print(f"{n:5d} {len(samples):7d}  " + "  ".join(f"{c:>17s}" for c in cells), flush=True)
    finally:
        lab.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_port_to_traffic: needs root (it makes namespaces, bridges, nftables tables, dnsmasq)",
              file=sys.stderr)
        return 1
    missing = [t for t in ("nft", "dnsmasq", "busybox", "nsenter")
               if not shutil.which(t) and not shutil.which(t, path="/usr/sbin:/sbin")]
    if missing:
        print(f"bench_port_to_traffic: {', '.join(missing)} not installed (tools/system-packages.sh installs them)",
              file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    run([int(s) for s in args.sizes.split(",")], args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
