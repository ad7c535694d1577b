"""All-in-one: build rings for local storage nodes once, then start a process per node.

The topology (``[object_ring] local_nodes/local_zones/local_replicas/local_part_power``)
is decided on the first start and kept in the ring builders under
``ring_dir``: each device's ``meta`` holds ``node=<n>``, so a node keeps its
data directory (``<state_path>/object-nodes/node<n>``) and its port across
restarts. If that port is taken at the next start, the node gets a new one
and the rings are rewritten with the new address (no partition moves).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time

from oslo_config import cfg

from cumulo_object_ring import client, opts
from cumulo_object_ring.ring import RING_NAMES, RingBuilder, RingError, ring_paths


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


class LocalNode:
    """A storage node subprocess; ``stop()`` terminates it, ``start()`` starts it again."""

    def __init__(self, number: int, ip: str, port: int, config_path: str, log_path: str) -> None:
        self.number, self.ip, self.port = number, ip, port
        self.config_path, self.log_path = config_path, log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> LocalNode:
        """Start the process without waiting for it to answer."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cumulo_object_ring.node", "--config-file", self.config_path,
                 "--parent-pid", str(os.getpid())],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def wait_ready(self, wait: float = 30.0) -> LocalNode:
        """Wait until the node answers its health check; raises RingError if it died or never answered."""
        assert self.proc is not None
        deadline = time.monotonic() + wait
        node = {"ip": self.ip, "port": self.port}
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RingError(f"Storage node {self.number} exited with {self.proc.returncode}; see {self.log_path}")
            with contextlib.suppress(*client.NodeError):
                if client.request(node, "GET", "/_admin/health", conn_timeout=0.2, node_timeout=2).status == 200:
                    return self
            time.sleep(0.05)
        self.stop()
        raise RingError(f"Storage node {self.number} did not answer on {self.ip}:{self.port}; see {self.log_path}")

    def start(self, wait: float = 30.0) -> LocalNode:
        return self.spawn().wait_ready(wait)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
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
        if value is not None:
            lines.append(f"{opt.dest} = {value}")
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
            started.append(LocalNode(number, ip, port, cpath, os.path.join(ndir, "node.log")).spawn())
        for n in started:
            n.wait_ready()
    except BaseException:
        for n in started:
            n.stop()
        raise
    return started
