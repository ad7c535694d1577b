"""Routers of the ``linuxbridge`` driver: a ``qrouter-`` namespace per router, with nftables NAT.

A router's namespace holds one ``qr-`` veth per interface (its other end, the
port's ``tap``, on the interface network's bridge in the host namespace) and
the ``qg-`` gateway veth on the external network's bridge. The gateway holds
the external fixed IPs and every associated floating IP as a /32, so the
router answers ARP for them. NAT is one table, ``ip cumulo_nat``, rendered
whole from the record (:func:`render_nat`) and replaced in one ``nft``
transaction. The routes this module adds carry protocol ``static``, which is
how it finds the ones the record no longer has.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
import socket
import struct
from collections.abc import Iterable, Mapping, Sequence

from pyroute2 import Conntrack
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple

from cumulo.interfaces.network import FloatingIP, Network, NetworkDriverError, Router, RouterInterface
from cumulo_network_linux import names, netns

LOG = logging.getLogger(__name__)

NAT_TABLE = "cumulo_nat"
RTPROT_STATIC = 4  # the routes this module owns in a router's main table
MAIN_TABLE = 254
ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
_OUR_PREFIXES = (names.ROUTER_INTERFACE_PREFIX, names.ROUTER_GATEWAY_PREFIX)


def _version(address: str) -> int:
    return ipaddress.ip_interface(address).version


def _nat_fips(router: Router) -> list[FloatingIP]:
    """The IPv4 floating IPs the router NATs, by address (one per address; NAT is IPv4 only)."""
    seen: dict[str, FloatingIP] = {}
    for fip in router.floating_ips:
        if (fip.associated and fip.fixed_ip_address and _version(fip.floating_ip_address) == 4
                and _version(fip.fixed_ip_address) == 4):
            seen.setdefault(fip.floating_ip_address, fip)
    return [seen[a] for a in sorted(seen, key=ipaddress.ip_address)]


def _gateway_ipv4(router: Router) -> str | None:
    if router.gateway is None:
        return None
    return next((ip.ip_address for ip in router.gateway.fixed_ips if _version(ip.ip_address) == 4), None)


def _internal_subnets(router: Router) -> list[str]:
    """The IPv4 subnets of the router's interfaces (sorted, canonical)."""
    cidrs = {str(ipaddress.ip_network(ip.cidr, strict=False))
             for iface in router.interfaces for ip in iface.fixed_ips if _version(ip.ip_address) == 4}
    return sorted(cidrs, key=ipaddress.ip_network)


def render_nat(router: Router) -> str:
    """The nft script that makes ``table ip cumulo_nat`` exactly what ``router`` needs (declare, delete, redeclare).

    Post-routing, in order: traffic leaving by a ``qr-`` interface that was not
    DNATed is routed between the router's own subnets and keeps its addresses;
    what remains leaves by the gateway or was DNATed to a floating IP's port.
    A floating IP's port is SNATed to its floating IP (outbound, and hairpin to
    another floating IP); other DNATed traffic from the router's subnets
    (hairpin: an instance to a floating IP of its own subnets) is SNATed to the
    gateway so the replies come back through the router; with ``enable_snat``
    the subnets' outbound traffic is SNATed to the gateway's first IPv4 address.
    """
    dnat: list[str] = []
    snat: list[str] = []
    gateway_ip = _gateway_ipv4(router)
    if router.gateway is not None:
        qg = names.router_gateway(router.gateway.port_id)
        subnets = _internal_subnets(router)
        subnet_set = "{ " + ", ".join(subnets) + " }"
        snat.append(f'oifname != "{qg}" ct status ! dnat accept')
        for fip in _nat_fips(router):
            dnat.append(f"ip daddr {fip.floating_ip_address} dnat to {fip.fixed_ip_address}")
            snat.append(f"ip saddr {fip.fixed_ip_address} snat to {fip.floating_ip_address}")
        if subnets and gateway_ip is not None:
            snat.append(f"ip saddr {subnet_set} ct status dnat snat to {gateway_ip}")
            if router.enable_snat:
                snat.append(f'oifname "{qg}" ip saddr {subnet_set} snat to {gateway_ip}')

    def chain(name: str, hook: str, priority: str, rules: Sequence[str]) -> list[str]:
        return [f"\tchain {name} {{", f"\t\ttype nat hook {hook} priority {priority}; policy accept;",
                *(f"\t\t{rule}" for rule in rules), "\t}"]

    lines = [f"table ip {NAT_TABLE}", f"delete table ip {NAT_TABLE}", f"table ip {NAT_TABLE} {{",
             *chain("prerouting", "prerouting", "dstnat", dnat),
             # The router's own processes (a metadata proxy, a ping from the namespace) reach floating IPs too.
             *chain("output", "output", "-100", dnat),
             *chain("postrouting", "postrouting", "srcnat", snat),
             "}"]
    return "\n".join(lines) + "\n"


def _garp_frame(mac: str, address: str) -> bytes:
    """A gratuitous ARP request (an announcement): sender and target are ``address``, from ``mac``."""
    hw = bytes.fromhex(mac.replace(":", ""))
    ip = socket.inet_aton(address)
    return (b"\xff" * 6 + hw + struct.pack("!H", ETH_P_ARP)
            + struct.pack("!HHBBH", 1, ETH_P_IP, 6, 4, 1) + hw + ip + b"\x00" * 6 + ip)


class Routers:
    """Router namespaces, their interfaces, routes and NAT.

    ``host_ns`` is the namespace of the bridges (None: this process's);
    ``metadata_address``, when set, is put as a /32 on every router's ``lo``
    for the metadata proxy another module runs there. Every method is
    idempotent. The floating-IP mapping last applied is remembered per router
    so that connections of a floating IP that moved or went are forgotten
    (conntrack would otherwise keep NATing them).
    """

    def __init__(self, host_ns: str | None, nft_binary: str = "nft",
                 metadata_address: str | None = "169.254.169.254", state_dir: str | None = None) -> None:
        self.host_ns = host_ns or None
        # Where each router this data plane made is recorded (a file per id, written before its namespace
        # is made): what :meth:`managed` reports, so another data plane's qrouter- namespaces on the same
        # machine are never taken for strays. None: every qrouter- namespace counts.
        self.state_dir = state_dir
        self.nft_binary = nft_binary
        self.metadata_address = metadata_address
        self._applied: dict[str, dict[str, str]] = {}

    # -- the three operations ----------------------------------------------------------------------
    def ensure(self, router: Router, networks: Mapping[str, Network]) -> None:
        """Make the router's namespace exactly ``router``: interfaces, addresses, routes, NAT, floating IPs.

        :raises NetworkDriverError: a link, address, route or the NAT table could not be made (what
            could be made is; the routes that failed are named).
        """
        ns = names.router_namespace(router.id)
        self._record(router.id, True)
        netns.ensure(ns)
        self._sysctls(ns)
        gateway_before = self._ipv4_addresses(ns, router.gateway)
        wanted_links: set[str] = set()
        for iface in router.interfaces:
            wanted_links.add(self._plug(ns, iface, iface.network_id, names.router_interface(iface.port_id),
                                        [(ip.ip_address, ip.prefixlen) for ip in iface.fixed_ips], networks))
        fips = _nat_fips(router)
        if router.gateway is not None and router.external_network_id is not None:
            addresses = [(ip.ip_address, ip.prefixlen) for ip in router.gateway.fixed_ips]
            addresses += [(f.floating_ip_address, 32) for f in fips
                          if (f.floating_ip_address, 32) not in addresses]
            wanted_links.add(self._plug(ns, router.gateway, router.external_network_id,
                                        names.router_gateway(router.gateway.port_id), addresses, networks))
        self._remove_stale_links(ns, wanted_links)
        self._lo_addresses(ns)
        netns.nft(ns, render_nat(router), binary=self.nft_binary)
        self._forget_connections(ns, router, fips, gateway_before)
        if not router.admin_state_up:
            self._set_state(ns, wanted_links, "down")
            return  # a down link has no routes: they come back with the interfaces
        failures = self._routes(ns, router, networks)
        if router.gateway is not None:
            added = sorted(set(self._ipv4_addresses(ns, router.gateway)) - set(gateway_before))
            self._announce(ns, names.router_gateway(router.gateway.port_id), router.gateway.mac_address, added)
        if failures:
            raise NetworkDriverError(f"router {router.id}: " + "; ".join(failures))

    def remove(self, router_id: str) -> None:
        """Delete the router's namespace and its veths (both ends); nothing when it does not exist."""
        self._applied.pop(router_id, None)
        ns = names.router_namespace(router_id)
        if not netns.exists(ns):
            self._record(router_id, False)
            return
        taps = []
        for link in netns.link_names(ns):
            for prefix in _OUR_PREFIXES:
                if (port_prefix := names.id_prefix(link, prefix)) is not None:
                    taps.append(names.tap(port_prefix))
                    # Deleted here, synchronously: a namespace's links go only when the kernel frees it.
                    netns.delete_link(ns, link)
        netns.remove(ns)
        for tap in taps:
            netns.delete_link(self.host_ns, tap)
        self._record(router_id, False)

    def managed(self) -> set[str]:
        """The ids of the routers this data plane made (see ``state_dir``) or, without one, whose namespace exists."""
        if self.state_dir is not None:
            try:
                return set(os.listdir(self.state_dir))
            except FileNotFoundError:
                return set()
        found = (names.id_prefix(n, names.ROUTER_NS_PREFIX) for n in netns.names(names.ROUTER_NS_PREFIX))
        return {router_id for router_id in found if router_id}

    def _record(self, router_id: str, made: bool) -> None:
        if self.state_dir is None:
            return
        path = os.path.join(self.state_dir, router_id)
        if made:
            os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
            with open(path, "a"):
                pass
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)

    # -- parts of ensure ---------------------------------------------------------------------------
    @staticmethod
    def _sysctls(ns: str) -> None:
        netns.sysctl(ns, "net.ipv4.ip_forward", 1)
        # Hairpin NAT forwards out of the interface a packet came in by: no redirects to the instance.
        netns.sysctl(ns, "net.ipv4.conf.all.send_redirects", 0)
        netns.sysctl(ns, "net.ipv4.conf.default.send_redirects", 0)
        if netns.in_namespace(ns, lambda: os.path.exists("/proc/sys/net/ipv6/conf/all/forwarding")):
            netns.sysctl(ns, "net.ipv6.conf.all.forwarding", 1)

    def _plug(self, ns: str, iface: RouterInterface, network_id: str, ifname: str,
              addresses: Sequence[tuple[str, int]], networks: Mapping[str, Network]) -> str:
        network = networks.get(network_id)
        netns.plug_veth(self.host_ns, names.bridge(network_id), names.tap(iface.port_id), ns, ifname,
                        iface.mac_address, addresses, mtu=network.mtu if network is not None else 1500)
        return ifname

    @staticmethod
    def _remove_stale_links(ns: str, wanted: set[str]) -> None:
        """Delete the ``qr-``/``qg-`` veths the record no longer has (their bridge ends go with them)."""
        for link in netns.link_names(ns):
            if link.startswith(_OUR_PREFIXES) and link not in wanted:
                netns.delete_link(ns, link)

    @staticmethod
    def _set_state(ns: str, links: Iterable[str], state: str) -> None:
        with netns.route(ns) as ipr:
            for link in links:
                index = netns.link_index(ipr, link)
                if index is not None:
                    ipr.link("set", index=index, state=state)

    def _lo_addresses(self, ns: str) -> None:
        """The metadata address as a /32 on ``lo`` (and no other address but the loopback ones)."""
        wanted = {(self.metadata_address, 32 if _version(self.metadata_address) == 4 else 128)} \
            if self.metadata_address else set()
        with netns.route(ns) as ipr:
            index = netns.link_index(ipr, "lo")
            if index is None:
                raise NetworkDriverError(f"namespace {ns} has no lo")
            for addr in ipr.get_addr(index=index):
                have = (addr.get("IFA_ADDRESS"), addr["prefixlen"])
                if have in wanted:
                    wanted.discard(have)
                elif not ipaddress.ip_address(have[0]).is_loopback:
                    with contextlib.suppress(NetlinkError):
                        ipr.addr("del", index=index, address=have[0], prefixlen=have[1])
            for address, prefixlen in wanted:
                try:
                    ipr.addr("add", index=index, address=address, prefixlen=prefixlen)
                except NetlinkError as err:
                    if err.code != errno.EEXIST:
                        raise NetworkDriverError(f"cannot add {address}/{prefixlen} to lo in {ns}: {err}") from err

    @staticmethod
    def _ipv4_addresses(ns: str, gateway: RouterInterface | None) -> list[str]:
        """The IPv4 addresses the router's gateway link holds now (none when it has no such link)."""
        if gateway is None:
            return []
        with netns.route(ns) as ipr:
            index = netns.link_index(ipr, names.router_gateway(gateway.port_id))
            if index is None:
                return []
            return [a.get("IFA_ADDRESS") for a in ipr.get_addr(index=index, family=socket.AF_INET)]

    def _routes(self, ns: str, router: Router, networks: Mapping[str, Network]) -> list[str]:
        """Make the default routes and ``router.routes`` the router's static routes; what failed, described."""
        wanted: dict[tuple[int, str], str] = {}  # (address family, destination) -> next hop
        external = networks.get(router.external_network_id) if router.external_network_id else None
        if router.gateway is not None and external is not None:
            on = {ip.subnet_id for ip in router.gateway.fixed_ips}
            for subnet in external.subnets:
                if subnet.id in on and subnet.gateway_ip:
                    family = socket.AF_INET if subnet.ip_version == 4 else socket.AF_INET6
                    default = "0.0.0.0/0" if subnet.ip_version == 4 else "::/0"
                    wanted.setdefault((family, default), subnet.gateway_ip)
        elif router.gateway is not None:
            LOG.warning("linuxbridge: router %s: external network %s unknown, so no default route",
                        router.id, router.external_network_id)
        for extra in router.routes:
            destination = ipaddress.ip_network(extra.destination, strict=False)
            family = socket.AF_INET if destination.version == 4 else socket.AF_INET6
            wanted[(family, str(destination))] = extra.nexthop
        failures = []
        with netns.route(ns) as ipr:
            for family in (socket.AF_INET, socket.AF_INET6):
                for route in ipr.get_routes(family=family, table=MAIN_TABLE):
                    if route["proto"] != RTPROT_STATIC:
                        continue
                    zero = "0.0.0.0" if family == socket.AF_INET else "::"
                    key = (family, f"{route.get('dst') or zero}/{route['dst_len']}")
                    if wanted.get(key) != route.get("gateway"):
                        with contextlib.suppress(NetlinkError):
                            ipr.route("del", dst=key[1], gateway=route.get("gateway"), proto=RTPROT_STATIC,
                                      family=family)
            for (route_family, dst), nexthop in sorted(wanted.items()):
                try:
                    ipr.route("replace", dst=dst, gateway=nexthop, proto=RTPROT_STATIC, family=route_family)
                except NetlinkError as err:
                    failures.append(f"route {dst} via {nexthop}: {err}")
        return failures

    def _announce(self, ns: str, ifname: str, mac: str, addresses: Sequence[str]) -> None:
        """Send a gratuitous ARP from ``ifname`` for each of ``addresses`` (best effort: the outside also asks)."""
        if not addresses:
            return

        def send() -> None:
            with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as sock:
                sock.bind((ifname, ETH_P_ARP))
                for address in addresses:
                    sock.send(_garp_frame(mac, address))

        try:
            netns.in_namespace(ns, send)
        except OSError as err:
            LOG.warning("linuxbridge: gratuitous ARP from %s in %s failed: %s", ifname, ns, err)

    def _forget_connections(self, ns: str, router: Router, fips: Sequence[FloatingIP],
                            gateway_before: Sequence[str]) -> None:
        """Drop the conntrack entries of floating IPs that went or moved to another fixed IP.

        A NATed connection keeps its translation as long as its entry lives: without
        this, an open connection to a disassociated floating IP would still reach the port.
        """
        mapping = {f.floating_ip_address: str(f.fixed_ip_address) for f in fips}
        previous = self._applied.get(router.id, {})
        kept = {ip.ip_address for ip in router.gateway.fixed_ips} if router.gateway is not None else set()
        gone = {a for a, fixed in previous.items() if mapping.get(a) != fixed}
        gone |= {a for a in gateway_before if a not in mapping and a not in kept}
        self._applied[router.id] = mapping
        if not gone:
            return

        def flush() -> None:
            with Conntrack() as ct:
                for address in sorted(gone):
                    for entry in [*ct.dump_entries(tuple_orig=NFCTAttrTuple(daddr=address)),
                                  *ct.dump_entries(tuple_reply=NFCTAttrTuple(daddr=address))]:
                        with contextlib.suppress(NetlinkError):  # gone meanwhile
                            ct.delete(entry)

        try:
            netns.in_namespace(ns, flush)
        except (OSError, NetlinkError) as err:
            raise NetworkDriverError(f"router {router.id}: cannot forget the connections of {sorted(gone)}: "
                                     f"{err}") from err

