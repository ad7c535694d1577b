"""DHCP for a network: dnsmasq in the network's ``qdhcp-`` namespace, on the network's DHCP port.

As Neutron's DHCP agent does it: one dnsmasq per network serving only the
hosts it is told about (``static`` ranges: a MAC not in the hosts file gets no
lease), with per-subnet options (router, DNS servers, classless static routes,
MTU) in an options file. A change of hosts or options rewrites the files and
sends SIGHUP (dnsmasq re-reads both); a change of what dnsmasq was started
with (subnets, interface, lease time) restarts it. dnsmasq runs as a daemon
that outlives the driver: a new driver adopts it through its pid file, after
checking ``/proc/<pid>/cmdline`` names that network's files.

Files, under ``state_dir/<network id>/`` (0700, files 0600: they list the
tenants' addresses): ``hosts``, ``opts``, ``leases``, ``pid``, ``dnsmasq.log``.
dnsmasq keeps root (``--user=root``) because it re-reads the hosts and
options files on SIGHUP, after it would have dropped its privileges, and
those files are private to root.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
import shutil
import signal
import time
from collections.abc import Sequence

from cumulo.interfaces.network import NetworkDriverError
from cumulo.interfaces.network.records import Network, Port, Subnet
from cumulo_network_linux import names, netns

LOG = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
STOP_TIMEOUT = 5.0
START_TIMEOUT = 10.0
MAX_LEASES = 2 ** 24


def subnet_tag(subnet: Subnet) -> str:
    """The dnsmasq tag of a subnet's range and options."""
    return f"subnet-{subnet.id}"


def hostname(address: str) -> str:
    """``host-10-0-0-5`` (Neutron's name for a port's address)."""
    return "host-" + address.replace(".", "-").replace(":", "-")


def _range_mode(subnet: Subnet) -> str | None:
    """The dnsmasq range mode of a DHCP subnet; None: dnsmasq has nothing to do for it."""
    if subnet.ip_version == 4:
        return "static"
    mode = subnet.ipv6_address_mode
    if mode == "dhcpv6-stateful" or (mode is None and subnet.ipv6_ra_mode is None):
        return "static"
    if mode == "dhcpv6-stateless":
        return "ra-stateless"
    if mode == "slaac" and subnet.ipv6_ra_mode is not None:
        return "ra-only"
    return None


def _process_argv(pid: int) -> list[str]:
    """The command line of process ``pid``; empty when it is gone (or a zombie)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _write_private(path: str, content: str) -> bool:
    """Make ``path`` hold ``content`` (mode 0600, replaced atomically); whether it changed."""
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == content:
                return False
    except FileNotFoundError:
        pass
    tmp = path + ".tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(content)
    os.replace(tmp, path)
    return True


class _Files:
    """The paths of one network's dnsmasq state."""

    def __init__(self, state_dir: str, network_id: str) -> None:
        self.dir = os.path.join(state_dir, network_id)
        self.hosts = os.path.join(self.dir, "hosts")
        self.opts = os.path.join(self.dir, "opts")
        self.leases = os.path.join(self.dir, "leases")
        self.pid = os.path.join(self.dir, "pid")
        self.log = os.path.join(self.dir, "dnsmasq.log")


class DhcpServers:
    """dnsmasq per network, its DHCP port in ``names.dhcp_namespace(net.id)`` on the bridge in ``host_ns``.

    ``dns_servers`` are handed out on subnets that name none; with
    ``metadata`` the DHCP port also holds ``metadata_address``/32 and every
    IPv4 subnet's hosts get a route to it through the DHCP port (option 121).
    """

    def __init__(self, state_dir: str, host_ns: str | None, dnsmasq: str = "dnsmasq", lease_time: int = 86400,
                 dns_servers: Sequence[str] = (), metadata: bool = True,
                 metadata_address: str = "169.254.169.254") -> None:
        self.state_dir = state_dir
        self.host_ns = host_ns or None
        self.dnsmasq = dnsmasq
        self.lease_time = lease_time
        self.dns_servers = tuple(dns_servers)
        self.metadata = metadata
        self.metadata_address = metadata_address
        #: The command line of every dnsmasq this object keeps running (what supervise restarts).
        self._argv: dict[str, list[str]] = {}

    # -- the interface the driver calls ----------------------------------------------------------

    def ensure(self, network: Network, dhcp_port: Port, ports: Sequence[Port]) -> None:
        """Serve DHCP on ``network`` from ``dhcp_port`` to ``ports`` (the DHCP port among them is skipped).

        The network's bridge must exist. A network with no DHCP subnet the
        DHCP port has an address on gets no server (one it had is removed).

        :raises NetworkDriverError: a link cannot be made or dnsmasq does not start.
        """
        served = self._served_subnets(network, dhcp_port)
        if not served:
            self.remove(network.id)
            return
        namespace = names.dhcp_namespace(network.id)
        interface = names.dhcp_interface(dhcp_port.id)
        files = _Files(self.state_dir, network.id)
        self._make_dirs(files)  # first: the state directory is the record that the namespace is ours
        before = self._interface_index(namespace, interface)
        netns.plug_veth(self.host_ns, names.bridge(network.id), names.tap(dhcp_port.id), namespace, interface,
                        dhcp_port.mac_address, self._port_addresses(network, dhcp_port), mtu=network.mtu)
        self._drop_other_interfaces(namespace, interface)
        replugged = before != self._interface_index(namespace, interface)

        changed = _write_private(files.hosts, self._hosts(network, served, dhcp_port, ports))
        changed = _write_private(files.opts, self._opts(network, served, dhcp_port)) or changed
        argv = self._command(network, served, interface, files)
        self._argv[network.id] = argv
        pid = self._live_pid(network.id)
        if pid is not None and not replugged and _process_argv(pid) == argv:
            if changed:
                os.kill(pid, signal.SIGHUP)
            return
        self._stop(network.id)  # also one whose pid file was lost: it would hold the interface's DHCP socket
        self._start(network.id, argv)

    def remove(self, network_id: str) -> None:
        """Stop the network's dnsmasq and delete its namespace and state directory."""
        self._argv.pop(network_id, None)
        self._stop(network_id)
        namespace = names.dhcp_namespace(network_id)
        if netns.exists(namespace):
            # Deleted here, synchronously (the bridge side goes with each): a namespace's links go only
            # when the kernel frees it, which may be later than its name.
            for link in netns.link_names(namespace):
                if link != "lo":
                    netns.delete_link(namespace, link)
        netns.remove(namespace)
        shutil.rmtree(_Files(self.state_dir, network_id).dir, ignore_errors=True)

    def supervise(self) -> list[str]:
        """Start again every dnsmasq this object keeps that has died; the ids of the networks restarted."""
        restarted = []
        for network_id, argv in list(self._argv.items()):
            if self._live_pid(network_id) is not None:
                continue
            try:
                self._stop(network_id)
                self._start(network_id, argv)
            except NetworkDriverError as err:  # the others still get their turn
                LOG.error("linuxbridge: cannot restart dnsmasq of network %s: %s", network_id, err)
                continue
            restarted.append(network_id)
        return restarted

    def managed(self) -> set[str]:
        """The ids of the networks with a state directory here (another data plane's qdhcp- namespaces are not ours)."""
        found: set[str] = set()
        with contextlib.suppress(FileNotFoundError):
            found.update(entry.name for entry in os.scandir(self.state_dir) if entry.is_dir())
        return found

    # -- what dnsmasq serves -----------------------------------------------------------------------

    @staticmethod
    def _served_subnets(network: Network, dhcp_port: Port) -> list[tuple[Subnet, str]]:
        """The DHCP subnets dnsmasq has a range for, each with the DHCP port's address on it."""
        served = []
        for subnet in network.subnets:
            address = next((ip.ip_address for ip in dhcp_port.fixed_ips if ip.subnet_id == subnet.id), None)
            if not subnet.enable_dhcp or _range_mode(subnet) is None:
                continue
            if address is None:
                LOG.warning("linuxbridge: DHCP port %s has no address on subnet %s: no DHCP there",
                            dhcp_port.id, subnet.id)
                continue
            served.append((subnet, address))
        return served

    def _port_addresses(self, network: Network, dhcp_port: Port) -> list[tuple[str, int]]:
        addresses = []
        for ip in dhcp_port.fixed_ips:
            subnet = network.subnet(ip.subnet_id)
            if subnet is not None:
                addresses.append((ip.ip_address, subnet.prefixlen))
        if self.metadata:
            addresses.append((self.metadata_address, 32))
        return addresses

    @staticmethod
    def _hosts(network: Network, served: list[tuple[Subnet, str]], dhcp_port: Port, ports: Sequence[Port]) -> str:
        """``mac,host-<ip>,<ip>`` per address a port holds on a stateful DHCP subnet."""
        stateful = {subnet.id for subnet, _ in served if _range_mode(subnet) == "static"}
        lines = []
        for port in sorted(ports, key=lambda p: p.id):
            if port.id == dhcp_port.id or port.network_id != network.id:
                continue
            for ip in port.fixed_ips:
                if ip.subnet_id in stateful:
                    shown = f"[{ip.ip_address}]" if ip.version == 6 else ip.ip_address
                    lines.append(f"{port.mac_address},{hostname(ip.ip_address)},{shown}\n")
        return "".join(lines)

    def _opts(self, network: Network, served: list[tuple[Subnet, str]], dhcp_port: Port) -> str:
        lines = []
        for subnet, address in served:
            tag = subnet_tag(subnet)
            dns = subnet.dns_nameservers or tuple(
                s for s in self.dns_servers if ipaddress.ip_address(s).version == subnet.ip_version)
            if subnet.ip_version == 6:
                if dns:
                    lines.append(f"tag:{tag},option6:dns-server,{','.join(f'[{s}]' for s in dns)}")
                continue
            # Without a router option dnsmasq would offer its own address as the router.
            lines.append(f"tag:{tag},option:router" + (f",{subnet.gateway_ip}" if subnet.gateway_ip else ""))
            if dns:
                lines.append(f"tag:{tag},option:dns-server,{','.join(dns)}")
            routes = self._static_routes(subnet, address)
            if routes:
                flat = ",".join(f"{destination},{nexthop}" for destination, nexthop in routes)
                lines.append(f"tag:{tag},option:classless-static-route,{flat}")
                lines.append(f"tag:{tag},249,{flat}")  # the same list for older Windows clients
            lines.append(f"tag:{tag},option:mtu,{network.mtu}")
        return "".join(line + "\n" for line in lines)

    def _static_routes(self, subnet: Subnet, dhcp_address: str) -> list[tuple[str, str]]:
        """Option 121: the metadata route and host routes, then the default route (RFC 3442: 121 replaces 3)."""
        routes: list[tuple[str, str]] = []
        if self.metadata:
            routes.append((f"{self.metadata_address}/32", dhcp_address))
        for route in subnet.host_routes:
            destination = str(ipaddress.ip_network(route.destination, strict=False))
            if ipaddress.ip_network(destination).version == 4 and (destination, route.nexthop) not in routes:
                routes.append((destination, route.nexthop))
        if routes and subnet.gateway_ip and not any(d == "0.0.0.0/0" for d, _ in routes):
            routes.append(("0.0.0.0/0", subnet.gateway_ip))
        return routes

    def _command(self, network: Network, served: list[tuple[Subnet, str]], interface: str, files: _Files) -> list[str]:
        leases = 0
        argv = [self.dnsmasq, "--conf-file=", "--no-hosts", "--no-resolv", "--port=0", "--user=root",
                f"--pid-file={files.pid}", f"--dhcp-hostsfile={files.hosts}", f"--dhcp-optsfile={files.opts}",
                f"--dhcp-leasefile={files.leases}", f"--log-facility={files.log}",
                "--bind-interfaces", f"--interface={interface}"]
        advertise = False
        for subnet, _ in served:
            net = ipaddress.ip_network(subnet.cidr, strict=False)
            mode = _range_mode(subnet)
            mask = str(net.netmask) if net.version == 4 else str(net.prefixlen)
            argv.append(f"--dhcp-range=set:{subnet_tag(subnet)},{net.network_address},{mode},{mask},"
                        f"{self.lease_time}s")
            leases += net.num_addresses
            advertise = advertise or (net.version == 6 and subnet.ipv6_ra_mode is not None)
        argv.append(f"--dhcp-lease-max={min(leases, MAX_LEASES)}")
        if advertise:
            # Prefixes and MTU only: router lifetime 0, since this namespace routes nothing.
            argv += ["--enable-ra", f"--ra-param={interface},mtu:{network.mtu},60,0"]
        return argv

    # -- the process ----------------------------------------------------------------------------------

    def _live_pid(self, network_id: str) -> int | None:
        """The pid of this network's running dnsmasq, from its pid file (checked against its command line)."""
        files = _Files(self.state_dir, network_id)
        try:
            with open(files.pid, encoding="ascii") as f:
                pid = int(f.read().strip() or 0)
        except (OSError, ValueError):
            return None
        if pid > 0 and f"--pid-file={files.pid}" in _process_argv(pid):
            return pid
        return None

    def _pids(self, network_id: str) -> set[int]:
        """Every dnsmasq of this network: the pid file's, and any other naming its pid file (a lost one)."""
        marker = f"--pid-file={_Files(self.state_dir, network_id).pid}"
        found = set()
        for entry in os.listdir("/proc"):
            if entry.isdigit() and marker in _process_argv(int(entry)):
                found.add(int(entry))
        return found

    def _start(self, network_id: str, argv: list[str]) -> None:
        """Start dnsmasq (it daemonises once it serves, or exits with why not) and wait for its pid file."""
        files = _Files(self.state_dir, network_id)
        self._make_dirs(files)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(files.pid)
        for path in (files.leases, files.log):  # dnsmasq keeps the mode of a file that exists (else 0644)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE))
            os.chmod(path, FILE_MODE)
        namespace = names.dhcp_namespace(network_id)
        if not netns.exists(namespace):
            raise NetworkDriverError(f"cannot start dnsmasq of network {network_id}: namespace {namespace} is gone")
        netns.run(namespace, argv, timeout=START_TIMEOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while self._live_pid(network_id) is None:
            if time.monotonic() > deadline:
                raise NetworkDriverError(f"dnsmasq of network {network_id} started but wrote no pid file "
                                         f"{files.pid}")
            time.sleep(0.02)

    def _stop(self, network_id: str) -> None:
        """SIGTERM every dnsmasq of this network, SIGKILL after STOP_TIMEOUT; nothing when none runs."""
        pids = self._pids(network_id)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except OSError as err:
                    if err.errno != errno.ESRCH:
                        raise
            deadline = time.monotonic() + STOP_TIMEOUT
            while pids and time.monotonic() < deadline:
                pids = {pid for pid in pids if _process_argv(pid)}
                if pids:
                    time.sleep(0.02)
            if not pids:
                return
        raise NetworkDriverError(f"dnsmasq of network {network_id} (pid {sorted(pids)}) does not stop")

    # -- the namespace ------------------------------------------------------------------------------

    @staticmethod
    def _interface_index(namespace: str, interface: str) -> int | None:
        if not netns.exists(namespace):
            return None
        with netns.route(namespace) as ipr:
            return netns.link_index(ipr, interface)

    @staticmethod
    def _drop_other_interfaces(namespace: str, interface: str) -> None:
        """Delete the interfaces of DHCP ports the network no longer has (another port took the role)."""
        for ifname in netns.link_names(namespace):
            if ifname != interface and ifname.startswith(names.DHCP_INTERFACE_PREFIX):
                netns.delete_link(namespace, ifname)

    def _make_dirs(self, files: _Files) -> None:
        os.makedirs(self.state_dir, mode=DIR_MODE, exist_ok=True)
        os.makedirs(files.dir, mode=DIR_MODE, exist_ok=True)
        os.chmod(files.dir, DIR_MODE)
