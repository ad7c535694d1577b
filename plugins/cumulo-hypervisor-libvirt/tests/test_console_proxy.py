"""Tests of :mod:`cumulo_hypervisor_libvirt.console_proxy`: websocket clients through tokens to VNC-like servers.

A local TCP server speaking like VNC (it sends ``RFB 003.008\\n``) stands for a
guest; the client is a minimal standard-library websocket client (websockify's
own drops the query string, where noVNC puts the token). The last test reaches
a real QEMU domain's VNC server when libvirtd answers here (skipped otherwise;
failed when ``CI`` is set).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import os
import queue
import socket
import struct
import threading
import time
import uuid as uuidlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from cumulo_hypervisor_libvirt import console_proxy, daemons, opts
from cumulo_hypervisor_libvirt.console_proxy import ConsoleProxy, Target, TokenStore
from cumulo_hypervisor_libvirt.driver import LibvirtDriver
from oslo_config import cfg

from cumulo import conf as cumulo_conf
from cumulo import exception
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.hypervisor import Flavor, HypervisorError, Instance
from cumulo.interfaces.service import Stoppable
from cumulo.testing.fixtures import libvirtd_session, unavailable

BANNER = b"RFB 003.008\n"


class FakeVNC:
    """A TCP server on 127.0.0.1 that greets every connection with ``banner``, then echoes."""

    def __init__(self, banner: bytes = BANNER) -> None:
        self.banner = banner
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.sendall(self.banner)
            while data := conn.recv(4096):
                conn.sendall(data)

    def close(self) -> None:
        self.sock.close()


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def vnc() -> Iterator[FakeVNC]:
    server = FakeVNC()
    yield server
    server.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def proxy(clock: Clock) -> Iterator[ConsoleProxy]:
    p = ConsoleProxy(TokenStore(ttl=600, clock=clock), "127.0.0.1", 0).start()
    yield p
    p.stop()


def ws_url(url: str) -> str:
    """The websocket noVNC opens for a console URL: ``ws://host:port/<path parameter>``."""
    parts = urlparse(url)
    return f"ws://{parts.netloc}/{parse_qs(parts.query)['path'][0]}"


class WSClient:
    """A minimal websocket client (RFC 6455) over the standard library: what noVNC does, query string included."""

    def __init__(self, url: str, origin: str | None = None, timeout: float = 10) -> None:
        parts = urlparse(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        headers = [f"GET {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1",
                   f"Host: {parts.netloc}", "Upgrade: websocket", "Connection: Upgrade",
                   f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: binary"]
        if origin:
            headers.append(f"Origin: {origin}")
        self.sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status = head.split(b"\r\n")[0].decode()
        if " 101 " not in status + " ":
            self.sock.close()
            raise ConnectionRefusedError(f"websocket refused: {status}")
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        assert b"Sec-WebSocket-Accept: " + accept in head
        self.close_code: int | None = None

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def recv(self) -> bytes | None:
        """The next data frame's payload; None once the server closed (``close_code`` then says why)."""
        try:
            while True:
                b0, b1 = self._read(2)
                size = b1 & 0x7F
                if size == 126:
                    size = struct.unpack("!H", self._read(2))[0]
                elif size == 127:
                    size = struct.unpack("!Q", self._read(8))[0]
                payload = self._read(size)
                opcode = b0 & 0x0F
                if opcode == 0x8:
                    self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    return None
                if opcode in (0x0, 0x1, 0x2):
                    return payload
        except (EOFError, OSError):
            return None

    def send(self, data: bytes) -> None:
        mask = os.urandom(4)
        header = bytes([0x82, 0x80 | len(data)]) if len(data) < 126 else bytes([0x82, 0xFE]) + struct.pack(
            "!H", len(data))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def receive(ws: WSClient, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = ws.recv()
        if chunk is None:
            break
        data += chunk
    return data


def open_ws(url: str, origin: str | None = None) -> WSClient:
    return WSClient(url, origin)


def test_a_token_reaches_its_console_through_the_novnc_url(proxy: ConsoleProxy, vnc: FakeVNC) -> None:
    token = proxy.tokens.issue(Target("127.0.0.1", vnc.port))
    url = proxy.url(token)
    host, port = proxy.address
    assert url == f"http://{host}:{port}/vnc_auto.html?path=%3Ftoken%3D{token}"  # as Nova's
    ws = open_ws(ws_url(url), origin=f"http://{host}:{port}")
    try:
        assert receive(ws, len(BANNER)) == BANNER
        ws.send(b"RFB 003.008\n")  # the client's half of the handshake goes through too
        assert receive(ws, len(BANNER)) == BANNER
    finally:
        ws.close()


def test_concurrent_clients_each_reach_their_own_target(proxy: ConsoleProxy) -> None:
    servers = [FakeVNC(f"RFB 003.00{i}\n".encode()) for i in range(3, 9)]
    results: dict[int, bytes] = {}

    def client(i: int, srv: FakeVNC) -> None:
        ws = open_ws(ws_url(proxy.url(proxy.tokens.issue(Target("127.0.0.1", srv.port)))))
        results[i] = receive(ws, len(srv.banner))
        ws.close()

    threads = [threading.Thread(target=client, args=(i, s)) for i, s in enumerate(servers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == {i: s.banner for i, s in enumerate(servers)}
    for s in servers:
        s.close()


@pytest.mark.parametrize("query", ["?token=not-a-token", "?token=", ""])
def test_an_unknown_or_missing_token_is_refused(proxy: ConsoleProxy, vnc: FakeVNC, query: str) -> None:
    proxy.tokens.issue(Target("127.0.0.1", vnc.port))
    host, port = proxy.address
    with pytest.raises(ConnectionRefusedError, match="403"):
        open_ws(f"ws://{host}:{port}/{query}")


def test_an_expired_token_is_refused(proxy: ConsoleProxy, vnc: FakeVNC, clock: Clock) -> None:
    token = proxy.tokens.issue(Target("127.0.0.1", vnc.port), ttl=600)
    clock.now += 599
    ws = open_ws(ws_url(proxy.url(token)))  # still valid, and again: tokens are not single-use
    assert receive(ws, len(BANNER)) == BANNER
    ws.close()
    clock.now += 2
    with pytest.raises(ConnectionRefusedError, match="403"):
        open_ws(ws_url(proxy.url(token)))
    assert proxy.tokens.lookup(token) is None


def test_a_foreign_origin_is_refused(proxy: ConsoleProxy, vnc: FakeVNC) -> None:
    token = proxy.tokens.issue(Target("127.0.0.1", vnc.port))
    with pytest.raises(ConnectionRefusedError, match="403"):
        open_ws(ws_url(proxy.url(token)), origin="http://evil.example.org")


def test_a_target_that_does_not_answer_closes_the_websocket(proxy: ConsoleProxy) -> None:
    dead = socket.create_server(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()
    ws = open_ws(ws_url(proxy.url(proxy.tokens.issue(Target("127.0.0.1", port)))))
    assert ws.recv() is None
    assert ws.close_code == 1011


def test_plain_gets_without_novnc_pages_are_refused(proxy: ConsoleProxy) -> None:
    host, port = proxy.address
    with socket.create_connection((host, port)) as s:
        s.sendall(b"GET /vnc_auto.html HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 405")


def test_novnc_pages_are_served_from_the_web_directory(tmp_path: Any) -> None:
    (tmp_path / "vnc_auto.html").write_text("<html>noVNC</html>")
    p = ConsoleProxy(TokenStore(), "127.0.0.1", 0, web=str(tmp_path)).start()
    try:
        with socket.create_connection(p.address) as s:
            s.sendall(b"GET /vnc_auto.html?path=%3Ftoken%3Dx HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := s.recv(4096):
                reply += chunk
        assert reply.startswith(b"HTTP/1.0 200") or reply.startswith(b"HTTP/1.1 200")
        assert reply.endswith(b"<html>noVNC</html>")
    finally:
        p.stop()


def test_a_busy_port_falls_back_to_a_free_one_unless_a_base_url_fixes_it() -> None:
    busy = socket.create_server(("127.0.0.1", 0))
    port = busy.getsockname()[1]
    try:
        p = ConsoleProxy(TokenStore(), "127.0.0.1", port)
        assert p.address[1] not in (port, 0)
        p.stop()
        with pytest.raises(HypervisorError, match="cannot listen"):
            ConsoleProxy(TokenStore(), "127.0.0.1", port, base_url="http://cloud:6080/vnc_auto.html",
                         fixed_port=True)
    finally:
        busy.close()


def test_a_configured_base_url_is_what_clients_get() -> None:
    p = ConsoleProxy(TokenStore(), "127.0.0.1", 0, base_url="https://cloud.example.org/vnc_auto.html")
    try:
        assert p.url("t0k") == "https://cloud.example.org/vnc_auto.html?path=%3Ftoken%3Dt0k"
    finally:
        p.stop()


def test_stop_ends_live_relays(clock: Clock, vnc: FakeVNC) -> None:
    p = ConsoleProxy(TokenStore(clock=clock), "127.0.0.1", 0).start()
    ws = open_ws(ws_url(p.url(p.tokens.issue(Target("127.0.0.1", vnc.port)))))
    assert receive(ws, len(BANNER)) == BANNER
    p.stop()
    assert ws.recv() is None  # closed, not left hanging


# -- through the driver ----------------------------------------------------------------------------
def make_conf(tmp: str, **overrides: Any) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    cumulo_conf.register(conf)
    conf.set_override("state_path", tmp)
    opts.register_opts(conf)
    for name, value in ({"connection_uri": "test:///default", "virt_type": "qemu"} | overrides).items():
        conf.set_override(name, value, group="libvirt")
    return conf


class VNCDomain:
    """Stands for a running libvirt domain whose VNC server is on ``port``."""

    def __init__(self, port: int) -> None:
        self.port = port

    def XMLDesc(self, flags: int) -> str:
        return f"<domain><devices><graphics type='vnc' port='{self.port}'/></devices></domain>"


def vnc_driver(tmp: str, port: int, monkeypatch: pytest.MonkeyPatch) -> LibvirtDriver:
    drv = LibvirtDriver(PluginContext(make_conf(tmp), kind="hypervisor", name="libvirt", host="node-1"))
    monkeypatch.setattr(drv, "_lookup", lambda inst: VNCDomain(port))
    return drv


INSTANCE = Instance(uuid=str(uuidlib.uuid4()), name="vm", image_ref="img",
                    flavor=Flavor(id="1", name="m1.tiny", vcpus=1, memory_mb=64, root_gb=1))


@pytest.fixture
def local_proxy(tmp_path: Any) -> Iterator[Stoppable]:
    """The process's proxy as ``start_local`` starts it (on a free port)."""
    assert console_proxy.active() is None
    started = LibvirtDriver.start_local(make_conf(str(tmp_path), console_proxy_port=0))
    assert len(started) == 1 and started[0] is console_proxy.active()  # test:///default: no daemons
    yield started[0]
    for s in reversed(started):
        s.stop()
    assert console_proxy.active() is None


def test_get_remote_console_gives_a_url_that_answers(tmp_path: Any, local_proxy: Stoppable, vnc: FakeVNC,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    drv = vnc_driver(str(tmp_path), vnc.port, monkeypatch)
    console = drv.get_remote_console(INSTANCE, "novnc")
    proxy = console_proxy.active()
    assert proxy is not None and console.url == proxy.url(console.token)
    assert (console.console_type, console.host, console.port) == ("novnc", "127.0.0.1", vnc.port)
    ws = open_ws(ws_url(console.url))
    assert receive(ws, len(BANNER)) == BANNER
    ws.close()
    for refused in ("xvpvnc", "spice-html5", "rdp-html5"):
        with pytest.raises(exception.Invalid, match="Unsupported console type"):
            drv.get_remote_console(INSTANCE, refused)


def test_a_serial_console_needs_the_proxy(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    drv = vnc_driver(str(tmp_path), 5900, monkeypatch)
    monkeypatch.setattr(VNCDomain, "isActive", lambda self: True, raising=False)
    with pytest.raises(HypervisorError, match="no console proxy"):
        drv.get_remote_console(INSTANCE, "serial")
    monkeypatch.setattr(VNCDomain, "isActive", lambda self: False, raising=False)
    with pytest.raises(HypervisorError, match="not running"):
        drv.get_remote_console(INSTANCE, "serial")


class FakeStream:
    """A blocking libvirt stream: ``recv`` returns what :meth:`feed` queued; ``b""`` once aborted."""

    def __init__(self) -> None:
        self.incoming: queue.Queue[bytes] = queue.Queue()
        self.sent = b""
        self.aborted = threading.Event()

    def feed(self, data: bytes) -> None:
        self.incoming.put(data)

    def recv(self, nbytes: int) -> bytes:
        return self.incoming.get()

    def send(self, data: bytes) -> int:
        self.sent += data
        return len(data)

    def abort(self) -> None:
        self.aborted.set()
        self.incoming.put(b"")


def test_a_stream_console_is_relayed_both_ways(proxy: ConsoleProxy) -> None:
    stream = FakeStream()
    token = proxy.tokens.issue(Target("serial", 0, opener=lambda: console_proxy.stream_socket(stream)))
    ws = open_ws(proxy.websocket_url(token))
    stream.feed(b"login: ")
    assert receive(ws, 7) == b"login: "
    ws.send(b"root\n")
    deadline = time.monotonic() + 5
    while stream.sent != b"root\n" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.sent == b"root\n"
    ws.close()
    assert stream.aborted.wait(5)  # the client left: the libvirt stream is closed too


def test_the_end_of_a_stream_closes_the_websocket(proxy: ConsoleProxy) -> None:
    stream = FakeStream()
    token = proxy.tokens.issue(Target("serial", 0, opener=lambda: console_proxy.stream_socket(stream)))
    ws = open_ws(proxy.websocket_url(token))
    stream.feed(b"bye")
    stream.feed(b"")  # the domain stopped
    assert receive(ws, 3) == b"bye"
    assert ws.recv() is None and ws.close_code == 1000


def test_without_a_proxy_the_console_has_no_url(tmp_path: Any, vnc: FakeVNC,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    console = vnc_driver(str(tmp_path), vnc.port, monkeypatch).get_remote_console(INSTANCE, "vnc")
    assert console.url is None and console_proxy.TOKENS.lookup(console.token) == Target("127.0.0.1", vnc.port)


# -- a real QEMU domain ----------------------------------------------------------------------------
TINY_DOMAIN = """<domain type='qemu'>
  <name>{name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><bios useserial='yes' rebootTimeout='1000'/></os>
  <devices>
    <serial type='pty'><log file='{log}' append='on'/><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <graphics type='vnc' autoport='yes' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>
  </devices>
</domain>"""


def _libvirt_or_skip() -> tuple[Any, list[Stoppable]]:
    """A connection to qemu:///system and the daemons started for it (a running libvirtd is reused)."""
    import libvirt

    if not daemons.can_start() and daemons._default_probe("qemu:///system") is not None:
        unavailable("qemu:///system does not answer and libvirtd cannot be started here")
    try:
        started: list[Stoppable] = list(daemons.start_local("qemu:///system"))
    except HypervisorError as err:
        unavailable(str(err))
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    return libvirt.open("qemu:///system"), started


@pytest.fixture
def tiny_domain(tmp_path: Any) -> Iterator[tuple[Any, str]]:
    """A transient QEMU domain without disks: SeaBIOS on VNC and on the serial console (logged), retrying."""
    with libvirtd_session():  # no other test's libvirtd comes or goes meanwhile; ours goes with the test
        conn, started = _libvirt_or_skip()
        try:
            os.chmod(tmp_path, 0o755)  # QEMU (libvirt's qemu user, or root) writes the log through virtlogd
            log = str(tmp_path / "console.log")
            dom = conn.createXML(TINY_DOMAIN.format(name=f"console-proxy-test-{uuidlib.uuid4().hex[:8]}", log=log),
                                 0)
            yield dom, log
            with contextlib.suppress(Exception):
                dom.destroy()
            conn.close()
        finally:
            for daemon in reversed(started):
                daemon.stop()


def test_a_real_domains_vnc_and_serial_console_answer_through_the_proxy(
        tmp_path: Any, local_proxy: Stoppable, tiny_domain: tuple[Any, str], monkeypatch: pytest.MonkeyPatch) -> None:
    dom, log = tiny_domain
    drv = LibvirtDriver(PluginContext(make_conf(str(tmp_path), connection_uri="qemu:///system"),
                                      kind="hypervisor", name="libvirt", host="node-1"))
    monkeypatch.setattr(drv, "_lookup", lambda inst: dom)  # not a cumulo instance: no ownership metadata
    try:
        _vnc_and_serial(drv, dataclasses.replace(INSTANCE, uuid=dom.UUIDString()), log)
    finally:
        if drv._conn is not None:
            drv._conn.close()


def _vnc_and_serial(drv: LibvirtDriver, inst: Instance, log: str) -> None:
    console = drv.get_remote_console(inst, "novnc")
    assert console.url
    ws = open_ws(ws_url(console.url))
    assert receive(ws, len(BANNER)) == BANNER
    ws.close()

    serial = drv.get_remote_console(inst, "serial")
    assert serial.url and serial.url.startswith("ws://")
    ws = open_ws(serial.url)
    seen = b""
    deadline = time.monotonic() + 30
    while b"No bootable device" not in seen and time.monotonic() < deadline:  # SeaBIOS retries every second
        chunk = ws.recv()
        if chunk is None:
            break
        seen += chunk
    ws.close()
    assert b"No bootable device" in seen, ws.close_code
    with open(log, "rb") as f:
        assert b"SeaBIOS" in f.read()  # the console log is still written
