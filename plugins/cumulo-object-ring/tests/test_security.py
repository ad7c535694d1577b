"""Storage nodes serve signed cluster requests only, and send updates only to devices of the rings.

Requests are made by hand (http.client) against in-process nodes, as a local user who found a
node's port would: unsigned, forged, tampered with, expired, or signed but naming a server
outside the rings as the container or account to update.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time

import pytest
from cumulo_object_ring import client, opts
from cumulo_object_ring.node import Node
from cumulo_object_ring.ring import Ring, RingError, hash_path, ring_paths
from cumulo_object_ring.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, Signer
from cumulo_object_ring.testing import TEST_SECRET, InProcessCluster, make_conf

from cumulo.interfaces.object import ObjectNotFound

ACCOUNT, CONTAINER = "AUTH_sec", "c"


def _send(port: int, method: str, path: str, headers: dict[str, str] | None = None,
          body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def sec(cluster: InProcessCluster) -> InProcessCluster:
    """The module's cluster with a container and an object holding a secret."""
    cluster.backend.put_container(ACCOUNT, CONTAINER, {})
    cluster.backend.put_object(ACCOUNT, CONTAINER, "victim", iter([b"tenant secret"]), "text/plain", {})
    return cluster


def _victim(c: InProcessCluster) -> tuple[int, str, int]:
    """(port, path, partition) of a primary copy of the victim object."""
    ring = Ring(ring_paths(str(c.root / "rings"), "object")[1])
    part, nodes = ring.get_nodes(ACCOUNT, CONTAINER, "victim")
    return nodes[0]["port"], client.node_path(nodes[0]["device"], part, ACCOUNT, CONTAINER, "victim"), part


def _object_path(c: InProcessCluster, obj: str) -> tuple[int, str]:
    ring = Ring(ring_paths(str(c.root / "rings"), "object")[1])
    part, nodes = ring.get_nodes(ACCOUNT, CONTAINER, obj)
    return nodes[0]["port"], client.node_path(nodes[0]["device"], part, ACCOUNT, CONTAINER, obj)


def _container_target(c: InProcessCluster, account: str = ACCOUNT, container: str = CONTAINER) -> dict[str, str]:
    """The headers the proxy sends to update a real container replica."""
    ring = Ring(ring_paths(str(c.root / "rings"), "container")[1])
    part, nodes = ring.get_nodes(account, container)
    return {"X-Container-Host": f"{nodes[0]['ip']}:{nodes[0]['port']}", "X-Container-Device": nodes[0]["device"],
            "X-Container-Partition": str(part)}


def _ts() -> str:
    return f"{time.time():016.5f}"


def _signer() -> Signer:
    return Signer(TEST_SECRET)


# -- authentication ---------------------------------------------------------------------------

def test_unsigned_requests_are_refused_and_change_nothing(sec):
    port, path, part = _victim(sec)
    dev = path.split("/")[1]
    h = hash_path(ACCOUNT, CONTAINER, None)
    for method, target in [("GET", path), ("HEAD", path), ("DELETE", path), ("POST", path),
                           ("GET", f"/_repl/{dev}/{part}"), ("GET", f"/_repl_db/containers/{dev}/{part}/{h}"),
                           ("POST", "/_admin/replicate"), ("GET", "/_admin/health"),
                           ("GET", client.node_path(dev, part, ACCOUNT))]:
        status, headers, body = _send(port, method, target, {"X-Timestamp": _ts()})
        assert status == 401, (method, target, status)
        assert headers.get("www-authenticate") == "CUMULO-RING-HMAC-SHA256"
        assert b"tenant secret" not in body
    # A planted object: refused before its body is read, nothing on disk.
    pport, ppath = _object_path(sec, "planted")
    status, _, _ = _send(pport, "PUT", ppath, {"X-Timestamp": _ts(), "Content-Type": "text/plain"}, b"evil")
    assert status == 401
    assert sec.data_files(ACCOUNT, CONTAINER, "planted") == []
    assert b"".join(sec.backend.get_object(ACCOUNT, CONTAINER, "victim").body) == b"tenant secret"


def test_signed_request_is_served(sec):
    port, path, _ = _victim(sec)
    status, _, body = _send(port, "GET", path, _signer().sign("GET", path))
    assert status == 200 and body == b"tenant secret"
    status, _, body = _send(port, "GET", "/_admin/health", _signer().sign("GET", "/_admin/health"))
    assert status == 200 and b"pid" in body


def test_forged_and_tampered_signatures_are_refused(sec):
    port, path, _ = _victim(sec)
    good = _signer().sign("GET", path)
    cases = {
        "made up": {**good, SIGNATURE_HEADER: "0" * 64},
        "not hex": {**good, SIGNATURE_HEADER: "é" * 10},
        "another secret": Signer("guessed-secret").sign("GET", path),
        "no timestamp": {k: v for k, v in good.items() if k != TIMESTAMP_HEADER},
        "timestamp changed": {**good, TIMESTAMP_HEADER: f"{time.time() + 1:.6f}"},
        "header added": {**good, "X-Backend-Range": "0-6"},
    }
    for what, headers in cases.items():
        status, _, body = _send(port, "GET", path, headers)
        assert status in (401, 403), what
        assert b"tenant secret" not in body, what
    # Signed for one request, sent as another: method, path, query.
    status, _, _ = _send(port, "DELETE", path, {**_signer().sign("GET", path), "X-Timestamp": _ts()})
    assert status in (401, 403)
    other = path.replace("victim", "other")
    assert _send(port, "GET", other, _signer().sign("GET", path))[0] == 403
    listing = client.node_path(path.split("/")[1], path.split("/")[2], ACCOUNT, CONTAINER)
    assert _send(port, "GET", listing + "?limit=1", _signer().sign("GET", listing, "limit=1000"))[0] == 403
    # A signed DELETE whose X-Timestamp was rewritten (to win over newer writes) is refused.
    ts_headers = _signer().sign("DELETE", path, "", {"X-Timestamp": _ts()})
    status, _, _ = _send(port, "DELETE", path, {**ts_headers, "X-Timestamp": "9999999999.99999"})
    assert status == 403
    assert b"".join(sec.backend.get_object(ACCOUNT, CONTAINER, "victim").body) == b"tenant secret"


def test_expired_and_future_signatures_are_refused(sec):
    port, path, _ = _victim(sec)
    for skew in (-61, 61, -3600):
        old = Signer(TEST_SECRET, clock=lambda s=skew: time.time() + s)
        status, _, body = _send(port, "GET", path, old.sign("GET", path))
        assert status == 403 and b"tenant secret" not in body, skew
    # Inside the window (clocks a little apart) it is served.
    near = Signer(TEST_SECRET, clock=lambda: time.time() - 30)
    assert _send(port, "GET", path, near.sign("GET", path))[0] == 200


def test_node_refuses_to_start_without_a_secret(tmp_path):
    conf = make_conf(tmp_path, secret=None)
    with pytest.raises(RingError, match="cluster_secret"):
        Node(conf)
    conf_path = tmp_path / "node.conf"
    conf_path.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\n[object_node]\nbind_port = 0\n")
    proc = subprocess.run([sys.executable, "-m", "cumulo_object_ring.node", "--config-file", str(conf_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cluster_secret" in lines[0] and "Traceback" not in proc.stderr


def test_generated_secret_is_private_and_kept(tmp_path):
    conf = make_conf(tmp_path, secret=None)
    assert opts.cluster_secret(conf) is None
    first = opts.cluster_secret(conf, create=True)
    assert first and len(first) >= 64
    path = tmp_path / "object-ring.secret"
    assert path.stat().st_mode & 0o777 == 0o600
    assert opts.cluster_secret(conf, create=True) == first  # kept, not regenerated
    assert opts.cluster_secret(make_conf(tmp_path, secret=None)) == first
    # A configured secret wins over the file.
    assert opts.cluster_secret(make_conf(tmp_path, secret="configured")) == "configured"


def test_replication_traffic_is_signed(tmp_path):
    """A node with another secret can neither push to its peers nor be pushed to."""
    c = InProcessCluster(tmp_path, nodes=3, zones=3)
    try:
        b = c.backend
        b.put_container(ACCOUNT, CONTAINER, {})
        b.put_object(ACCOUNT, CONTAINER, "o", iter([b"replicate me"]), "text/plain", {})
        files = c.data_files(ACCOUNT, CONTAINER, "o")
        assert len(files) == 3
        os.unlink(files[0])
        lost_on = next(i for i in range(3) if f"{os.sep}node{i}{os.sep}" in files[0])
        pusher = c.nodes[(lost_on + 1) % 3]
        pusher.signer = Signer("not-the-cluster-secret")
        stats = pusher.run_once("replicate")
        assert stats["errors"] > 0 and stats["files_pushed"] == 0
        assert len(c.data_files(ACCOUNT, CONTAINER, "o")) == 2
        pusher.signer = Signer(TEST_SECRET)
        assert pusher.run_once("replicate")["files_pushed"] >= 1
        assert len(c.data_files(ACCOUNT, CONTAINER, "o")) == 3
    finally:
        c.stop()


# -- updates only to devices of the rings (no SSRF) -------------------------------------------

@pytest.fixture
def listener():
    """A local port that is not a storage node: it must never see a connection."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    s.settimeout(0.5)
    yield s
    s.close()


def _connected(listener: socket.socket) -> bool:
    try:
        conn, _ = listener.accept()
    except TimeoutError:
        return False
    conn.close()
    return True


def test_container_host_outside_the_ring_is_refused_and_never_contacted(sec, listener):
    port, path = _object_path(sec, "ssrf")
    evil = {**_container_target(sec), "X-Container-Host": f"127.0.0.1:{listener.getsockname()[1]}"}
    base = {"X-Timestamp": _ts(), "Content-Type": "text/plain"}
    # Unsigned: refused before anything is looked at.
    assert _send(port, "PUT", path, {**base, **evil}, b"x")[0] == 401
    # Signed (the proxy's secret leaked into a request or a proxy bug): still refused.
    for method in ("PUT", "DELETE"):
        headers = _signer().sign(method, path, "", {**base, **evil, "X-Timestamp": _ts()})
        status, _, _ = _send(port, method, path, headers, b"x" if method == "PUT" else None)
        assert status == 403, method
    assert sec.data_files(ACCOUNT, CONTAINER, "ssrf") == []
    assert not list(sec.root.glob("node*/*/async_pending/*"))
    sec.run("update")  # no async pending names it either
    assert not _connected(listener)


def test_update_targets_must_be_ring_devices_of_this_container(sec, listener):
    port, path = _object_path(sec, "ssrf2")
    real = _container_target(sec)
    lport = listener.getsockname()[1]
    refused = {
        "port not in ring": ({**real, "X-Container-Host": f"127.0.0.1:{lport}"}, 403),
        "host not in ring": ({**real, "X-Container-Host": f"10.255.0.1:{real['X-Container-Host'].split(':')[1]}"},
                             403),
        "device not in ring": ({**real, "X-Container-Device": "d9"}, 403),
        "another partition": ({**real, "X-Container-Partition": str((int(real["X-Container-Partition"]) + 1) % 64)},
                              403),
        "a second host outside": ({**real, "X-Container-Host": f"{real['X-Container-Host']},127.0.0.1:{lport}",
                                   "X-Container-Device": "d1,d1"}, 403),
        "no device": ({k: v for k, v in real.items() if k != "X-Container-Device"}, 400),
        "no partition": ({k: v for k, v in real.items() if k != "X-Container-Partition"}, 400),
        "bad port": ({**real, "X-Container-Host": "127.0.0.1:http"}, 400),
        "expirer queue": ({"X-Delete-At-Host": f"127.0.0.1:{lport}", "X-Delete-At-Device": "d1",
                           "X-Delete-At-Partition": "0", "X-Delete-At-Container": "0"}, 400),
    }
    for what, (target, expected) in refused.items():
        headers = _signer().sign("PUT", path, "", {"X-Timestamp": _ts(), "Content-Type": "text/plain", **target})
        assert _send(port, "PUT", path, headers, b"x")[0] == expected, what
    assert sec.data_files(ACCOUNT, CONTAINER, "ssrf2") == []
    assert not _connected(listener)
    # The real container replica is accepted, and its listing follows.
    headers = _signer().sign("PUT", path, "", {"X-Timestamp": _ts(), "Content-Type": "text/plain", **real})
    assert _send(port, "PUT", path, headers, b"x")[0] == 201
    cport = int(real["X-Container-Host"].rsplit(":", 1)[1])
    listing = client.node_path(real["X-Container-Device"], real["X-Container-Partition"], ACCOUNT, CONTAINER)
    status, _, body = _send(cport, "GET", listing, _signer().sign("GET", listing))
    assert status == 200 and b'"ssrf2"' in body


def test_account_host_outside_the_ring_is_refused_and_never_contacted(sec, listener):
    ring = Ring(ring_paths(str(sec.root / "rings"), "container")[1])
    part, nodes = ring.get_nodes(ACCOUNT, "evil-container")
    path = client.node_path(nodes[0]["device"], part, ACCOUNT, "evil-container")
    apart = Ring(ring_paths(str(sec.root / "rings"), "account")[1]).get_part(ACCOUNT)
    evil = {"X-Account-Host": f"127.0.0.1:{listener.getsockname()[1]}", "X-Account-Device": "d1",
            "X-Account-Partition": str(apart), "X-Timestamp": _ts()}
    assert _send(nodes[0]["port"], "PUT", path, evil)[0] == 401
    assert _send(nodes[0]["port"], "PUT", path, _signer().sign("PUT", path, "", evil))[0] == 403
    assert not _connected(listener)
    with pytest.raises(ObjectNotFound):
        sec.backend.head_container(ACCOUNT, "evil-container")
