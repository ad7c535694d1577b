"""Networking with the real clients (python-openstackclient, openstacksdk) against ``cumulo up``."""

from __future__ import annotations

import concurrent.futures
import os
import uuid

import pytest

from cumulo import registry
from cumulo.testing.cloud import CommandFailed, CumuloCloud

WANTED = ("identity", "compute", "image", "network")


@pytest.fixture(scope="module")
def netcloud(tmp_path_factory):
    """A cloud of its own (the 201-port race must not share a pool with other tests)."""
    installed = set(registry.names("api"))
    frontends = [f for f in WANTED if f in installed]
    c = CumuloCloud(tmp_path_factory.mktemp("netcloud"), config={"api": {"frontends": ",".join(frontends)}})
    c.start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def osc(netcloud):
    """The ``openstack`` CLI; JSON output for the verbs that print data."""

    def run(*args, json_out=None, os_cloud="cumulo"):
        if json_out is None:
            json_out = any(a in ("list", "show", "create") for a in args if not a.startswith("-"))
        return netcloud.openstack(*args, json_out=json_out, os_cloud=os_cloud)

    return run


@pytest.fixture(scope="module")
def conn(netcloud):
    return netcloud.connect()


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def has_compute() -> bool:
    return "compute" in registry.names("api") and "image" in registry.names("api")


def test_default_public_network_and_extensions(osc):
    nets = osc("network", "list", "--external")
    assert "public" in [n["Name"] for n in nets]
    aliases = {e["Alias"] for e in osc("extension", "list", "--network")}
    assert {"external-net", "router", "security-group", "quotas", "auto-allocated-topology"} <= aliases


def test_private_model_with_osc(osc, conn):
    net, sub, router = _name("net"), _name("sub"), _name("router")
    n = osc("network", "create", net)
    assert n["status"] == "ACTIVE" and n["router:external"] is False
    s = osc("subnet", "create", "--network", net, "--subnet-range", "192.168.77.0/24", "--allocation-pool",
            "start=192.168.77.10,end=192.168.77.20", "--dns-nameserver", "192.0.2.53", sub)
    assert s["allocation_pools"] == [{"start": "192.168.77.10", "end": "192.168.77.20"}]
    assert s["dns_nameservers"] == ["192.0.2.53"] and s["gateway_ip"] == "192.168.77.1"
    p = osc("port", "create", "--network", net, _name("port"))
    ip = p["fixed_ips"][0]["ip_address"]
    assert 10 <= int(ip.rsplit(".", 1)[1]) <= 20
    assert p["id"] in [x["ID"] for x in osc("port", "list", "--network", net)]
    osc("router", "create", router)
    osc("router", "set", "--external-gateway", "public", router)
    osc("router", "add", "subnet", router, sub)
    r = osc("router", "show", router)
    assert r["external_gateway_info"]["network_id"] == osc("network", "show", "public")["id"]
    fip = osc("floating", "ip", "create", "public")
    osc("floating", "ip", "set", "--port", p["id"], fip["floating_ip_address"])
    shown = osc("floating", "ip", "show", fip["floating_ip_address"])
    assert shown["fixed_ip_address"] == ip and shown["port_id"] == p["id"]

    # Deletes in the wrong order: 409 with a message saying why.
    for args, words in ((("network", "delete", net), "ports still in use"),
                        (("subnet", "delete", sub), "IP allocation"),
                        (("router", "delete", router), "still has ports"),
                        (("network", "delete", "public"), "ports still in use")):
        with pytest.raises(CommandFailed) as err:
            osc(*args)
        assert "409" in err.value.stderr or "Conflict" in err.value.stderr, err.value.stderr
        assert words in err.value.stderr

    # The right order works (through the SDK: each CLI run costs seconds).
    osc("floating", "ip", "delete", fip["floating_ip_address"])
    conn.network.delete_port(p["id"])
    osc("router", "remove", "subnet", router, sub)
    conn.network.delete_router(r["id"])
    conn.network.delete_subnet(s["id"])
    conn.network.delete_network(n["id"])
    assert conn.network.find_network(net) is None


def test_provider_networks_as_admin(osc):
    vlan = osc("network", "create", "--provider-network-type", "vlan", "--provider-physical-network", "physnet1",
               "--provider-segment", "123", "--share", _name("vlan"))
    assert vlan["provider:network_type"] == "vlan" and vlan["provider:segmentation_id"] == 123
    ext = osc("network", "create", "--external", "--provider-network-type", "flat",
              "--provider-physical-network", "physnet-ext", _name("ext"))
    assert ext["router:external"] is True and ext["provider:network_type"] == "flat"
    with pytest.raises(CommandFailed) as err:
        osc("network", "create", "--provider-network-type", "vlan", "--provider-physical-network", "physnet1",
            "--provider-segment", "123", _name("dup"))
    assert "VLAN 123" in err.value.stderr
    osc("network", "delete", vlan["id"], ext["id"])
    assert osc("network", "list", "--provider-network-type", "vlan") == []


def test_security_groups_with_osc(osc):
    sg = _name("sg")
    g = osc("security", "group", "create", sg)
    rule = osc("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", sg)
    assert (rule["port_range_min"], rule["port_range_max"], rule["protocol"]) == (22, 22, "tcp")
    with pytest.raises(CommandFailed) as err:
        osc("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", sg)
    assert "already exists" in err.value.stderr
    osc("security", "group", "delete", g["id"])


def test_auto_allocated_topology_with_osc(osc):
    check = osc("network", "auto", "allocated", "topology", "create", "--check-resources", json_out=True)
    assert check is not None
    topo = osc("network", "auto", "allocated", "topology", "create", json_out=True)
    net = osc("network", "show", topo["id"])
    assert net["name"] == "auto_allocated_network" and net["subnets"]
    again = osc("network", "auto", "allocated", "topology", "create", json_out=True)
    assert again["id"] == topo["id"]
    osc("network", "auto", "allocated", "topology", "delete")
    with pytest.raises(CommandFailed):
        osc("network", "show", topo["id"])


def test_quota_show(osc):
    rows = {r["Resource"]: r["Limit"] for r in osc("quota", "show", "--network")}
    assert rows["networks"] == 100 and rows["ports"] == 500


def test_openstacksdk(conn):
    net = conn.create_network(_name("sdk-net"))
    sub = conn.create_subnet(net.id, cidr="10.44.0.0/24", ip_version=4, enable_dhcp=True)
    assert sub.cidr == "10.44.0.0/24"
    public = conn.get_network("public")
    router = conn.create_router(name=_name("sdk-router"), ext_gateway_net_id=public.id)
    conn.add_router_interface(router, subnet_id=sub.id)
    port = conn.network.create_port(network_id=net.id)
    fip = conn.create_floating_ip(network=public.id)
    assert fip.floating_ip_address.startswith("172.24.4.")
    fip = conn.network.update_ip(fip.id, port_id=port.id)
    assert fip.fixed_ip_address == port.fixed_ips[0]["ip_address"]
    assert [p.id for p in conn.network.ports(device_id=router.id)]
    conn.network.update_ip(fip.id, port_id=None)
    conn.delete_floating_ip(fip.id)
    conn.network.delete_port(port)
    conn.remove_router_interface(router, subnet_id=sub.id)
    conn.delete_router(router.id)
    conn.delete_network(net.id)
    assert conn.get_network(net.id) is None


def test_paging_with_sdk(conn):
    made = [conn.network.create_security_group(name=_name("page")) for _ in range(5)]
    listed = list(conn.network.security_groups(limit=2))
    ids = [g.id for g in listed]
    assert len(ids) == len(set(ids)) and {g.id for g in made} <= set(ids)
    for g in made:
        conn.network.delete_security_group(g)


def test_200_parallel_ports_through_the_api(conn):
    net = conn.network.create_network(name=_name("race"))
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.88.0.0/24",
                               allocation_pools=[{"start": "10.88.0.10", "end": "10.88.0.209"}])

    def one(_):
        return conn.network.create_port(network_id=net.id).fixed_ips[0]["ip_address"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=int(os.environ.get("CUMULO_NET_RACE_WORKERS", "16"))) as ex:
        addresses = list(ex.map(one, range(200)))
    assert len(set(addresses)) == 200
    from openstack import exceptions

    with pytest.raises(exceptions.ConflictException) as err:
        conn.network.create_port(network_id=net.id)
    assert "No more IP addresses available" in str(err.value)
    for port in list(conn.network.ports(network_id=net.id)):
        conn.network.delete_port(port)
    conn.network.delete_network(net)


# -- compute integration (runs once the compute frontend and a hypervisor are installed) ---------------

@pytest.fixture(scope="module")
def boot(netcloud, osc, tmp_path_factory):
    if not has_compute():
        pytest.skip("the compute API frontend is not installed yet")
    image_file = tmp_path_factory.mktemp("img") / "tiny.img"
    image_file.write_bytes(b"\0" * 1024)
    flavor = _name("flavor")
    osc("flavor", "create", "--ram", "64", "--disk", "1", "--vcpus", "1", flavor)
    image = _name("image")
    osc("image", "create", "--file", str(image_file), "--disk-format", "raw", "--container-format", "bare", "--public", image)
    return {"flavor": flavor, "image": image}


def test_server_on_network_with_floating_ip_and_security_group(osc, conn, boot):
    net, sub, router = _name("vmnet"), _name("vmsub"), _name("vmrouter")
    n = conn.network.create_network(name=net)
    s = conn.network.create_subnet(network_id=n.id, name=sub, ip_version=4, cidr="10.66.0.0/24")
    r = conn.network.create_router(name=router, external_gateway_info={
        "network_id": conn.network.find_network("public").id})
    conn.network.add_interface_to_router(r, subnet_id=s.id)
    server = osc("server", "create", "--flavor", boot["flavor"], "--image", boot["image"], "--network", net,
                 "--wait", _name("vm"))
    ports = osc("port", "list", "--server", server["id"])
    assert len(ports) == 1 and ports[0]["Fixed IP Addresses"][0]["ip_address"].startswith("10.66.0.")
    fip = osc("floating", "ip", "create", "public")
    osc("server", "add", "floating", "ip", server["id"], fip["floating_ip_address"])
    shown = osc("server", "show", server["id"])
    assert fip["floating_ip_address"] in str(shown["addresses"])
    sg = _name("vmsg")
    sg_id = osc("security", "group", "create", sg)["id"]
    osc("server", "add", "security", "group", server["id"], sg)
    assert sg_id in list(conn.network.ports(device_id=server["id"]))[0].security_group_ids
    osc("server", "remove", "security", "group", server["id"], sg)
    assert sg_id not in list(conn.network.ports(device_id=server["id"]))[0].security_group_ids
    osc("server", "remove", "floating", "ip", server["id"], fip["floating_ip_address"])
    osc("server", "delete", "--wait", server["id"])
    assert list(conn.network.ports(device_id=server["id"])) == []  # the server's port went with it
    conn.network.delete_ip(fip["id"])
    conn.network.remove_interface_from_router(r, subnet_id=s.id)
    conn.network.delete_router(r)
    conn.network.delete_network(n)


def test_server_without_network_gets_auto_topology(netcloud, osc, conn, boot):
    # A fresh project: it has no network of its own, so 'auto' must build one.
    project = conn.identity.create_project(name=_name("autoproj"), domain_id="default")
    password = uuid.uuid4().hex
    user = conn.identity.create_user(name=_name("autouser"), password=password, domain_id="default",
                                     default_project_id=project.id)
    member = conn.identity.find_role("member")
    conn.identity.assign_project_role_to_user(project, user, member)
    netcloud.add_user_cloud("autouser", user.name, password, project.name)
    server = osc("--os-compute-api-version", "2.37", "server", "create", "--flavor", boot["flavor"],
                 "--image", boot["image"], "--wait", _name("autovm"), os_cloud="autouser")
    ports = list(conn.network.ports(device_id=server["id"]))
    assert len(ports) == 1
    net = conn.network.get_network(ports[0].network_id)
    assert net.name == "auto_allocated_network" and net.project_id == project.id
    routers = list(conn.network.routers(project_id=project.id))
    assert len(routers) == 1 and routers[0].external_gateway_info["network_id"] == conn.network.find_network(
        "public").id
    osc("server", "delete", "--wait", server["id"], os_cloud="autouser")
