"""Test hosts: a namespace "instance" on a port's bridge, with the port's MAC, and gone without a trace."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest
from cumulo_network_linux import names, netns
from cumulo_network_linux.bridges import Bridges
from cumulo_network_linux.testhosts import TestHost

from cumulo.interfaces.network import NetworkDriverError
from cumulo.interfaces.network.records import Network, Port
from cumulo.testing.fixtures import unavailable


@pytest.fixture
def host_ns() -> Iterator[str]:
    if os.geteuid() != 0:
        unavailable("test hosts need root (namespaces, veths)")
    for tool in ("busybox", "nsenter"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed")
    name = f"l2h-{uuid.uuid4().hex[:8]}"
    netns.ensure(name)
    try:
        yield name
    finally:
        netns.remove(name)


def _network(host_ns: str) -> Network:
    net = Network(id=str(uuid.uuid4()), name="n", project_id="p", network_type="local")
    Bridges(host_ns, {}, None).ensure(net)
    return net


def _port(net: Network) -> Port:
    return Port(id=str(uuid.uuid4()), network_id=net.id, mac_address="fa:16:3e:" + os.urandom(3).hex(":"))


def test_a_test_host_is_the_port_on_its_bridge_and_delete_removes_everything(host_ns: str) -> None:
    net = _network(host_ns)
    port = _port(net)
    host = TestHost.create(f"l2t-{port.id[:8]}", port, host_ns)
    try:
        with netns.route(host.namespace) as ipr:
            eth0 = ipr.get_links(netns.link_index(ipr, "eth0"))[0]
        assert eth0.get("address") == port.mac_address
        with netns.route(host_ns) as ipr:
            tap = ipr.get_links(netns.link_index(ipr, names.tap(port.id)))[0]
            assert tap.get("master") == netns.link_index(ipr, names.bridge(net.id))
        # Commands run in the host's namespace (/proc/net is the reader's: /sys is not remounted by nsenter).
        done = host.run("cat", "/proc/net/dev")
        assert done.returncode == 0 and " eth0:" in done.stdout and names.tap(port.id) not in done.stdout
        assert host.run("false", check=False).returncode == 1
        with pytest.raises(NetworkDriverError, match="failed"):
            host.run("false")
        # Without a DHCP server there is no lease, and it says so in about the time asked for.
        with pytest.raises(NetworkDriverError, match="no DHCP lease in 1 s"):
            host.dhcp(timeout=1)
        workdir = host._workdir
        assert os.stat(workdir).st_mode & 0o077 == 0  # the DHCP script's directory is private
    finally:
        host.delete()
    assert not netns.exists(host.namespace) and not os.path.exists(workdir)
    with netns.route(host_ns) as ipr:
        assert netns.link_index(ipr, names.tap(port.id)) is None
    host.delete()  # twice is no error


def test_a_test_host_needs_its_network_bridge(host_ns: str) -> None:
    port = Port(id=str(uuid.uuid4()), network_id=str(uuid.uuid4()), mac_address="fa:16:3e:00:00:01")
    namespace = f"l2t-{port.id[:8]}"
    with pytest.raises(NetworkDriverError, match="does not exist"):
        TestHost.create(namespace, port, host_ns)
    assert not netns.exists(namespace)
