"""How security group programming time grows: render + apply of the linuxbridge firewall for 10, 100, 1,000 ports.

Usage::

    sudo .venv/bin/python tests/bench/bench_network_rules.py [--sizes 10,100,1000] [--repeat 3]

For each size N, two shapes of the same N ports and N rules:

* ``own groups``: every port in the default group (egress, ingress from the
  group) and in a group of its own with one rule: N profiles, the most chains.
* ``shared``: all ports in one group of N rules (a port range each, half of
  them from a remote group whose members are all N ports).

Prints per shape: the render time, the script size, the first apply (render + nft -f
into an empty namespace), a re-apply after one rule changed, and the chain
count. The best of ``--repeat`` runs is shown. It asserts nothing; it runs in a
network namespace it makes and removes (no traffic, so no bridge is needed:
rules name devices by name).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import uuid
from collections.abc import Callable

from cumulo_network_linux import netns
from cumulo_network_linux.firewall import Firewall, render

from cumulo.interfaces.network import FixedIP, Port, SecurityGroup, SecurityGroupRule


def _port(i: int, groups: tuple[str, ...]) -> Port:
    return Port(id=f"{i:08d}-{uuid.uuid4()}", network_id=f"net-{i % 10}", mac_address=f"fa:16:3e:00:{i >> 8:02x}:{i & 255:02x}",
                fixed_ips=(FixedIP("s", f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}"),), security_group_ids=groups)


def _rule(group: str, n: int, **kw: object) -> SecurityGroupRule:
    return SecurityGroupRule(id=f"{group}-r{n}", security_group_id=group, **kw)  # type: ignore[arg-type]


def own_groups(n: int) -> tuple[list[Port], dict[str, SecurityGroup]]:
    ports = [_port(i, ("default", f"own-{i}")) for i in range(n)]
    default = SecurityGroup("default", "default", "p", port_ids=tuple(p.id for p in ports), rules=(
        _rule("default", 1, direction="egress", ethertype="IPv4"), _rule("default", 2, direction="egress", ethertype="IPv6"),
        _rule("default", 3, direction="ingress", ethertype="IPv4", remote_group_id="default")))
    groups = {"default": default}
    for i, port in enumerate(ports):
        groups[f"own-{i}"] = SecurityGroup(f"own-{i}", "own", "p", port_ids=(port.id,), rules=(
            _rule(f"own-{i}", 1, direction="ingress", ethertype="IPv4", protocol="tcp", port_range_min=1000 + i,
                  port_range_max=1000 + i, remote_ip_prefix=f"192.168.{i >> 8}.{i & 255}/32"),))
    return ports, groups


def shared(n: int) -> tuple[list[Port], dict[str, SecurityGroup]]:
    ports = [_port(i, ("web",)) for i in range(n)]
    rules = tuple(_rule("web", i, direction="ingress", ethertype="IPv4", protocol="tcp" if i % 2 else "udp",
                        port_range_min=2000 + 10 * i, port_range_max=2009 + 10 * i,
                        remote_group_id="web" if i % 2 else None) for i in range(n - 1))
    rules += (_rule("web", n, direction="egress", ethertype="IPv4"),)
    return ports, {"web": SecurityGroup("web", "web", "p", port_ids=tuple(p.id for p in ports), rules=rules)}


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def one_rule_changed(groups: dict[str, SecurityGroup]) -> dict[str, SecurityGroup]:
    first = next(iter(groups.values()))
    changed = dataclasses.replace(first.rules[0], port_range_min=9, port_range_max=9, protocol="tcp")
    return {**groups, first.id: dataclasses.replace(first, rules=(changed, *first.rules[1:]))}


def measure(firewall: Firewall, name: str, n: int, ports: list[Port], groups: dict[str, SecurityGroup],
            repeat: int) -> None:
    rule_count = sum(len(g.rules) for g in groups.values())
    script = render(ports, groups, ports)
    t_render = best(lambda: render(ports, groups, ports), repeat)

    def first_apply() -> None:
        firewall.clear()
        firewall.apply(ports, groups, ports)

    t_apply = best(first_apply, repeat)
    changed = one_rule_changed(groups)
    t_reapply = best(lambda: firewall.apply(ports, changed, ports), repeat)
    print(f"{name:10s} {n:6d} {rule_count:6d} {t_render * 1000:7.1f}ms {len(script) / 1024:7.1f}KB "
          f"{t_apply * 1000:7.1f}ms {t_reapply * 1000:7.1f}ms {script.count('  chain '):7d}")


def run(sizes: list[int], repeat: int) -> None:
    namespace = f"fwbench-{uuid.uuid4().hex[:6]}"
    netns.ensure(namespace)
    firewall = Firewall(namespace)
    try:
        print(f"{'shape':10s} {'ports':>6s} {'rules':>6s} {'render':>9s} {'script':>9s} {'apply':>9s} "
              f"{'re-apply':>9s} {'chains':>7s}")
        for n in sizes:
            for name, build in (("own groups", own_groups), ("shared", shared)):
                ports, groups = build(n)
                measure(firewall, name, n, ports, groups, repeat)
    finally:
        netns.remove(namespace)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_network_rules: needs root (it makes a network namespace and nftables tables)", file=sys.stderr)
        return 1
    run([int(s) for s in args.sizes.split(",")], args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
