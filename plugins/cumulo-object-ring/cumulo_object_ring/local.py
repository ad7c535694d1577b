"""All-in-one: build rings for local storage nodes once, then start a process per node.

The topology (``[object_ring] local_nodes/local_zones/local_replicas/local_part_power``)
is decided on the first start and kept in the ring builders under
``ring_dir``: each device's ``meta`` holds ``node=<n>``, so a node keeps its
data directory (``<state_path>/object-nodes/node<n>``) and its port across
restarts. If that port is taken at the next start, the node gets a new one
and the rings are rewritten with the new address (no partition moves).

Without ``[object_ring] cluster_secret``, the first start generates a secret into
``<state_path>/object-ring.secret`` (mode 0600, kept across restarts); the node
processes read it from there (their ``node.conf`` names the state path), never
from their command line.

Each node process is supervised: one that dies (killed by a signal such as
SIGKILL, or exiting with an error code) is started again after a back-off
(0.5 s doubling to 30 s, back to 0.5 s once a run lasted 30 s), with a warning
giving its exit code. A node that was asked to stop (SIGTERM/SIGINT: exit code
0) stays stopped. ``stop()`` ends the supervision first, so a node is never
restarted while the cloud stops.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from oslo_config import cfg

from cumulo_object_ring import client, opts
from cumulo_object_ring.ring import RING_NAMES, RingBuilder, RingError, ring_paths
from cumulo_object_ring.signing import Signer

LOG = logging.getLogger(__name__)
# How a node ends when asked to (SIGTERM or SIGINT, handled or not, or its parent gone): not
# restarted, like systemd's Restart=on-failure. A Ctrl-C or a SIGTERM to the cloud's process
# group reaches the nodes too, and must not make the supervisor restart them.
CLEAN_EXITS = (0, -signal.SIGTERM, -signal.SIGINT)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def build_local_rings(ring_dir: str, nodes: int, zones: int, replicas: int, part_power: int,
                      min_part_hours: float, host: str = "127.0.0.1") -> None:
    """One device per node, nodes spread round-robin over zones; the same layout for all three rings."""
    ports = [free_port(host) for _ in range(nodes)]
    for name in RING_NAMES:
        builder_path, ring_path = ring_paths(ring_dir, name)
        b = RingBuilder(part_power, min(replicas, nodes), min_part_hours)
        for i in range(nodes):
            b.add_dev(region=1, zone=i % zones + 1, ip=host, port=ports[i], device="d1", weight=100,
                      meta=f"node={i + 1}")
        b.rebalance()
        b.save(builder_path)
        b.write_ring(ring_path)


def local_nodes(ring_dir: str) -> dict[int, tuple[str, int]]:
    """``{node number: (ip, port)}`` from the object builder's device meta."""
    b = RingBuilder.load(ring_paths(ring_dir, "object")[0])
    out: dict[int, tuple[str, int]] = {}
    for d in b.devs.values():
        meta = dict(kv.split("=", 1) for kv in (d.get("meta") or "").split(",") if "=" in kv)
        if "node" in meta:
            out[int(meta["node"])] = (d["ip"], d["port"])
    return out


def move_node(ring_dir: str, old: tuple[str, int], new_port: int) -> None:
    for name in RING_NAMES:
        builder_path, ring_path = ring_paths(ring_dir, name)
        b = RingBuilder.load(builder_path)
        for d in b.devs.values():
            if (d["ip"], d["port"]) == old:
                b.set_dev_address(d["id"], port=new_port)
        b.dirty = False
        b.save(builder_path)
        if b.replica2part2dev is not None:
            b.write_ring(ring_path)


class Backoff:
    """Delays between restarts: ``initial``, doubling up to ``maximum``; back to ``initial``
    once a run lasted ``stable_after`` seconds."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0, stable_after: float = 30.0) -> None:
        self.initial, self.maximum, self.stable_after = initial, maximum, stable_after
        self._next = initial

    def delay(self, ran_for: float) -> float:
        """The wait before the next start of a process that just ended after ``ran_for`` seconds."""
        if ran_for >= self.stable_after:
            self._next = self.initial
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        return delay


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "could not be started"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"exited with code {code} ({signal.Signals(-code).name})"
    return f"exited with code {code}"


class LocalNode:
    """A storage node subprocess; ``stop()`` terminates it, ``start()`` starts it again.

    ``supervise``: a thread restarts the process whenever it fails (a signal other than
    SIGTERM/SIGINT, or a non-zero exit code; see :data:`CLEAN_EXITS`), after a :class:`Backoff`
    delay (``backoff`` gives its ``initial``, ``maximum`` and ``stable_after``).
    """

    def __init__(self, number: int, ip: str, port: int, config_path: str, log_path: str,
                 signer: Signer | None = None, supervise: bool = False,
                 backoff: tuple[float, float, float] = (0.5, 30.0, 30.0)) -> None:
        self.number, self.ip, self.port = number, ip, port
        self.config_path, self.log_path = config_path, log_path
        self.signer = signer
        self.supervise, self.backoff = supervise, backoff
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._started_at = 0.0

    def _popen(self) -> subprocess.Popen[bytes]:
        # The secret is not on the command line (nor in the environment): the node reads it
        # from its 0600 config file or the 0600 secret file in the state path.
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "cumulo_object_ring.node", "--config-file", self.config_path,
                 "--parent-pid", str(os.getpid())],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def spawn(self) -> LocalNode:
        """Start the process (and its supervision) without waiting for it to answer."""
        with self._lock:
            self._stopping.clear()
            self._started_at = time.monotonic()
            self.proc = self._popen()
        if self.supervise and (self._supervisor is None or not self._supervisor.is_alive()):
            self._supervisor = threading.Thread(target=self._supervise, daemon=True,
                                                name=f"object-node-{self.number}-supervisor")
            self._supervisor.start()
        return self

    def _supervise(self) -> None:
        backoff = Backoff(*self.backoff)
        while True:
            with self._lock:
                proc = self.proc
            code = proc.wait() if proc is not None else None
            if self._stopping.is_set():
                return
            ran_for = time.monotonic() - self._started_at
            if code in CLEAN_EXITS:
                LOG.info("Storage node %s (%s:%s, pid %s) %s: stopped on request, not restarting it",
                         self.number, self.ip, self.port, proc.pid if proc is not None else "-", _describe_exit(code))
                return
            delay = backoff.delay(ran_for)
            LOG.warning("Storage node %s (%s:%s, pid %s) %s after %.1f s; restarting it in %.1f s (log: %s)",
                        self.number, self.ip, self.port, proc.pid if proc is not None else "-",
                        _describe_exit(code), ran_for, delay, self.log_path)
            if self._stopping.wait(delay):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self._started_at = time.monotonic()
                try:
                    self.proc = self._popen()
                except OSError as err:
                    self.proc = None
                    LOG.error("Cannot start storage node %s: %s", self.number, err)
                    continue
                self.restarts += 1

    def wait_ready(self, wait: float = 30.0) -> LocalNode:
        """Wait until the node answers its health check; raises RingError if it died or never answered."""
        assert self.proc is not None
        deadline = time.monotonic() + wait
        node = {"ip": self.ip, "port": self.port}
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RingError(f"Storage node {self.number} exited with {self.proc.returncode}; see {self.log_path}")
            with contextlib.suppress(*client.NodeError):
                status = client.request(node, "GET", "/_admin/health", conn_timeout=0.2, node_timeout=2,
                                        signer=self.signer).status
                if status == 200:
                    return self
                if status in (401, 403):
                    self.stop()
                    raise RingError(f"Storage node {self.number} on {self.ip}:{self.port} refuses our "
                                    f"signature ({status}): is [object_ring] cluster_secret the same everywhere?")
            time.sleep(0.05)
        self.stop()
        raise RingError(f"Storage node {self.number} did not answer on {self.ip}:{self.port}; see {self.log_path}")

    def start(self, wait: float = 30.0) -> LocalNode:
        return self.spawn().wait_ready(wait)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """End the supervision, then the process (SIGTERM, SIGKILL after 10 s)."""
        self._stopping.set()
        with self._lock:  # a restart under way finishes first, so its process is the one stopped
            proc = self.proc
        client.POOL.drop(self.ip, self.port)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        supervisor = self._supervisor
        if supervisor is not None and supervisor is not threading.current_thread():
            supervisor.join(15)
        self._supervisor = None
        self.proc = None

    def __repr__(self) -> str:
        return f"<LocalNode {self.number} {self.ip}:{self.port}>"


def write_node_config(conf: cfg.ConfigOpts, path: str, ip: str, port: int, devices: str, log_file: str) -> None:
    lines = ["[DEFAULT]", f"state_path = {conf.state_path}", f"log_file = {log_file}",
             f"debug = {conf.debug}", "", "[object_ring]", f"ring_dir = {opts.ring_dir(conf)}"]
    for opt in opts.ring_opts:
        if opt.dest == "ring_dir":
            continue
        value = conf.object_ring[opt.dest]
        if value is not None:  # "$" would start an oslo.config substitution
            lines.append(f"{opt.dest} = {str(value).replace('$', '$$')}")
    lines += ["", "[object_node]", f"bind_ip = {ip}", f"bind_port = {port}", f"devices = {devices}",
              f"threads = {conf.object_node.threads}", f"daemons = {conf.object_node.daemons}", ""]
    tmp = path + ".tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write("\n".join(lines))
    os.replace(tmp, path)


def start_local(conf: cfg.ConfigOpts) -> list[LocalNode]:
    """Build the rings on first use, then start every local node and wait until each answers."""
    opts.register(conf)
    rc = conf.object_ring
    signer = opts.signer(conf, create=True)
    ring_dir = opts.ring_dir(conf)
    os.makedirs(ring_dir, exist_ok=True)
    if not all(os.path.exists(p) for n in RING_NAMES for p in ring_paths(ring_dir, n)):
        build_local_rings(ring_dir, rc.local_nodes, rc.local_zones, rc.local_replicas, rc.local_part_power,
                          rc.min_part_hours)
    base = os.path.join(conf.state_path, "object-nodes")
    os.makedirs(base, exist_ok=True)
    started: list[LocalNode] = []
    try:
        for number, (ip, port) in sorted(local_nodes(ring_dir).items()):
            if not port_free(ip, port):
                new_port = free_port(ip)
                move_node(ring_dir, (ip, port), new_port)
                port = new_port
            ndir = os.path.join(base, f"node{number}")
            os.makedirs(os.path.join(ndir, "devices"), exist_ok=True)
            cpath = os.path.join(ndir, "node.conf")
            write_node_config(conf, cpath, ip, port, os.path.join(ndir, "devices"), os.path.join(ndir, "node.log"))
            started.append(LocalNode(number, ip, port, cpath, os.path.join(ndir, "node.log"), signer=signer,
                                     supervise=True).spawn())
        for n in started:
            n.wait_ready()
    except BaseException:
        for n in started:
            n.stop()
        raise
    return started
