"""Real guests: ``cumulo up`` with the libvirt driver (QEMU, TCG here), driven by the unmodified ``openstack`` client.

One cloud for the module (one worker owns libvirtd): the tiny guest is built from Debian packages
and uploaded with ``cumulo image build-tiny --upload`` (an AKI/ARI kernel and ramdisk, a qcow2 root
disk naming them), then a server goes through its life as a user would drive it, and each step
is checked against what the guest itself prints on its serial console (``cumulo-tiny: up ...``)
and against libvirt (no domain, disk or overlay left after delete).

Needs root, QEMU, libvirt and the tiny guest's packages: without them the module skips with the
reason, and fails instead when ``CI`` is set (CI installs them: tools/system-packages.sh).
The cloud's network driver is ``linuxbridge`` (bridges in the namespace the tests run in, as
libvirt plugs its taps there; the external network's gateway in an "outside" namespace this
module makes): most servers boot with ``--nic none`` and configure themselves from the config
drive; one gets DHCP on a tenant network and is reached through a floating IP, as security
group rules allow.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from cumulo.testing.cloud import CumuloCloud
from cumulo.testing.fixtures import libvirtd_session, unavailable, wait_for

MARKER = "cumulo-tiny: up"
OUTSIDE_NS = f"cmtlv{secrets.token_hex(3)}-out"
PUBLIC_CIDR = "172.24.6.0/24"
OUTSIDE_IP = "172.24.6.1"  # the public subnet's gateway: the outside's end of the external bridge


def _require() -> None:
    if os.geteuid() != 0:
        unavailable("real guests need root (the all-in-one starts libvirtd)")
    for tool in ("qemu-system-x86_64", "qemu-img"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed (tools/system-packages.sh installs it)")
    if not (shutil.which("libvirtd") or os.path.exists("/usr/sbin/libvirtd")):
        unavailable("libvirtd is not installed (tools/system-packages.sh installs it)")
    try:
        import libvirt  # noqa: F401
    except ImportError:
        unavailable("libvirt-python is not installed")
    for tool in ("nft", "dnsmasq", "nsenter", "curl", "busybox"):
        if not shutil.which(tool) and not shutil.which(tool, path="/usr/sbin:/sbin"):
            unavailable(f"{tool} is not installed (tools/system-packages.sh installs it)")
    from cumulo import registry

    if "libvirt" not in registry.names("hypervisor"):
        unavailable("the cumulo-hypervisor-libvirt plugin is not installed")
    if "linuxbridge" not in registry.names("network"):
        unavailable("the cumulo-network-linux plugin is not installed")


def _links() -> set[str]:
    from cumulo_network_linux import netns

    return set(netns.link_names(None))


def _namespaces() -> set[str]:
    try:
        return set(os.listdir("/run/netns"))
    except FileNotFoundError:
        return set()


def _cleanup_data_plane(state_path: str, links_before: set[str]) -> None:
    """Backstop: the bridges, namespaces and rules this module's cloud made on the host (only those: another
    module's cloud may run beside it, with qrouter-/qdhcp- namespaces of its own)."""
    from cumulo_network_linux import netns
    from cumulo_network_linux.driver import owned_namespaces
    from cumulo_network_linux.firewall import Firewall

    for link in _links() - links_before:
        if link.startswith(("brq", "tap", "cxg", "vxlan-")):
            netns.delete_link(None, link)
    for namespace in owned_namespaces(state_path):
        netns.remove(namespace)
    netns.remove(OUTSIDE_NS)
    Firewall(None).clear()


@pytest.fixture(scope="module")
def lv_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    _require()

    with libvirtd_session():  # the machine's libvirtd is this module's while its clouds run
        yield from _lv_cloud(tmp_path_factory)


def _lv_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    from cumulo_network_linux import netns

    links_before = _links()
    netns.ensure(OUTSIDE_NS)
    cloud = CumuloCloud(tmp_path_factory.mktemp("libvirt-cloud"), config={
        "DEFAULT": {"default_image": True},  # cumulo up builds and uploads the tiny guest on its first start
        "compute": {"hypervisor_driver": "libvirt", "shutdown_timeout": 5},
        "libvirt": {"virt_type": "auto", "shutdown_timeout": 5},
        "network": {"driver": "linuxbridge", "public_subnet_cidr": PUBLIC_CIDR},
        "linux_network": {"outside_namespace": OUTSIDE_NS, "supervise_interval": 1},
    })
    try:
        cloud.start(timeout=180)
        _wait_default_image(cloud)
        cloud.openstack("flavor", "create", "--ram", "256", "--vcpus", "1", "--disk", "1", "t1.tiny")
        cloud.openstack("flavor", "create", "--ram", "320", "--vcpus", "1", "--disk", "2", "t1.small")
        yield cloud
    finally:
        try:  # a failed test leaves servers: delete them as a user would, before the cloud stops
            for server in cloud.openstack("server", "list", "--all-projects"):
                cloud.openstack("server", "delete", "--wait", server["ID"], check=False)
        except Exception:  # the cloud is gone already: the backstop below still cleans up
            pass
        _destroy_domains_under(cloud.state_path)  # while the libvirtd the cloud may have started still runs
        cloud.stop()
        subprocess.run(["pkill", "-f", f"dnsmasq.*{cloud.state_path}"], check=False)
        _cleanup_data_plane(cloud.state_path, links_before)


def _wait_default_image(cloud: CumuloCloud, timeout: float = 900,
                        names: tuple[str, ...] = ("tiny", "tiny-kernel", "tiny-ramdisk")) -> None:
    """The tiny guest that cumulo up uploads on a first start (``[DEFAULT] default_image``), active."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        images = {i["Name"]: i["Status"] for i in cloud.openstack("image", "list")}
        if all(images.get(n) == "active" for n in names):
            assert os.path.exists(os.path.join(cloud.state_path, "default-image.done"))
            return
        log = cloud.log_tail(40)
        if "Default image: not made" in log:
            if "apt-get download" in log:
                unavailable(f"the tiny guest's Debian packages cannot be fetched: {log[-300:]}")
            pytest.fail(f"cumulo up could not make the default image:\n{log}")
        time.sleep(2)
    pytest.fail(f"no default image after {timeout:.0f} s:\n{cloud.log_tail(40)}")


def _destroy_domains_under(state_path: str) -> None:
    """Backstop: destroy and undefine the domains whose disks live in this cloud's state path."""
    import libvirt

    try:
        conn = libvirt.open("qemu:///system")
    except libvirt.libvirtError:
        return
    try:
        for dom in conn.listAllDomains():
            if state_path in dom.XMLDesc(0):
                if dom.isActive():
                    dom.destroy()
                dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
    finally:
        conn.close()


def _show(cloud: CumuloCloud, name: str) -> dict[str, Any]:
    result: dict[str, Any] = cloud.openstack("server", "show", name)
    return result


def _wait(cloud: CumuloCloud, name: str, status: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    server = _show(cloud, name)
    while time.monotonic() < deadline:
        server = _show(cloud, name)
        if server["status"] == status and not server.get("OS-EXT-STS:task_state"):
            return server
        if server["status"] == "ERROR":
            pytest.fail(f"{name} went to ERROR: {server.get('fault')}\n{cloud.log_tail(80)}")
        time.sleep(1)
    pytest.fail(f"{name} is {server['status']}/{server.get('OS-EXT-STS:task_state')}, not {status}, "
                f"after {timeout:.0f} s\n{cloud.log_tail(80)}")


def _console(cloud: CumuloCloud, name: str) -> str:
    return str(cloud.openstack("console", "log", "show", name, json_out=False))


def _wait_marker(cloud: CumuloCloud, name: str, count: int = 1, timeout: float = 120) -> str:
    """The console once it holds ``count`` up lines (one per boot of this guest)."""
    deadline = time.monotonic() + timeout
    log = ""
    while time.monotonic() < deadline:
        log = _console(cloud, name)
        if log.count(MARKER) >= count:
            return log
        time.sleep(1)
    pytest.fail(f"{name}: {count} '{MARKER}' line(s) not on the console after {timeout:.0f} s:\n{log[-2000:]}")


def _domains() -> list[str]:
    import libvirt

    conn = libvirt.openReadOnly("qemu:///system")
    try:
        return [d.UUIDString() for d in conn.listAllDomains()]
    finally:
        conn.close()


def test_an_lxc_container_from_the_tarball_gets_dhcp_and_its_metadata(tmp_path_factory: pytest.TempPathFactory) -> None:
    """``virt_type = lxc``: a container from the ``tiny-lxc`` root-filesystem tarball, on a linuxbridge network.

    Its own cloud, first in this module (the QEMU cloud's fixture starts later): the libvirtd it starts
    runs in the mount namespace LXC needs. The console log is what the container printed (libvirt logs
    no LXC console: the driver follows the console stream), its address came from our dnsmasq and its
    hostname from the metadata service, as it has no config drive.
    """
    _require()
    with libvirtd_session():
        _stop_libvirtd_unfit_for_lxc()
        _lxc_container(tmp_path_factory)


def _stop_libvirtd_unfit_for_lxc() -> None:
    """Stop a libvirtd left running that sees the unified cgroup mount (one a package install or another
    test started): this test holds the machine's libvirtd (``libvirtd_session``), and ``cumulo up`` would
    refuse that one for LXC, so it stops it and lets ``cumulo up`` start one in the namespace LXC needs."""
    from cumulo_hypervisor_libvirt import daemons

    pid = daemons.libvirtd_seeing_unified_cgroup()
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)

    def gone() -> bool:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                return f.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
        except OSError:
            return True

    wait_for(gone, timeout=30, message=f"libvirtd (pid {pid}) did not stop")


def _lxc_container(tmp_path_factory: pytest.TempPathFactory) -> None:
    from cumulo_network_linux import netns

    links_before = _links()
    netns.ensure(OUTSIDE_NS)
    cloud = CumuloCloud(tmp_path_factory.mktemp("lxc-cloud"), config={
        "DEFAULT": {"default_image": True},
        "compute": {"hypervisor_driver": "libvirt", "shutdown_timeout": 5},
        "libvirt": {"virt_type": "lxc", "shutdown_timeout": 5},
        "network": {"driver": "linuxbridge", "public_subnet_cidr": PUBLIC_CIDR},
        "linux_network": {"outside_namespace": OUTSIDE_NS, "supervise_interval": 1},
    })
    try:
        cloud.start(timeout=180)
        _wait_default_image(cloud, names=("tiny-lxc",))
        cloud.openstack("network", "create", "ct-net")
        cloud.openstack("subnet", "create", "--network", "ct-net", "--subnet-range", "10.78.0.0/24", "ct-sub")
        cloud.openstack("server", "create", "--image", "tiny-lxc", "--flavor", "m1.tiny", "--network", "ct-net",
                        "ct1")
        server = _wait(cloud, "ct1", "ACTIVE")
        [[address]] = [[ip for ip in ips] for ips in server["addresses"].values()]
        log = _wait_marker(cloud, "ct1")
        assert f"{MARKER} ct1 {address}" in log, log[-1000:]
        hypervisors = cloud.openstack("hypervisor", "list", "--long")
        assert {h["Hypervisor Type"] for h in hypervisors} == {"LXC"}
        cloud.openstack("server", "delete", "--wait", "ct1")
        assert not os.path.exists(os.path.join(cloud.state_path, "libvirt", "instances", server["id"]))
    finally:
        try:
            for s in cloud.openstack("server", "list", "--all-projects"):
                cloud.openstack("server", "delete", "--wait", s["ID"], check=False)
        except Exception:  # the cloud never came up: the backstop below still cleans up
            pass
        cloud.stop()
        subprocess.run(["pkill", "-f", f"dnsmasq.*{cloud.state_path}"], check=False)
        _cleanup_data_plane(cloud.state_path, links_before)


def test_a_real_guest_through_its_life(lv_cloud: CumuloCloud) -> None:
    cloud = lv_cloud
    started = time.monotonic()
    server = cloud.openstack("server", "create", "--image", "tiny", "--flavor", "t1.tiny", "--nic", "none",
                             "lv-one")
    log = _wait_marker(cloud, "lv-one")
    print(f"\nlv-one: up line {time.monotonic() - started:.1f} s after the create was accepted")
    assert f"{MARKER} lv-one" in log, log[-1000:]  # the hostname came from the config drive
    server = _wait(cloud, "lv-one", "ACTIVE")
    uuid = server["id"]
    assert uuid in _domains()
    instance_dir = os.path.join(cloud.state_path, "libvirt", "instances", uuid)
    assert os.path.exists(os.path.join(instance_dir, "disk"))

    cloud.openstack("server", "stop", "lv-one")
    _wait(cloud, "lv-one", "SHUTOFF")
    cloud.openstack("server", "start", "lv-one")
    _wait(cloud, "lv-one", "ACTIVE")
    _wait_marker(cloud, "lv-one", count=2)  # it booted again: the console log is appended to

    cloud.openstack("server", "reboot", "--hard", "lv-one")
    _wait(cloud, "lv-one", "ACTIVE")
    _wait_marker(cloud, "lv-one", count=3)

    for action, status, undo in (("pause", "PAUSED", "unpause"), ("suspend", "SUSPENDED", "resume")):
        cloud.openstack("server", action, "lv-one")
        _wait(cloud, "lv-one", status)
        cloud.openstack("server", undo, "lv-one")
        _wait(cloud, "lv-one", "ACTIVE")

    cloud.openstack("server", "rescue", "lv-one")
    _wait(cloud, "lv-one", "RESCUE")
    cloud.openstack("server", "unrescue", "lv-one")
    _wait(cloud, "lv-one", "ACTIVE")

    cloud.openstack("server", "resize", "--flavor", "t1.small", "lv-one")
    _wait(cloud, "lv-one", "VERIFY_RESIZE")
    cloud.openstack("server", "resize", "confirm", "lv-one")
    server = _wait(cloud, "lv-one", "ACTIVE")
    assert "t1.small" in str(server["flavor"])

    cloud.openstack("server", "image", "create", "--name", "lv-snap", "--wait", "lv-one")
    snap = cloud.openstack("image", "show", "lv-snap")
    assert snap["status"] == "active" and snap["disk_format"] == "qcow2"
    cloud.openstack("server", "create", "--image", "lv-snap", "--flavor", "t1.small", "--nic", "none", "lv-two")
    log = _wait_marker(cloud, "lv-two")
    assert f"{MARKER} lv-two" in log
    two = _wait(cloud, "lv-two", "ACTIVE")
    # Deleted while a resize awaits confirmation: the copy kept for a revert (<uuid>_resize) goes too.
    cloud.openstack("flavor", "create", "--ram", "288", "--vcpus", "1", "--disk", "2", "t1.small-b")
    cloud.openstack("server", "resize", "--flavor", "t1.small-b", "lv-two")
    _wait(cloud, "lv-two", "VERIFY_RESIZE")
    assert os.path.isdir(os.path.join(cloud.state_path, "libvirt", "instances", two["id"] + "_resize"))

    for name, ident in (("lv-one", uuid), ("lv-two", two["id"])):
        cloud.openstack("server", "delete", "--wait", name)
        assert ident not in _domains()
        assert not os.path.exists(os.path.join(cloud.state_path, "libvirt", "instances", ident))
    leftovers = [n for n in os.listdir(os.path.join(cloud.state_path, "libvirt", "instances"))]
    assert leftovers == [], leftovers


def test_a_guest_that_shuts_itself_down_shows_shutoff_within_seconds(lv_cloud: CumuloCloud) -> None:
    import libvirt

    cloud = lv_cloud
    cloud.openstack("server", "create", "--image", "tiny", "--flavor", "t1.tiny", "--nic", "none", "lv-self")
    _wait_marker(cloud, "lv-self")
    uuid = _wait(cloud, "lv-self", "ACTIVE")["id"]
    conn = libvirt.open("qemu:///system")
    try:
        conn.lookupByUUIDString(uuid).destroy()  # as if the guest powered itself off: the API is not asked
    finally:
        conn.close()
    started = time.monotonic()
    _wait(cloud, "lv-self", "SHUTOFF", timeout=15)  # the power sync polls only every 60 s: this is the event
    print(f"\nlv-self: SHUTOFF {time.monotonic() - started:.1f} s after the guest stopped")
    cloud.openstack("server", "delete", "--wait", "lv-self")


def _ws_first_frame(ws_url: str) -> bytes:
    """Open a websocket (RFC 6455 handshake, standard library only) and return the first frame's payload."""
    u = urlparse(ws_url)
    assert u.hostname and u.port, ws_url
    s = socket.create_connection((u.hostname, u.port), timeout=30)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(f"GET {u.path or '/'}?{u.query} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Protocol: binary\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(4096)
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        while len(rest) < 2 or len(rest) < 2 + (rest[1] & 0x7F):
            rest += s.recv(4096)
        return rest[2:2 + (rest[1] & 0x7F)]
    finally:
        s.close()


def test_console_urls_answer(lv_cloud: CumuloCloud) -> None:
    """``console url show`` gives a noVNC URL whose websocket speaks VNC; ``--serial`` a websocket URL."""
    cloud = lv_cloud
    cloud.openstack("server", "create", "--image", "tiny", "--flavor", "t1.tiny", "--nic", "none", "lv-con")
    _wait(cloud, "lv-con", "ACTIVE")
    url = str(cloud.openstack("console", "url", "show", "-f", "value", "-c", "url", "lv-con", json_out=False)).strip()
    u = urlparse(url)
    assert u.path.endswith("vnc_auto.html"), url
    with urllib.request.urlopen(url, timeout=10) as page:  # the noVNC page itself (Debian's novnc package)
        assert page.status == 200 and b"noVNC" in page.read()
    ws = f"ws://{u.netloc}/{parse_qs(u.query)['path'][0]}"
    assert _ws_first_frame(ws).startswith(b"RFB 003.008")  # the guest's own VNC server, through the proxy
    serial = str(cloud.openstack("console", "url", "show", "--serial", "-f", "value", "-c", "url", "lv-con",
                                 json_out=False)).strip()
    assert serial.startswith("ws://") and "token=" in serial
    cloud.openstack("server", "delete", "--wait", "lv-con")


def _from_outside(*argv: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", f"--net=/run/netns/{OUTSIDE_NS}", "--", *argv], capture_output=True,
                          text=True, timeout=timeout)


def _http_from_outside(address: str) -> str | None:
    proc = _from_outside("curl", "-sf", "--max-time", "2", f"http://{address}/")
    return proc.stdout if proc.returncode == 0 else None


def _ping_from_outside(address: str) -> bool:
    return _from_outside("busybox", "ping", "-c", "1", "-W", "1", address).returncode == 0


def test_a_guest_on_a_tenant_network_gets_dhcp_and_a_floating_ip_as_its_rules_allow(lv_cloud: CumuloCloud) -> None:
    """The linuxbridge data plane under a real guest: DHCP, a router, a floating IP, security group rules."""
    cloud = lv_cloud
    cloud.openstack("network", "create", "lv-net")
    cloud.openstack("subnet", "create", "--network", "lv-net", "--subnet-range", "10.77.0.0/24", "lv-sub")
    cloud.openstack("router", "create", "lv-router")
    cloud.openstack("router", "set", "--external-gateway", "public", "lv-router")
    cloud.openstack("router", "add", "subnet", "lv-router", "lv-sub")
    started = time.monotonic()
    cloud.openstack("server", "create", "--image", "tiny", "--flavor", "t1.tiny", "--network", "lv-net", "lv-net")
    log = _wait_marker(cloud, "lv-net")
    server = _wait(cloud, "lv-net", "ACTIVE")
    [[address]] = [[ip for ip in ips] for ips in server["addresses"].values()]
    print(f"\nlv-net: up with {address} {time.monotonic() - started:.1f} s after the create was accepted")
    assert f"{MARKER} lv-net {address}" in log, log[-1000:]  # its address came from our dnsmasq

    fip = cloud.openstack("floating", "ip", "create", "public")["floating_ip_address"]
    cloud.openstack("server", "add", "floating", "ip", "lv-net", fip)
    # Ingress is denied by default: neither HTTP nor ICMP reaches the guest.
    assert _http_from_outside(fip) is None
    assert not _ping_from_outside(fip)
    http = cloud.openstack("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "80",
                           "--remote-ip", "0.0.0.0/0", "default", json_out=True)
    page = wait_for(lambda: _http_from_outside(fip), timeout=10)
    assert page and "lv-net" in page, page  # the guest's busybox httpd names its host
    assert not _ping_from_outside(fip)  # only what the rule allows
    icmp = cloud.openstack("security", "group", "rule", "create", "--protocol", "icmp", "--remote-ip",
                           "0.0.0.0/0", "default", json_out=True)
    assert wait_for(lambda: _ping_from_outside(fip), timeout=10)
    cloud.openstack("security", "group", "rule", "delete", http["id"])
    assert wait_for(lambda: _http_from_outside(fip) is None, timeout=5)
    assert _ping_from_outside(fip)
    cloud.openstack("security", "group", "rule", "delete", icmp["id"])

    router_id = cloud.openstack("router", "show", "lv-router")["id"]
    network_id = cloud.openstack("network", "show", "lv-net")["id"]
    cloud.openstack("server", "delete", "--wait", "lv-net")
    cloud.openstack("floating", "ip", "delete", fip)
    cloud.openstack("router", "remove", "subnet", "lv-router", "lv-sub")
    cloud.openstack("router", "delete", "lv-router")
    cloud.openstack("network", "delete", "lv-net")
    assert not {f"qrouter-{router_id}", f"qdhcp-{network_id}"} & _namespaces()
    assert f"brq{network_id[:11]}" not in _links()
