"""The all-in-one supervises its storage node processes: a node that dies comes back, with back-off;
stopping the cloud stops the supervision first, so nothing is restarted while it stops."""

from __future__ import annotations

import logging
import os
import signal
import socket
import time

import pytest
from cumulo_object_ring import client, opts
from cumulo_object_ring.backend import RingBackend
from cumulo_object_ring.local import Backoff, LocalNode
from cumulo_object_ring.testing import make_conf

from cumulo.interfaces.base import PluginContext


def test_backoff_doubles_to_its_maximum_and_resets_after_a_stable_run():
    b = Backoff(initial=0.5, maximum=30.0, stable_after=30.0)
    assert [b.delay(0.1) for _ in range(9)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert b.delay(31) == 0.5  # it ran stably: start over
    assert b.delay(1) == 1


def _restart_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "cumulo_object_ring.local" and r.levelno == logging.WARNING]


def _health(node: LocalNode) -> dict | None:
    try:
        resp = client.request({"ip": node.ip, "port": node.port}, "GET", "/_admin/health", conn_timeout=0.2,
                              node_timeout=2, signer=node.signer)
    except client.NodeError:
        return None
    return resp.json() if resp.status == 200 else None


def _listening(ip: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((ip, port)) == 0


@pytest.fixture
def one_node(tmp_path):
    """The all-in-one start with one storage node (one replica), its secret generated."""
    conf = make_conf(tmp_path, secret=None,
                     object_ring={"local_nodes": 1, "local_zones": 1, "local_replicas": 1, "local_part_power": 4},
                     object_node={"daemons": False, "threads": 4})
    backend = RingBackend(PluginContext(conf))
    nodes = backend.start_local()
    yield backend, nodes[0]
    for n in nodes:
        n.stop()


def test_killed_node_is_restarted_and_serves_again(one_node, caplog):
    backend, node = one_node
    caplog.set_level(logging.WARNING, logger="cumulo_object_ring.local")
    backend.put_container("AUTH_s", "c", {})
    backend.put_object("AUTH_s", "c", "before", iter([b"written before the crash"]), "text/plain", {})
    pid = _health(node)["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    health = None
    while time.monotonic() < deadline:
        health = _health(node)
        if health and health["pid"] != pid:
            break
        time.sleep(0.1)
    assert health and health["pid"] != pid, "the node did not come back within 10 s"
    assert node.restarts == 1
    warnings = _restart_logs(caplog)
    assert any("exited with code -9 (SIGKILL)" in w and "restarting it in 0.5 s" in w for w in warnings), warnings
    assert b"".join(backend.get_object("AUTH_s", "c", "before").body) == b"written before the crash"
    backend.put_object("AUTH_s", "c", "after", iter([b"and after"]), "text/plain", {})
    assert b"".join(backend.get_object("AUTH_s", "c", "after").body) == b"and after"

    # Stopping ends the supervision: the process goes and does not come back.
    node.stop()
    assert not node.running
    time.sleep(1.5)  # longer than the next back-off
    assert not _listening(node.ip, node.port)
    assert node.restarts == 1


def test_stop_during_back_off_restarts_nothing(one_node, caplog):
    _, node = one_node
    caplog.set_level(logging.WARNING, logger="cumulo_object_ring.local")
    proc = node.proc
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(5)
    deadline = time.monotonic() + 5  # the supervisor notices and waits its back-off
    while time.monotonic() < deadline and not _restart_logs(caplog):
        time.sleep(0.02)
    assert _restart_logs(caplog), "the supervisor did not notice the exit"
    node.stop()
    time.sleep(1.0)
    assert node.restarts == 0 and node.proc is None
    assert not _listening(node.ip, node.port)


def test_a_node_that_keeps_failing_is_retried_with_growing_delays(tmp_path, caplog):
    """A node that cannot start (no secret) exits with 2 each time; the delays double."""
    caplog.set_level(logging.WARNING, logger="cumulo_object_ring.local")
    conf_path = tmp_path / "node.conf"
    conf_path.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\n[object_node]\nbind_port = 0\n")
    conf = make_conf(tmp_path)
    node = LocalNode(1, "127.0.0.1", 1, str(conf_path), str(tmp_path / "node.log"), signer=opts.signer(conf),
                     supervise=True, backoff=(0.1, 0.4, 30.0)).spawn()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(_restart_logs(caplog)) < 4:
            time.sleep(0.05)
    finally:
        node.stop()
    messages = _restart_logs(caplog)
    assert len(messages) >= 4, messages
    assert all("exited with code 2" in m for m in messages)
    assert [m.split("restarting it in ")[1].split(" ")[0] for m in messages[:4]] == ["0.1", "0.2", "0.4", "0.4"]
    time.sleep(0.6)
    assert len(_restart_logs(caplog)) == len(messages)  # stopped: no more attempts
    assert "cluster_secret" in (tmp_path / "node.log").read_text()


def test_a_node_asked_to_stop_stays_stopped(one_node):
    """SIGTERM (what a Ctrl-C or a stop of the cloud's process group sends) is a clean stop."""
    _, node = one_node
    proc = node.proc
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(15) == 0
    time.sleep(1.0)  # longer than the first back-off
    assert node.restarts == 0 and not node.running
    assert not _listening(node.ip, node.port)
