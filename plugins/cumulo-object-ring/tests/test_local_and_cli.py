"""All-in-one start (rings built once, ports kept across restarts) and the operator commands."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys

from cumulo_object_ring.backend import RingBackend
from cumulo_object_ring.local import local_nodes
from cumulo_object_ring.ring import Ring, RingBuilder, ring_paths
from cumulo_object_ring.testing import make_conf

from cumulo.interfaces.base import PluginContext


def _secret_exposed(secret: str, pid: int) -> list[str]:
    """Where a node process carries the secret in the clear: its command line or its environment."""
    found = []
    for what in ("cmdline", "environ"):
        with open(f"/proc/{pid}/{what}", "rb") as f:
            if secret.encode() in f.read():
                found.append(what)
    return found


def test_start_local_builds_rings_once_and_keeps_ports(tmp_path):
    conf = make_conf(tmp_path, object_ring={"local_part_power": 6}, object_node={"daemons": False, "threads": 4},
                     secret=None)
    backend = RingBackend(PluginContext(conf))
    nodes = backend.start_local()
    secret_path = tmp_path / "object-ring.secret"
    try:
        assert len(nodes) == 4 and all(n.running for n in nodes)
        # No secret configured: one was generated, private to us, and not passed on any command line.
        secret = secret_path.read_text().strip()
        assert len(secret) >= 32 and secret_path.stat().st_mode & 0o777 == 0o600
        for n in nodes:
            assert _secret_exposed(secret, n.proc.pid) == []
            assert secret not in open(n.config_path).read()
        ring = Ring(ring_paths(str(tmp_path / "rings"), "object")[1])
        assert ring.replicas == 3 and len({d["zone"] for d in ring.devs.values()}) == 3
        backend.put_container("AUTH_x", "c", {})
        backend.put_object("AUTH_x", "c", "kept", iter([b"across restarts"]), "text/plain", {})
    finally:
        for n in nodes:
            n.stop()
    assert not any(n.running for n in nodes)
    ports = local_nodes(str(tmp_path / "rings"))
    # A port taken by someone else while we were down: that node moves, the ring follows.
    number, (ip, taken_port) = sorted(ports.items())[0]
    blocker = socket.socket()
    # As any server would (the nodes' pooled keep-alive connections, closed by the stopped
    # node, may leave its port in TIME_WAIT); a listening socket still takes the port.
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind((ip, taken_port))
    blocker.listen(1)
    try:
        nodes = RingBackend(PluginContext(conf)).start_local()
    finally:
        blocker.close()
    try:
        assert secret_path.read_text().strip() == secret  # kept across restarts
        again = local_nodes(str(tmp_path / "rings"))
        assert {k: v for k, v in again.items() if k != number} == {k: v for k, v in ports.items() if k != number}
        assert again[number][1] != taken_port
        backend = RingBackend(PluginContext(conf))
        assert b"".join(backend.get_object("AUTH_x", "c", "kept").body) == b"across restarts"
    finally:
        for n in nodes:
            n.stop()


def _cumulo(conf_path: str, *args: str) -> subprocess.CompletedProcess:
    """``cumulo --config-file conf_path *args`` in this process (the CLI app as the console script runs it)."""
    from cumulo.cmd.main import CumuloApp
    from cumulo.conf import CONF

    app = CumuloApp()
    app.stdout, app.stderr = io.StringIO(), io.StringIO()
    try:
        code = app.run(["--config-file", conf_path, *args])
    except SystemExit as err:  # argparse usage errors
        code = err.code or 2
    finally:
        CONF.clear()
    return subprocess.CompletedProcess(args, code, app.stdout.getvalue(), app.stderr.getvalue())


def _cumulo_process(conf_path: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cumulo.cmd.main", "--config-file", conf_path, *args],
                          capture_output=True, text=True, timeout=120)


def test_ring_commands(tmp_path):
    conf_path = str(tmp_path / "cumulo.conf")
    with open(conf_path, "w") as f:
        f.write(f"[DEFAULT]\nstate_path = {tmp_path}\n")
    r = _cumulo(conf_path, "ring", "create", "object", "--part-power", "6", "--replicas", "3",
                "--min-part-hours", "0")
    assert r.returncode == 0, r.stderr
    for i, zone in enumerate([1, 2, 3, 1]):
        r = _cumulo(conf_path, "ring", "add", "object", "--zone", str(zone), "--port", str(6300 + i),
                    "--device", "d1", "--weight", "100")
        assert r.returncode == 0, r.stderr
    r = _cumulo(conf_path, "ring", "rebalance", "object", "-f", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["parts moved"] == 192
    r = _cumulo(conf_path, "ring", "set-weight", "object", "127.0.0.1:6300", "50")
    assert r.returncode == 0, r.stderr
    r = _cumulo(conf_path, "ring", "remove", "object", "d3")
    assert r.returncode == 0, r.stderr
    r = _cumulo(conf_path, "ring", "rebalance", "object", "-f", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["removed"] == "3"
    r = _cumulo(conf_path, "ring", "show", "object", "-f", "json")
    assert r.returncode == 0, r.stderr
    devs = json.loads(r.stdout)
    assert sorted(d["id"] for d in devs) == [0, 1, 2]
    assert "balance" in r.stderr
    b = RingBuilder.load(ring_paths(os.path.join(str(tmp_path), "rings"), "object")[0])
    assert b.devs[0]["weight"] == 50 and 3 not in b.devs
    assert os.path.exists(ring_paths(os.path.join(str(tmp_path), "rings"), "object")[1])
    # Mistakes are one-line errors, not tracebacks.
    r = _cumulo(conf_path, "ring", "create", "object")
    assert r.returncode != 0 and "exists" in (r.stderr + r.stdout) and "Traceback" not in r.stderr
    r = _cumulo(conf_path, "ring", "remove", "object", "d42")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    r = _cumulo_process(conf_path, "ring", "show", "container")  # the console script finds the commands too
    assert r.returncode != 0 and "cumulo ring create" in (r.stderr + r.stdout)
