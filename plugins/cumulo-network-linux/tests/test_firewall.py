"""Security groups of the linuxbridge driver: what ``render`` writes, and real packets through ``Firewall``.

The packet tests build a lab in namespaces they make: a host namespace with a
bridge, and "instances" (namespaces plugged into it with ``netns.plug_veth``,
each with its port's MAC and address). Sockets are opened inside the
instances (``netns.in_namespace``), so every probe is a real packet across the
bridge. Each negative probe sits next to a positive one, so a blocked result
means filtered, not slow.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from cumulo_network_linux import names, netns
from cumulo_network_linux.firewall import TABLE, Firewall, protocol_number, render, zone

from cumulo.interfaces.network import (
    AllowedAddressPair,
    Direction,
    Ethertype,
    FixedIP,
    Port,
    SecurityGroup,
    SecurityGroupRule,
)
from cumulo.testing.fixtures import unavailable, wait_for

BLOCKED_WAIT = 0.5  # a packet between namespaces on one bridge takes microseconds; a drop is never "late"
ALLOWED_WAIT = 3.0


def _rule(direction: Direction, ethertype: Ethertype = "IPv4", protocol: str | None = None, low: int | None = None,
          high: int | None = None, prefix: str | None = None, remote_group: str | None = None,
          group: str = "g") -> SecurityGroupRule:
    return SecurityGroupRule(id=uuid.uuid4().hex, security_group_id=group, direction=direction,
                             ethertype=ethertype, protocol=protocol, port_range_min=low,
                             port_range_max=high, remote_ip_prefix=prefix, remote_group_id=remote_group)


def _group(group_id: str, *rules: SecurityGroupRule, ports: Sequence[str] = (), stateful: bool = True) -> SecurityGroup:
    return SecurityGroup(id=group_id, name=group_id, project_id="p", stateful=stateful, rules=tuple(rules),
                         port_ids=tuple(ports))


def _port(port_id: str, mac: str, *ips: str, groups: Sequence[str] = (), network: str = "net-1",
          pairs: Sequence[AllowedAddressPair] = (), security: bool = True) -> Port:
    return Port(id=port_id, network_id=network, mac_address=mac, fixed_ips=tuple(FixedIP("s", ip) for ip in ips),
                security_group_ids=tuple(groups), port_security_enabled=security, allowed_address_pairs=tuple(pairs))


# -- render: no root needed -------------------------------------------------------------------------


def _chain(script: str, name: str) -> list[str]:
    """The statements of chain ``name`` in a rendered script."""
    head = f"  chain {name} {{\n"
    assert head in script, f"no chain {name}"
    body = script.split(head, 1)[1].split("\n  }\n", 1)[0]
    return [line.strip() for line in body.splitlines() if not line.strip().startswith(("comment ", "type "))]


def _group_rules(*rules: SecurityGroupRule, direction: Direction = "ingress") -> list[str]:
    port = _port("p1", "fa:16:3e:00:00:01", "10.0.0.1", groups=["g"])
    return _chain(render([port], {"g": _group("g", *rules, ports=["p1"])}, [port]), f"g1_{direction}")


def test_render_translates_protocols_ports_and_prefixes() -> None:
    assert _group_rules(
        _rule("ingress", protocol="tcp", low=80, high=80),
        _rule("ingress", protocol="TCP", low=8000, high=8080, prefix="192.168.0.0/16"),
        _rule("ingress", protocol="udp", low=53),
        _rule("ingress", protocol="17"),
        _rule("ingress", protocol="112"),
        _rule("ingress", protocol="sctp", low=9, high=10),
        _rule("ingress", protocol="gre", low=1, high=2),  # no ports in GRE: the range means nothing
        _rule("ingress"),
        _rule("ingress", protocol="any", prefix="0.0.0.0/0"),
        _rule("ingress", protocol="0", prefix="10.1.2.3"),
    ) == [
        "meta nfproto ipv4 meta l4proto 6 th dport 80 accept",
        "meta nfproto ipv4 ip saddr 192.168.0.0/16 meta l4proto 6 th dport 8000-8080 accept",
        "meta nfproto ipv4 meta l4proto 17 th dport 53 accept",
        "meta nfproto ipv4 meta l4proto 17 accept",
        "meta nfproto ipv4 meta l4proto 112 accept",
        "meta nfproto ipv4 meta l4proto 132 th dport 9-10 accept",
        "meta nfproto ipv4 meta l4proto 47 accept",
        "meta nfproto ipv4 accept",
        "meta nfproto ipv4 accept",
        "meta nfproto ipv4 ip saddr 10.1.2.3/32 accept",
    ]


def test_render_egress_matches_the_destination() -> None:
    assert _group_rules(_rule("egress", protocol="tcp", low=443, high=443, prefix="203.0.113.0/24"),
                        _rule("egress", "IPv6", prefix="2001:db8::/32"), direction="egress") == [
        "meta nfproto ipv4 ip daddr 203.0.113.0/24 meta l4proto 6 th dport 443 accept",
        "meta nfproto ipv6 ip6 daddr 2001:db8::/32 accept",
    ]


def test_render_icmp_type_and_code() -> None:
    assert _group_rules(
        _rule("ingress", protocol="icmp"),
        _rule("ingress", protocol="icmp", low=8),
        _rule("ingress", protocol="icmp", low=3, high=4),
        _rule("ingress", protocol="1", low=0, high=0),
        _rule("ingress", "IPv6", protocol="icmp", low=128),  # Neutron reads icmp in an IPv6 rule as ICMPv6
        _rule("ingress", "IPv6", protocol="ipv6-icmp", low=1, high=3),
        _rule("ingress", "IPv6", protocol="icmpv6"),
        _rule("ingress", "IPv6", protocol="58", low=129, high=0),
    ) == [
        "meta nfproto ipv4 meta l4proto 1 accept",
        "meta nfproto ipv4 meta l4proto 1 icmp type 8 accept",
        "meta nfproto ipv4 meta l4proto 1 icmp type 3 icmp code 4 accept",
        "meta nfproto ipv4 meta l4proto 1 icmp type 0 icmp code 0 accept",
        "meta nfproto ipv6 meta l4proto 58 icmpv6 type 128 accept",
        "meta nfproto ipv6 meta l4proto 58 icmpv6 type 1 icmpv6 code 3 accept",
        "meta nfproto ipv6 meta l4proto 58 accept",
        "meta nfproto ipv6 meta l4proto 58 icmpv6 type 129 icmpv6 code 0 accept",
    ]


def test_render_drops_rules_that_match_nothing() -> None:
    port = _port("p1", "fa:16:3e:00:00:01", "10.0.0.1", groups=["g"])
    group = _group("g", _rule("ingress", "IPv4", prefix="2001:db8::/64"), _rule("ingress", "IPv6", prefix="10.0.0.0/8"),
                   _rule("ingress", "IPv4", protocol="ipv6-icmp"), _rule("ingress", protocol="no-such-protocol"),
                   _rule("ingress", protocol="300"), ports=["p1"])
    script = render([port], {"g": group}, [port])
    assert "chain g1_ingress" not in script  # no rule left: the port's ingress is what is implicit, then drop
    assert "elements = { 0x10000 : drop }" in script


def test_protocol_number() -> None:
    assert protocol_number(None, 4) is None
    assert protocol_number("any", 6) is None
    assert protocol_number("tcp", 6) == 6
    assert protocol_number("icmp", 4) == 1
    assert protocol_number("icmp", 6) == 58
    assert protocol_number("icmpv6", 4) is False
    assert protocol_number("58", 4) == 58  # a number is taken as written
    assert protocol_number("vrrp", 4) == 112


def test_render_remote_groups_are_sets_of_members_addresses() -> None:
    web = _port("web", "fa:16:3e:00:00:01", "10.0.0.1", groups=["web"])
    # Members on other hosts count (all_ports), with their address pairs, and IPv6 goes to its own set.
    app = _port("app", "fa:16:3e:00:00:02", "10.0.0.2", "2001:db8::2", groups=["app"],
                pairs=[AllowedAddressPair("10.9.0.0/16"), AllowedAddressPair("10.9.1.1")])
    other = _port("other", "fa:16:3e:00:00:03", "10.0.0.3", groups=["app"], security=False)
    groups = {"web": _group("web", _rule("ingress", protocol="tcp", low=80, high=80, remote_group="app"),
                            _rule("ingress", "IPv6", remote_group="app"),
                            _rule("ingress", remote_group="missing"), ports=["web"]),
              "app": _group("app", ports=["app", "other", "not-in-the-model"])}
    script = render([web], groups, [web, app, other])
    assert _chain(script, "g1_ingress") == [
        "meta nfproto ipv4 ip saddr @remote1_v4 meta l4proto 6 th dport 80 accept",
        "meta nfproto ipv6 ip6 saddr @remote2_v6 accept",
        "meta nfproto ipv4 ip saddr @remote3_v4 accept",
    ]
    assert "set remote1_v4 {\n    type ipv4_addr\n    flags interval\n" \
           "    elements = { 10.0.0.2/31, 10.9.0.0/16 }\n" in script  # 10.0.0.2 and .3 merge; 10.9.1.1 is in /16
    assert "elements = { 2001:db8::2/128 }" in script
    assert "set remote3_v4 {\n    type ipv4_addr\n    flags interval\n  }" in script  # an unknown group: nobody


def test_render_membership_is_what_the_ports_say_not_a_stale_group_record() -> None:
    # The group record was last sent before "late" joined and while "gone" was still a member.
    web = _port("web", "fa:16:3e:00:00:01", "10.0.0.1", groups=["web"])
    late = _port("late", "fa:16:3e:00:00:02", "10.0.0.2", groups=["web"])
    gone = _port("gone", "fa:16:3e:00:00:03", "10.0.0.3", groups=[])
    groups = {"web": _group("web", _rule("ingress", remote_group="web"), ports=["web", "gone"])}
    script = render([web], groups, [web, late, gone])
    assert "set remote1_v4 {\n    type ipv4_addr\n    flags interval\n" \
           "    elements = { 10.0.0.1/32, 10.0.0.2/32 }\n" in script


def test_render_profiles_are_shared_and_stateless_has_no_conntrack() -> None:
    a = _port("a", "fa:16:3e:00:00:01", "10.0.0.1", groups=["s", "t"])
    b = _port("b", "fa:16:3e:00:00:02", "10.0.0.2", groups=["t", "s"])
    c = _port("c", "fa:16:3e:00:00:03", "10.0.0.3", groups=["free"])
    d = _port("d", "fa:16:3e:00:00:04", "10.0.0.4")
    off = _port("off", "fa:16:3e:00:00:05", "10.0.0.5", groups=["s"], security=False)
    groups = {"s": _group("s", _rule("egress")), "t": _group("t", _rule("egress", "IPv6")),
              "free": _group("free", _rule("ingress"), stateful=False)}
    script = render([a, b, c, d, off], groups)
    # One profile per combination of groups: a and b share 1, c (stateless) is 2, d (no groups) 3.
    assert 'elements = { "tapa" : 0x1, "tapb" : 0x1, "tapc" : 0x2, "tapd" : 0x3 }' in script
    assert "tapoff" not in script  # port security disabled: not filtered, not even anti-spoofing
    assert _chain(script, "to_p2") == ["meta mark set meta mark and 0xffff or 0x20000"]
    # Groups are numbered by id (free g1, s g2, t g3); a chain exists only for a direction with rules.
    assert "chain g2_ingress" not in script and "chain g1_egress" not in script
    assert _chain(script, "egress_p1") == ["jump g2_egress", "jump g3_egress"]  # both groups of a and b
    assert "elements = { 0x1 : jump egress_p1, 0x2 : drop, 0x3 : drop }" in script
    assert "elements = { 0x10000 : drop, 0x20000 : jump g1_ingress, 0x30000 : drop }" in script
    assert "set ingress_stateful {\n    type mark\n    elements = { 0x10000, 0x30000 }\n  }" in script
    assert _chain(script, "ingress_stage") == [
        'iifname != "brq*" accept',
        "meta mark and 0xffff0000 != @ingress_profiles accept",
        "meta mark and 0xffff0000 @ingress_stateful ct state established,related accept",
        "meta mark and 0xffff0000 @ingress_stateful ct state invalid drop",
        "meta nfproto ipv4 udp sport 67 udp dport 68 accept",
        "meta nfproto ipv6 udp sport 547 udp dport 546 accept",
        "icmpv6 type { mld-listener-query, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept",
        "meta mark and 0xffff0000 vmap @ingress_of",
        "drop",
    ]


def test_render_anti_spoofing_elements() -> None:
    port = _port("abcdefghijklmnop", "FA:16:3E:00:00:01", "10.0.0.1", "2001:db8::1", groups=["g"],
                 pairs=[AllowedAddressPair("10.0.0.0/30"), AllowedAddressPair("10.5.0.1", "fa:16:3e:aa:bb:cc"),
                        AllowedAddressPair("2001:db8:1::/64")])
    script = render([port], {"g": _group("g")})
    tap = '"tapabcdefghijk"'
    assert f"elements = {{ {tap} . fa:16:3e:00:00:01, {tap} . fa:16:3e:aa:bb:cc }}" in script
    assert (f"elements = {{ {tap} . fa:16:3e:00:00:01 . 10.0.0.0/30, {tap} . fa:16:3e:aa:bb:cc . 10.5.0.1/32 }}"
            in script)  # the fixed IP is inside the pair's /30: merged (interval sets refuse overlaps)
    assert (f"elements = {{ {tap} . fa:16:3e:00:00:01 . 2001:db8::1/128, {tap} . fa:16:3e:00:00:01 . "
            "2001:db8:1::/64 }" in script)
    assert _chain(script, "from_v4") == [
        "udp sport 67 drop", "iifname . ether saddr . ip saddr @sources_v4 accept",
        "ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept", "drop"]


def test_render_replaces_both_tables_in_one_script() -> None:
    script = render([], {})
    assert script.startswith(f"table bridge {TABLE}\ndelete table bridge {TABLE}\n"
                             f"table inet {TABLE}\ndelete table inet {TABLE}\n")
    assert script.count(f"table bridge {TABLE} {{") == 1 and script.count(f"table inet {TABLE} {{") == 1
    assert "chain zone" not in script  # no network: no zone map (an empty anonymous map is not valid)


def test_zones_are_stable_and_per_network() -> None:
    a = _port("a", "fa:16:3e:00:00:01", "10.0.0.1", network="net-a")
    b = _port("b", "fa:16:3e:00:00:02", "10.0.0.1", network="net-b")  # the same address on another network
    script = render([a], {}, [a, b])
    assert f'ct zone set iifname map {{ "brqnet-a" : {zone("net-a")}, "brqnet-b" : {zone("net-b")} }}' in script
    assert zone("net-a") != zone("net-b") and 1 <= zone("net-a") <= 0xFFFF
    assert zone("net-a") == zone("net-a")


# -- the lab: real packets between namespaces ---------------------------------------------------------


def _mac() -> str:
    return "fa:16:3e:" + ":".join(f"{random.randrange(256):02x}" for _ in range(3))


class Lab:
    """A host namespace with one bridge, instances plugged into it, and a Firewall on it."""

    def __init__(self) -> None:
        self.suffix = uuid.uuid4().hex[:6]
        self.host_ns = f"fwh-{self.suffix}"
        self.network_id = f"n{self.suffix}-" + uuid.uuid4().hex
        self.bridge = names.bridge(self.network_id)
        self.namespaces: list[str] = [self.host_ns]
        self.closers: list[Callable[[], None]] = []
        netns.ensure(self.host_ns)
        with netns.route(self.host_ns) as ipr:
            ipr.link("add", ifname=self.bridge, kind="bridge")
            ipr.link("set", index=netns.link_index(ipr, self.bridge), state="up")
        self.firewall = Firewall(self.host_ns)

    def instance(self, name: str, *addresses: str, groups: Sequence[str] = (), security: bool = True,
                 pairs: Sequence[AllowedAddressPair] = ()) -> tuple[Port, str]:
        """A port and the namespace "instance" behind it (``eth0`` with the port's MAC and addresses)."""
        port = _port(str(uuid.uuid4()), _mac(), *(a.split("/")[0] for a in addresses), groups=groups,
                     network=self.network_id, pairs=pairs, security=security)
        ns = f"fwi-{self.suffix}-{name}"
        self.namespaces.append(ns)
        netns.ensure(ns)
        for key in ("net.ipv6.conf.default.accept_dad", "net.ipv6.conf.all.accept_dad"):
            netns.sysctl(ns, key, 0)  # addresses usable at once
        netns.plug_veth(self.host_ns, self.bridge, names.tap(port.id), ns, "eth0", port.mac_address,
                        [(a.split("/")[0], int(a.split("/")[1])) for a in addresses])
        return port, ns

    def close(self) -> None:
        for closer in reversed(self.closers):
            with contextlib.suppress(Exception):
                closer()
        for ns in reversed(self.namespaces):
            netns.remove(ns)


@pytest.fixture
def lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        unavailable("the firewall tests make namespaces and nftables rules: they need root")
    for tool in ("nft", "busybox", "nsenter"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed")
    made = Lab()
    try:
        yield made
    finally:
        made.close()


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def listen(lab: Lab, ns: str, port: int, family: socket.AddressFamily = socket.AF_INET) -> None:
    """A TCP echo server on ``port`` in ``ns`` (every address), until the lab closes."""
    def make() -> socket.socket:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
        s.listen(16)
        return s

    server: socket.socket = netns.in_namespace(ns, make)

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                threading.Thread(target=echo, args=(conn,), daemon=True).start()

    def echo(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(4096):
                conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()

    def close() -> None:
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_RDWR)
        server.close()

    lab.closers.append(close)


def connect(ns: str, address: str, port: int, timeout: float) -> socket.socket | None:
    """A TCP connection from ``ns``, None when it is not made within ``timeout``."""
    def make() -> socket.socket | None:
        try:
            return socket.create_connection((address, port), timeout=timeout)
        except OSError:
            return None

    result: socket.socket | None = netns.in_namespace(ns, make)
    return result


def connects(ns: str, address: str, port: int, timeout: float = ALLOWED_WAIT) -> bool:
    conn = connect(ns, address, port, timeout)
    if conn is None:
        return False
    conn.close()
    return True


def echoes(conn: socket.socket, data: bytes, timeout: float) -> bool:
    """Whether ``data`` sent on ``conn`` comes back within ``timeout``."""
    conn.settimeout(timeout)
    try:
        conn.sendall(data)
        got = b""
        while len(got) < len(data):
            chunk = conn.recv(4096)
            if not chunk:
                return False
            got += chunk
        return got == data
    except OSError:
        return False


def pings(ns: str, address: str, wait: int = 1) -> bool:
    argv = ["busybox", "ping", "-c", "1", "-W", str(wait), address]
    return netns.run(ns, argv, check=False, timeout=wait + 5).returncode == 0


class UdpReceiver:
    """A UDP socket in an instance: which datagrams arrived."""

    def __init__(self, lab: Lab, ns: str, port: int) -> None:
        def make() -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", port))
            return s

        self.sock: socket.socket = netns.in_namespace(ns, make)
        lab.closers.append(self.sock.close)

    def got(self, payload: bytes, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                if self.sock.recv(4096) == payload:
                    return True
            except OSError:
                return False
        return False


def send_udp(ns: str, source: str, destination: str, port: int, payload: bytes, source_port: int = 0) -> None:
    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            s.setsockopt(socket.SOL_IP, 15, 1)  # IP_FREEBIND: send from an address the instance claims
            s.bind((source, source_port))
            s.sendto(payload, (destination, port))

    netns.in_namespace(ns, send)


def set_link(ns: str, **attrs: Any) -> None:
    with netns.route(ns) as ipr:
        ipr.link("set", index=netns.link_index(ipr, "eth0"), **attrs)


def add_address(ns: str, address: str, prefixlen: int) -> None:
    with netns.route(ns) as ipr:
        ipr.addr("add", index=netns.link_index(ipr, "eth0"), address=address, prefixlen=prefixlen)


def static_neighbour(ns: str, address: str, mac: str) -> None:
    """So the probe is one datagram, not an ARP exchange the anti-spoofing would also stop."""
    with netns.route(ns) as ipr:
        ipr.neigh("replace", dst=address, lladdr=mac, ifindex=netns.link_index(ipr, "eth0"), state=0x80)


def _tables(ns: str) -> list[str]:
    out = netns.run(ns, ["nft", "list", "tables"]).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


ALLOW_EGRESS = (_rule("egress"), _rule("egress", "IPv6"))


def test_tcp_allowed_port_connects_other_ports_and_icmp_dropped(lab: Lab) -> None:
    client, client_ns = lab.instance("a", "10.0.0.1/24", groups=["out"])
    server, server_ns = lab.instance("b", "10.0.0.2/24", groups=["web"])
    for port in (80, 81):
        listen(lab, server_ns, port)
    groups = {"out": _group("out", *ALLOW_EGRESS, ports=[client.id]),
              "web": _group("web", _rule("ingress", protocol="tcp", low=80, high=80), ports=[server.id])}
    lab.firewall.apply([client, server], groups, [client, server])
    assert connects(client_ns, "10.0.0.2", 80)
    assert not connects(client_ns, "10.0.0.2", 81, timeout=BLOCKED_WAIT)
    assert not pings(client_ns, "10.0.0.2")
    # The server's group allows no egress: it cannot open a connection itself, while it answers on 80.
    listen(lab, client_ns, 80)
    assert not connects(server_ns, "10.0.0.1", 80, timeout=BLOCKED_WAIT)
    # Applying the same state again changes nothing and does not fail.
    before = netns.run(lab.host_ns, ["nft", "list", "ruleset"]).stdout
    lab.firewall.apply([client, server], groups, [client, server])
    assert netns.run(lab.host_ns, ["nft", "list", "ruleset"]).stdout == before
    assert connects(client_ns, "10.0.0.2", 80)


def test_rules_added_and_removed_take_effect_within_a_second(lab: Lab) -> None:
    client, client_ns = lab.instance("a", "10.0.0.1/24", groups=["out"])
    server, server_ns = lab.instance("b", "10.0.0.2/24", groups=["web"])
    listen(lab, server_ns, 8080)
    ports = [client, server]
    out = _group("out", *ALLOW_EGRESS, ports=[client.id])
    closed = _group("web", ports=[server.id])
    opened = _group("web", _rule("ingress", protocol="tcp", low=8000, high=8100), _rule("ingress", protocol="icmp"),
                    ports=[server.id])
    lab.firewall.apply(ports, {"out": out, "web": closed}, ports)
    assert not connects(client_ns, "10.0.0.2", 8080, timeout=BLOCKED_WAIT)

    started = time.monotonic()
    lab.firewall.apply(ports, {"out": out, "web": opened}, ports)
    wait_for(lambda: connects(client_ns, "10.0.0.2", 8080, timeout=0.2), timeout=1.0,
             message="an added rule did not take effect within a second")
    print(f"rule added -> connection: {time.monotonic() - started:.3f} s")
    assert pings(client_ns, "10.0.0.2")

    started = time.monotonic()
    lab.firewall.apply(ports, {"out": out, "web": closed}, ports)
    wait_for(lambda: not connects(client_ns, "10.0.0.2", 8080, timeout=0.2), timeout=1.0,
             message="a removed rule still let connections through after a second")
    print(f"rule removed -> blocked: {time.monotonic() - started:.3f} s")
    assert not pings(client_ns, "10.0.0.2")


def test_remote_group_rule_follows_membership(lab: Lab) -> None:
    a, a_ns = lab.instance("a", "10.0.0.1/24", groups=["out", "friends"])
    c, c_ns = lab.instance("c", "10.0.0.3/24", groups=["out"])
    server, server_ns = lab.instance("b", "10.0.0.2/24", groups=["web"])
    listen(lab, server_ns, 80)
    web = _group("web", _rule("ingress", protocol="tcp", low=80, high=80, remote_group="friends"), ports=[server.id])

    def apply(a_in: bool, c_in: bool) -> tuple[Port, Port]:
        pa = _port(a.id, a.mac_address, "10.0.0.1", groups=["out", "friends"] if a_in else ["out"],
                   network=lab.network_id)
        pc = _port(c.id, c.mac_address, "10.0.0.3", groups=["out", "friends"] if c_in else ["out"],
                   network=lab.network_id)
        members = [p.id for p, is_in in ((pa, a_in), (pc, c_in)) if is_in]
        groups = {"out": _group("out", *ALLOW_EGRESS, ports=[pa.id, pc.id]), "web": web,
                  "friends": _group("friends", ports=members)}
        ports = [pa, pc, server]
        lab.firewall.apply(ports, groups, ports)
        return pa, pc

    apply(a_in=True, c_in=False)
    assert connects(a_ns, "10.0.0.2", 80)
    assert not connects(c_ns, "10.0.0.2", 80, timeout=BLOCKED_WAIT)
    apply(a_in=False, c_in=True)
    assert connects(c_ns, "10.0.0.2", 80)
    assert not connects(a_ns, "10.0.0.2", 80, timeout=BLOCKED_WAIT)


def test_egress_rule_removal_keeps_established_connections(lab: Lab) -> None:
    client, client_ns = lab.instance("a", "10.0.0.1/24", groups=["client"])
    server, server_ns = lab.instance("b", "10.0.0.2/24", groups=["web"])
    listen(lab, server_ns, 80)
    ports = [client, server]
    web = _group("web", _rule("ingress", protocol="tcp", low=80, high=80), ports=[server.id])
    out = _rule("egress", protocol="tcp", low=80, high=80, prefix="10.0.0.2/32")
    lab.firewall.apply(ports, {"web": web, "client": _group("client", out, ports=[client.id])}, ports)
    conn = connect(client_ns, "10.0.0.2", 80, ALLOWED_WAIT)
    assert conn is not None
    with conn:
        assert echoes(conn, b"before", ALLOWED_WAIT)  # replies pass: neither group allows them by a rule
        lab.firewall.apply(ports, {"web": web, "client": _group("client", ports=[client.id])}, ports)
        assert echoes(conn, b"after the egress rule went", ALLOWED_WAIT)
        assert not connects(client_ns, "10.0.0.2", 80, timeout=BLOCKED_WAIT)


def test_stateless_group_needs_rules_for_replies(lab: Lab) -> None:
    client, client_ns = lab.instance("a", "10.0.0.1/24", groups=["client"])
    server, server_ns = lab.instance("b", "10.0.0.2/24", groups=["web"])
    listen(lab, server_ns, 80)
    ports = [client, server]
    client_group = _group("client", *ALLOW_EGRESS, ports=[client.id])
    ingress_only = _group("web", _rule("ingress", protocol="tcp", low=80, high=80), ports=[server.id], stateful=False)
    lab.firewall.apply(ports, {"client": client_group, "web": ingress_only}, ports)
    assert not connects(client_ns, "10.0.0.2", 80, timeout=BLOCKED_WAIT)  # the SYN-ACK is the server's egress
    both = _group("web", _rule("ingress", protocol="tcp", low=80, high=80), _rule("egress", protocol="tcp"),
                  ports=[server.id], stateful=False)
    lab.firewall.apply(ports, {"client": client_group, "web": both}, ports)
    assert connects(client_ns, "10.0.0.2", 80)


def test_spoofed_source_address_and_mac_are_dropped(lab: Lab) -> None:
    sender, sender_ns = lab.instance("a", "10.0.0.1/24", groups=["out"])
    receiver, receiver_ns = lab.instance("b", "10.0.0.2/24", groups=["in"])
    static_neighbour(sender_ns, "10.0.0.2", receiver.mac_address)
    inbox = UdpReceiver(lab, receiver_ns, 5000)
    groups = {"out": _group("out", *ALLOW_EGRESS, ports=[sender.id]),
              "in": _group("in", _rule("ingress", protocol="udp"), ports=[receiver.id])}
    lab.firewall.apply([sender, receiver], groups)
    add_address(sender_ns, "10.0.0.99", 24)

    send_udp(sender_ns, "10.0.0.1", "10.0.0.2", 5000, b"own address")
    assert inbox.got(b"own address", ALLOWED_WAIT)
    send_udp(sender_ns, "10.0.0.99", "10.0.0.2", 5000, b"spoofed address")
    assert not inbox.got(b"spoofed address", BLOCKED_WAIT)

    paired = _port(sender.id, sender.mac_address, "10.0.0.1", groups=["out"], network=lab.network_id,
                   pairs=[AllowedAddressPair("10.0.0.96/28")])
    lab.firewall.apply([paired, receiver], groups)
    send_udp(sender_ns, "10.0.0.99", "10.0.0.2", 5000, b"address pair")
    assert inbox.got(b"address pair", ALLOWED_WAIT)

    set_link(sender_ns, address=_mac())
    send_udp(sender_ns, "10.0.0.1", "10.0.0.2", 5000, b"spoofed mac")
    assert not inbox.got(b"spoofed mac", BLOCKED_WAIT)
    set_link(sender_ns, address=sender.mac_address)
    send_udp(sender_ns, "10.0.0.1", "10.0.0.2", 5000, b"own mac again")
    assert inbox.got(b"own mac again", ALLOWED_WAIT)


def test_arp_with_a_foreign_sender_address_is_dropped(lab: Lab) -> None:
    sender, sender_ns = lab.instance("a", "10.0.0.1/24", groups=["g"])
    receiver, _ = lab.instance("b", "10.0.0.2/24", groups=["g"])
    lab.firewall.apply([sender, receiver], {"g": _group("g", ports=[sender.id, receiver.id])})

    def arping(source: str) -> bool:
        argv = ["busybox", "arping", "-f", "-c", "2", "-w", "1", "-I", "eth0", "-s", source, "10.0.0.2"]
        return netns.run(sender_ns, argv, check=False, timeout=10).returncode == 0

    assert arping("10.0.0.1")
    add_address(sender_ns, "10.0.0.77", 24)  # arping binds its sender address
    assert not arping("10.0.0.77")


def test_port_security_disabled_passes_everything(lab: Lab) -> None:
    a, a_ns = lab.instance("a", "10.0.0.1/24", security=False)
    b, b_ns = lab.instance("b", "10.0.0.2/24", security=False)
    listen(lab, b_ns, 81)
    inbox = UdpReceiver(lab, b_ns, 5000)
    lab.firewall.apply([a, b], {})
    assert pings(a_ns, "10.0.0.2")
    assert connects(a_ns, "10.0.0.2", 81)
    static_neighbour(a_ns, "10.0.0.2", b.mac_address)
    add_address(a_ns, "10.0.0.99", 24)
    send_udp(a_ns, "10.0.0.99", "10.0.0.2", 5000, b"any source")
    assert inbox.got(b"any source", ALLOWED_WAIT)
    # The same pair with port security on and no groups: nothing passes.
    on = [_port(p.id, p.mac_address, ip, network=lab.network_id) for p, ip in ((a, "10.0.0.1"), (b, "10.0.0.2"))]
    lab.firewall.apply(on, {})
    assert not pings(a_ns, "10.0.0.2")


def test_dhcp_replies_reach_a_port_but_no_port_may_answer_as_a_server(lab: Lab) -> None:
    if shutil.which("dnsmasq") is None:
        unavailable("dnsmasq is not installed")
    client, client_ns = lab.instance("a", groups=["closed"])  # no address: it asks DHCP for one
    other, other_ns = lab.instance("b", "10.0.0.2/24", groups=["closed"])
    dhcp = _port(str(uuid.uuid4()), _mac(), "10.0.0.250")  # the network's DHCP port: not filtered on a bridge
    dhcp_ns = f"fwd-{lab.suffix}"
    lab.namespaces.append(dhcp_ns)
    netns.plug_veth(lab.host_ns, lab.bridge, names.tap(dhcp.id), dhcp_ns, "eth0", dhcp.mac_address,
                    [("10.0.0.250", 24)])
    # A group without rules: only what Neutron allows implicitly (DHCP) passes.
    lab.firewall.apply([client, other], {"closed": _group("closed", ports=[client.id, other.id])},
                       [client, other, dhcp])
    state = tempfile.mkdtemp(prefix="fw-dhcp-")
    lab.closers.append(lambda: shutil.rmtree(state, ignore_errors=True))
    server = netns.popen(dhcp_ns, [
        "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--user=root", "--interface=eth0",
        "--bind-interfaces", f"--dhcp-leasefile={state}/leases", f"--pid-file={state}/pid",
        "--dhcp-range=10.0.0.100,10.0.0.110,255.255.255.0,2m", f"--dhcp-host={client.mac_address},10.0.0.105"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop() -> None:
        server.terminate()
        server.wait(5)

    lab.closers.append(stop)
    udhcpc = netns.run(client_ns, ["busybox", "udhcpc", "-f", "-q", "-n", "-t", "5", "-T", "1", "-i", "eth0",
                                   "-s", "/bin/true"], check=False, timeout=30)
    assert udhcpc.returncode == 0 and "10.0.0.105" in udhcpc.stdout + udhcpc.stderr, udhcpc.stderr

    # A reply from a DHCP server's port (67 -> 68) passes every port's ingress; only the DHCP port may send one.
    inbox = UdpReceiver(lab, other_ns, 68)
    static_neighbour(client_ns, "10.0.0.2", other.mac_address)
    add_address(client_ns, "10.0.0.105", 24)
    # The instance may send anything (its egress allows all): only the anti-spoofing stops its "offer".
    addressed = _port(client.id, client.mac_address, "10.0.0.105", groups=["out"], network=lab.network_id)
    lab.firewall.apply([addressed, other], {"out": _group("out", *ALLOW_EGRESS, ports=[client.id]),
                                            "closed": _group("closed", ports=[other.id])})
    static_neighbour(dhcp_ns, "10.0.0.2", other.mac_address)
    server.terminate()
    server.wait(5)
    send_udp(dhcp_ns, "10.0.0.250", "10.0.0.2", 68, b"offer from the DHCP port", source_port=67)
    assert inbox.got(b"offer from the DHCP port", ALLOWED_WAIT)
    send_udp(client_ns, "10.0.0.105", "10.0.0.2", 68, b"offer from an instance", source_port=67)
    assert not inbox.got(b"offer from an instance", BLOCKED_WAIT)


def test_ipv6_rules_and_neighbour_discovery(lab: Lab) -> None:
    client, client_ns = lab.instance("a", "2001:db8::1/64", groups=["out"])
    server, server_ns = lab.instance("b", "2001:db8::2/64", groups=["web"])
    for port in (80, 81):
        listen(lab, server_ns, port, socket.AF_INET6)
    ports = [client, server]
    out = _group("out", *ALLOW_EGRESS, ports=[client.id])
    web = _group("web", _rule("ingress", "IPv6", protocol="tcp", low=80, high=80), ports=[server.id])
    lab.firewall.apply(ports, {"out": out, "web": web}, ports)
    assert connects(client_ns, "2001:db8::2", 80)
    assert not connects(client_ns, "2001:db8::2", 81, timeout=BLOCKED_WAIT)
    assert not pings(client_ns, "2001:db8::2")
    echo = _rule("ingress", "IPv6", protocol="icmp", low=128)  # "icmp" in an IPv6 rule: ICMPv6
    lab.firewall.apply(ports, {"out": out, "web": _group("web", echo, ports=[server.id])}, ports)
    assert pings(client_ns, "2001:db8::2")


def test_clear_leaves_no_table(lab: Lab) -> None:
    port, _ = lab.instance("a", "10.0.0.1/24", groups=["g"])
    groups = {"g": _group("g", _rule("ingress", remote_group="g"), ports=[port.id])}
    lab.firewall.apply([port], groups, [port])
    assert f"table bridge {TABLE}" in _tables(lab.host_ns) and f"table inet {TABLE}" in _tables(lab.host_ns)
    lab.firewall.clear()
    assert not [t for t in _tables(lab.host_ns) if TABLE in t]
    lab.firewall.clear()  # nothing to remove: not an error
    Firewall(f"fw-absent-{lab.suffix}").clear()  # nor is a host namespace that does not exist
    assert not netns.exists(f"fw-absent-{lab.suffix}")
