"""IPAM: subnets, pools, gateways, fixed IPs, exhaustion, release, IPv6."""

from __future__ import annotations

import netaddr
import pytest

import cumulo.contracts.network as nexc
from cumulo import exception


@pytest.fixture
def net(service, demo):
    return service.create_network(demo, {"name": "n"})


def test_subnet_defaults(service, demo, net):
    sub = service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.0.0.0/24", "ip_version": 4})
    assert sub["gateway_ip"] == "10.0.0.1"
    assert sub["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert sub["enable_dhcp"] is True


def test_subnet_with_pools_dns_routes(service, demo, net):
    sub = service.create_subnet(demo, {
        "network_id": net["id"], "cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.100",
                                                                              "end": "10.0.0.110"}],
        "dns_nameservers": ["192.0.2.53"], "host_routes": [{"destination": "198.51.100.0/24",
                                                            "nexthop": "10.0.0.254"}]})
    assert sub["dns_nameservers"] == ["192.0.2.53"]
    assert sub["host_routes"] == [{"destination": "198.51.100.0/24", "nexthop": "10.0.0.254"}]
    ips = {service.create_port(demo, {"network_id": net["id"]})["fixed_ips"][0]["ip_address"] for _ in range(11)}
    assert ips == {f"10.0.0.{i}" for i in range(100, 111)}
    with pytest.raises(nexc.IpAddressGenerationFailure) as err:
        service.create_port(demo, {"network_id": net["id"]})
    assert err.value.code == 409 and "No more IP addresses available" in str(err.value)


@pytest.mark.parametrize("body, error", [
    ({"cidr": "10.0.0.5/24"}, nexc.InvalidInput),
    ({"cidr": "not-a-cidr"}, nexc.InvalidInput),
    ({"cidr": "10.0.0.0/24", "ip_version": 6}, nexc.InvalidInput),
    ({"cidr": "10.0.0.0/24", "gateway_ip": "10.1.0.1"}, nexc.InvalidInput),
    ({"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.1.1", "end": "10.0.1.5"}]}, nexc.BadRequest),
    ({"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.9", "end": "10.0.0.5"}]}, nexc.BadRequest),
    ({"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.1", "end": "10.0.0.5"}]}, exception.Conflict),
    ({"cidr": "10.0.0.0/24", "dns_nameservers": ["1.1.1.1", "1.1.1.1"]}, nexc.InvalidInput),
    ({"cidr": "10.0.0.0/24", "unknown": 1}, nexc.BadRequest),
    ({}, nexc.BadRequest),
])
def test_subnet_validation(service, demo, net, body, error):
    with pytest.raises(error) as err:
        service.create_subnet(demo, dict(body, network_id=net["id"]))
    assert 400 <= err.value.code < 500


def test_overlapping_subnets_refused(service, demo, net):
    service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.0.0.0/16"})
    with pytest.raises(nexc.InvalidInput, match="overlaps"):
        service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.0.5.0/24"})


def test_specific_ip_and_conflicts(service, demo, net):
    sub = service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.0.0.0/24"})
    port = service.create_port(demo, {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.0.0.50"}]})
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.0.0.50"}]
    with pytest.raises(nexc.IpAddressAlreadyAllocated):
        service.create_port(demo, {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.0.0.50"}]})
    with pytest.raises(nexc.InvalidIpForNetwork):
        service.create_port(demo, {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.9.0.5"}]})
    with pytest.raises(exception.Conflict, match="gateway"):
        service.create_port(demo, {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.0.0.1"}]})


def test_released_addresses_return_to_pool(service, demo, net):
    service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.0.0.0/29"})  # 5 usable
    ports = [service.create_port(demo, {"network_id": net["id"]}) for _ in range(5)]
    with pytest.raises(nexc.IpAddressGenerationFailure):
        service.create_port(demo, {"network_id": net["id"]})
    freed = ports[2]["fixed_ips"][0]["ip_address"]
    service.delete_port(demo, ports[2]["id"])
    again = service.create_port(demo, {"network_id": net["id"]})
    assert again["fixed_ips"][0]["ip_address"] == freed


def test_update_fixed_ips_moves_address(service, demo, net):
    service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.0.0.0/24"})
    port = service.create_port(demo, {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.0.0.10"}]})
    moved = service.update_port(demo, port["id"], {"fixed_ips": [{"ip_address": "10.0.0.20"}]})
    assert [ip["ip_address"] for ip in moved["fixed_ips"]] == ["10.0.0.20"]
    other = service.create_port(demo, {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.0.0.10"}]})
    assert other["fixed_ips"][0]["ip_address"] == "10.0.0.10"


def test_ipv6_stateful_and_slaac(service, demo, net):
    v6 = service.create_subnet(demo, {"network_id": net["id"], "cidr": "2001:db8::/64", "ip_version": 6,
                                      "ipv6_address_mode": "slaac", "ipv6_ra_mode": "slaac"})
    v4 = service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.0.0.0/24"})
    port = service.create_port(demo, {"network_id": net["id"]})
    by_subnet = {ip["subnet_id"]: ip["ip_address"] for ip in port["fixed_ips"]}
    assert set(by_subnet) == {v4["id"], v6["id"]}
    assert by_subnet[v6["id"]] == str(netaddr.EUI(port["mac_address"]).ipv6(netaddr.IPAddress("2001:db8::")))
    net2 = service.create_network(demo, {"name": "v6"})
    stateful = service.create_subnet(demo, {"network_id": net2["id"], "cidr": "2001:db8:1::/120", "ip_version": 6})
    assert stateful["gateway_ip"] == "2001:db8:1::1"
    assert stateful["allocation_pools"] == [{"start": "2001:db8:1::2", "end": "2001:db8:1::ff"}]
    p6 = service.create_port(demo, {"network_id": net2["id"]})
    assert netaddr.IPAddress(p6["fixed_ips"][0]["ip_address"]) in netaddr.IPNetwork("2001:db8:1::/120")


def test_subnetpool_allocation(service, admin, demo):
    pool = service.create_subnetpool(admin, {"name": "pool", "prefixes": ["10.100.0.0/16"],
                                             "default_prefixlen": 24, "shared": True, "is_default": True})
    net = service.create_network(demo, {"name": "n"})
    a = service.create_subnet(demo, {"network_id": net["id"], "subnetpool_id": pool["id"]})
    net2 = service.create_network(demo, {"name": "n2"})
    b = service.create_subnet(demo, {"network_id": net2["id"], "use_default_subnetpool": True, "prefixlen": 26})
    assert a["cidr"] == "10.100.0.0/24" and a["subnetpool_id"] == pool["id"]
    assert netaddr.IPNetwork(b["cidr"]).prefixlen == 26 and b["cidr"] != a["cidr"]
    assert not netaddr.IPSet([a["cidr"]]) & netaddr.IPSet([b["cidr"]])
    with pytest.raises(nexc.SubnetPoolInUse):
        service.delete_subnetpool(admin, pool["id"])


def test_mac_address_unique_per_network(service, demo, net):
    service.create_subnet(demo, {"network_id": net["id"], "cidr": "10.0.0.0/24"})
    service.create_port(demo, {"network_id": net["id"], "mac_address": "fa:16:3e:00:00:01"})
    with pytest.raises(nexc.MacAddressInUse):
        service.create_port(demo, {"network_id": net["id"], "mac_address": "fa:16:3e:00:00:01"})
    with pytest.raises(nexc.InvalidInput):
        service.create_port(demo, {"network_id": net["id"], "mac_address": "01:00:5e:00:00:01"})
