"""IP address management: pools, gateways, and race-free allocation (:func:`allocate_fixed_ips` for a port).

Correctness does not rest on locks: ``network_ipallocations`` has a unique
constraint on ``(network_id, ip_address)``. :func:`allocate` picks a free
candidate at random among the first few free addresses of the pools (so
concurrent requests rarely collide), inserts it inside a SAVEPOINT and, when
another transaction took it first (``db.is_duplicate``), rolls the savepoint
back and tries another. This is correct on SQLite (writers serialised),
PostgreSQL and MariaDB (the unique index arbitrates), and released
addresses are simply rows deleted, so they return to the pool.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import netaddr
import sqlalchemy as sa
from sqlalchemy import exc, orm

import cumulo.contracts.network as nexc
import cumulo_service_network.common as c
import cumulo_service_network.models as models
from cumulo import db

#: How many free addresses a request chooses among (spreads concurrent requests).
CANDIDATES = 16
#: How many collisions one allocation tolerates before giving up (it then re-reads).
MAX_ATTEMPTS = 64


def parse_cidr(value: Any, field: str = "cidr") -> netaddr.IPNetwork:
    try:
        if not isinstance(value, str) or "/" not in value:
            raise ValueError
        return netaddr.IPNetwork(value)
    except (ValueError, netaddr.AddrFormatError, TypeError):
        raise nexc.InvalidInput(error_message=f"'{value}' is not a valid {field} (expected a CIDR such as "
                                              "10.0.0.0/24)") from None


def parse_ip(value: Any, field: str = "ip_address") -> netaddr.IPAddress:
    try:
        if not isinstance(value, str) or "/" in value:
            raise ValueError
        return netaddr.IPAddress(value)
    except (ValueError, netaddr.AddrFormatError, TypeError):
        raise nexc.InvalidInput(error_message=f"'{value}' is not a valid IP address for {field}") from None


def default_gateway(cidr: netaddr.IPNetwork) -> str | None:
    if cidr.size < 2 or (cidr.version == 4 and cidr.prefixlen >= 31):
        return None
    return str(netaddr.IPAddress(cidr.first + 1, cidr.version))


def usable_range(cidr: netaddr.IPNetwork) -> tuple[int, int] | None:
    """First and last host address (IPv4 drops network and broadcast; IPv6 drops the subnet-router anycast)."""
    if cidr.version == 4:
        if cidr.prefixlen >= 31:
            return cidr.first, cidr.last
        return cidr.first + 1, cidr.last - 1
    if cidr.prefixlen == 128:
        return cidr.first, cidr.last
    return cidr.first + 1, cidr.last


def default_pools(cidr: netaddr.IPNetwork, gateway: str | None) -> list[dict[str, str]]:
    """The whole usable range minus the gateway."""
    rng = usable_range(cidr)
    if rng is None:
        return []
    ranges = [rng]
    if gateway:
        g = int(netaddr.IPAddress(gateway))
        ranges = []
        if rng[0] <= g - 1:
            ranges.append((rng[0], min(g - 1, rng[1])))
        if g + 1 <= rng[1]:
            ranges.append((max(g + 1, rng[0]), rng[1]))
        if not (rng[0] <= g <= rng[1]):
            ranges = [rng]
    v = cidr.version
    return [{"start": str(netaddr.IPAddress(a, v)), "end": str(netaddr.IPAddress(b, v))} for a, b in ranges if a <= b]


def validate_pools(cidr: netaddr.IPNetwork, pools: Any, gateway: str | None) -> list[dict[str, str]]:
    """Check pools are ranges inside the CIDR, ordered, disjoint, and clear of the gateway."""
    if not isinstance(pools, list):
        raise nexc.InvalidInput(error_message="allocation_pools must be a list of {start, end}")
    seen: list[netaddr.IPRange] = []
    out = []
    for pool in pools:
        if not isinstance(pool, dict) or set(pool) != {"start", "end"}:
            raise nexc.InvalidInput(error_message=f"allocation pool {pool!r} must have exactly 'start' and 'end'")
        start, end = parse_ip(pool["start"], "allocation pool start"), parse_ip(pool["end"], "allocation pool end")
        if start.version != cidr.version or end.version != cidr.version or start not in cidr or end not in cidr:
            raise nexc.BadRequest(reason=f"The allocation pool {start}-{end} spans beyond the subnet cidr {cidr}.")
        if start > end:
            raise nexc.BadRequest(reason=f"The allocation pool {start}-{end} is invalid: start is after end.")
        rng = netaddr.IPRange(start, end)
        for other in seen:
            if rng.first <= other.last and other.first <= rng.last:
                raise nexc.BadRequest(reason=f"Found overlapping allocation pools: {rng} and {other} for subnet {cidr}.")
        if gateway and netaddr.IPAddress(gateway) in rng:
            raise nexc.GatewayConflictWithAllocationPools(ip_address=gateway, pool=f"{start}-{end}")
        seen.append(rng)
        out.append({"start": str(start), "end": str(end)})
    return out


def pool_size(subnet: models.Subnet) -> int:
    return sum(netaddr.IPRange(p["start"], p["end"]).size for p in subnet.allocation_pools)


def _free_candidates(subnet: models.Subnet, taken: set[str]) -> Iterator[str]:
    version = subnet.ip_version
    for pool in subnet.allocation_pools:
        first, last = int(netaddr.IPAddress(pool["start"])), int(netaddr.IPAddress(pool["end"]))
        for value in range(first, last + 1):
            ip = str(netaddr.IPAddress(value, 4 if version == 4 else 6))
            if ip not in taken:
                yield ip


def _taken(session: orm.Session, subnet: models.Subnet) -> set[str]:
    rows = session.execute(sa.select(models.IPAllocation.ip_address)
                           .where(models.IPAllocation.subnet_id == subnet.id)).scalars()
    return set(rows)


def eui64(subnet: models.Subnet, mac: str) -> str:
    """SLAAC address of ``mac`` in an IPv6 /64 subnet."""
    cidr = netaddr.IPNetwork(subnet.cidr)
    return str(netaddr.EUI(mac).ipv6(cidr.network))


def _insert(session: orm.Session, port_id: str, subnet: models.Subnet, ip: str) -> bool:
    """Insert one allocation in a savepoint; False when another transaction holds the address."""
    try:
        with session.begin_nested():
            session.add(models.IPAllocation(port_id=port_id, subnet_id=subnet.id,
                                            network_id=subnet.network_id, ip_address=ip))
            session.flush()
        return True
    except exc.IntegrityError as err:
        if db.is_duplicate(err):
            return False
        raise


def allocate_any(session: orm.Session, port_id: str, subnet: models.Subnet) -> str | None:
    """Allocate a free address of ``subnet``'s pools to the port; None when the pools are exhausted."""
    if subnet.ip_version == 6 and subnet.ipv6_address_mode in ("slaac", "dhcpv6-stateless"):
        raise AssertionError("SLAAC subnets are allocated with allocate_specific(eui64)")
    tried: set[str] = set()
    for _ in range(MAX_ATTEMPTS):
        taken = _taken(session, subnet) | tried
        candidates = []
        for ip in _free_candidates(subnet, taken):
            candidates.append(ip)
            if len(candidates) >= CANDIDATES:
                break
        if not candidates:
            return None
        ip = random.choice(candidates)
        if _insert(session, port_id, subnet, ip):
            return ip
        tried.add(ip)
    return None


def allocate_specific(session: orm.Session, port_id: str, subnet: models.Subnet, ip: str) -> None:
    """Allocate exactly ``ip``; 409 IpAddressAlreadyAllocated when it is in use."""
    exists = session.execute(sa.select(models.IPAllocation.id).where(
        models.IPAllocation.network_id == subnet.network_id, models.IPAllocation.ip_address == ip)).first()
    if exists or not _insert(session, port_id, subnet, ip):
        raise nexc.IpAddressAlreadyAllocated(ip=ip, subnet_id=subnet.id)


def check_ip_in_subnet(subnet: models.Subnet, ip: str, allow_gateway: bool = False) -> None:
    addr = netaddr.IPAddress(ip)
    cidr = netaddr.IPNetwork(subnet.cidr)
    rng = usable_range(cidr)
    if addr not in cidr or rng is None or not (rng[0] <= int(addr) <= rng[1]):
        raise nexc.InvalidIpForSubnet(ip_address=ip)
    if not allow_gateway and subnet.gateway_ip and ip == subnet.gateway_ip:
        raise nexc.GatewayIpInUse(ip_address=ip, subnet_id=subnet.id)


def allocate_fixed_ips(s: orm.Session, port: models.Port, fixed_ips: Any, allow_gateway: bool) -> None:
    """Allocate the requested (or default) fixed IPs to a flushed port."""
    subnets = list(s.execute(sa.select(models.Subnet).where(models.Subnet.network_id == port.network_id)
                             .order_by(models.Subnet.created_at)).scalars())
    by_id = {x.id: x for x in subnets}
    if fixed_ips is None:
        _allocate_default_ips(s, port, subnets)
        return
    if not isinstance(fixed_ips, list):
        raise nexc.InvalidInput(error_message="fixed_ips must be a list of {subnet_id, ip_address}")
    for item in fixed_ips:
        if not isinstance(item, dict) or not item or set(item) - {"subnet_id", "ip_address"}:
            raise nexc.InvalidInput(error_message=f"fixed_ips entry {item!r} needs subnet_id and/or ip_address")
        ip = str(parse_ip(item["ip_address"], "fixed_ips")) if item.get("ip_address") else None
        if item.get("subnet_id") is not None:
            c.to_id(item["subnet_id"], "fixed_ips subnet_id")
        if item.get("subnet_id"):
            sub = by_id.get(item["subnet_id"])
            if sub is None:
                if s.get(models.Subnet, item["subnet_id"]) is not None:
                    raise nexc.InvalidInput(error_message=f"Subnet {item['subnet_id']} is not on network "
                                                          f"{port.network_id}")
                raise nexc.SubnetNotFound(id=item["subnet_id"])
            if ip is not None:
                check_ip_in_subnet(sub, ip, allow_gateway)
        elif ip is not None:
            sub = next((x for x in subnets if netaddr.IPAddress(ip) in netaddr.IPNetwork(x.cidr)), None)
            if sub is None:
                raise nexc.InvalidIpForNetwork(ip_address=ip)
            check_ip_in_subnet(sub, ip, allow_gateway)
        else:
            raise nexc.InvalidInput(error_message="fixed_ips entries need subnet_id or ip_address")
        if ip is not None:
            allocate_specific(s, port.id, sub, ip)
        elif sub.ip_version == 6 and sub.ipv6_address_mode in ("slaac", "dhcpv6-stateless"):
            allocate_specific(s, port.id, sub, eui64(sub, port.mac_address))
        elif not allocate_any(s, port.id, sub):
            raise nexc.IpAddressGenerationFailure(net_id=port.network_id)


def _allocate_default_ips(s: orm.Session, port: models.Port, subnets: list[models.Subnet]) -> None:
    """No fixed IPs asked for: one IPv4 address, the SLAAC addresses and one stateful IPv6 address."""
    v4 = [x for x in subnets if x.ip_version == 4]
    if v4:
        for sub in v4:
            if allocate_any(s, port.id, sub):
                break
        else:
            raise nexc.IpAddressGenerationFailure(net_id=port.network_id)
    stateful_done = False
    for sub in (x for x in subnets if x.ip_version == 6):
        if sub.ipv6_address_mode in ("slaac", "dhcpv6-stateless"):
            allocate_specific(s, port.id, sub, eui64(sub, port.mac_address))
        elif not stateful_done:
            if not allocate_any(s, port.id, sub):
                raise nexc.IpAddressGenerationFailure(net_id=port.network_id)
            stateful_done = True
