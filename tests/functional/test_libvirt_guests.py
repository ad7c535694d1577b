"""Real guests: ``cumulo up`` with the libvirt driver (QEMU, TCG here), driven by the unmodified ``openstack`` client.

One cloud for the module (one worker owns libvirtd): the tiny guest is built from Debian packages
and uploaded with ``cumulo image build-tiny --upload`` (an AKI/ARI kernel and ramdisk, a qcow2 root
disk naming them), then a server goes through its life as a user would drive it, and each step
is checked against what the guest itself prints on its serial console (``cumulo-tiny: up ...``)
and against libvirt (no domain, disk or overlay left after delete).

Needs root, QEMU, libvirt and the tiny guest's packages: without them the module skips with the
reason, and fails instead when ``CI`` is set (CI installs them: tools/system-packages.sh).
No network data plane yet (its own issue): servers boot with ``--nic none`` and configure
themselves from the config drive.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from cumulo.testing.cloud import CumuloCloud
from cumulo.testing.fixtures import unavailable

MARKER = "cumulo-tiny: up"


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
    from cumulo import registry

    if "libvirt" not in registry.names("hypervisor"):
        unavailable("the cumulo-hypervisor-libvirt plugin is not installed")


@pytest.fixture(scope="module")
def lv_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    _require()
    cloud = CumuloCloud(tmp_path_factory.mktemp("libvirt-cloud"), config={
        "compute": {"hypervisor_driver": "libvirt", "shutdown_timeout": 5},
        "libvirt": {"virt_type": "auto", "shutdown_timeout": 5},
    })
    cloud.start(timeout=180)
    try:
        out = tmp_path_factory.mktemp("tiny")
        proc = subprocess.run([sys.executable, "-m", "cumulo.cmd.main", "--config-file", cloud.config_path, "image",
                               "build-tiny", "--output", str(out), "--upload", "--clouds-yaml", cloud.clouds_yaml],
                              capture_output=True, text=True, timeout=900, env=cloud.env)
        if proc.returncode != 0 and "apt-get download" in proc.stderr:
            unavailable(f"the tiny guest's Debian packages cannot be fetched: {proc.stderr.strip()[-300:]}")
        assert proc.returncode == 0, proc.stderr[-2000:]
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
    ws = f"ws://{u.netloc}/{parse_qs(u.query)['path'][0]}"
    assert _ws_first_frame(ws).startswith(b"RFB 003.008")  # the guest's own VNC server, through the proxy
    serial = str(cloud.openstack("console", "url", "show", "--serial", "-f", "value", "-c", "url", "lv-con",
                                 json_out=False)).strip()
    assert serial.startswith("ws://") and "token=" in serial
    cloud.openstack("server", "delete", "--wait", "lv-con")
