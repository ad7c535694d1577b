"""Test helpers: clusters of storage nodes, in this process (fast) or as real processes.

Used by this plugin's tests; importable by other test suites that need a ring cluster.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

from oslo_config import cfg

from cumulo import conf as cumulo_conf
from cumulo.interfaces.base import PluginContext
from cumulo_object_ring import opts
from cumulo_object_ring.backend import RingBackend
from cumulo_object_ring.local import LocalNode, free_port, write_node_config
from cumulo_object_ring.node import Node
from cumulo_object_ring.ring import RING_NAMES, Ring, RingBuilder, hash_path, ring_paths

TEST_SECRET = "test-cluster-secret-not-for-production"


def make_conf(state: Path, object_ring: dict[str, Any] | None = None,
              object_node: dict[str, Any] | None = None, secret: str | None = TEST_SECRET) -> cfg.ConfigOpts:
    """A configuration for nodes and proxies under ``state``; ``secret=None`` leaves
    ``cluster_secret`` unset (the all-in-one then generates one)."""
    conf = cfg.ConfigOpts()
    cumulo_conf.register(conf)
    opts.register(conf)
    conf(args=[], default_config_files=[])
    conf.set_override("state_path", str(state))
    conf.set_override("ring_dir", str(state / "rings"), group="object_ring")
    conf.set_override("error_suppression_interval", 0, group="object_ring")
    if secret is not None:
        conf.set_override("cluster_secret", secret, group="object_ring")
    for k, v in (object_ring or {}).items():
        conf.set_override(k, v, group="object_ring")
    for k, v in (object_node or {}).items():
        conf.set_override(k, v, group="object_node")
    return conf


def build_rings(ring_dir: Path, layout: list[tuple[int, int, str]], replicas: int = 3,
                part_power: int = 6) -> None:
    """``layout``: (zone, port, device) per device."""
    os.makedirs(ring_dir, exist_ok=True)
    for name in RING_NAMES:
        b = RingBuilder(part_power, replicas, 0)
        for zone, port, dev in layout:
            b.add_dev(zone=zone, ip="127.0.0.1", port=port, device=dev, weight=100)
        b.rebalance(seed=7)
        bp, rp = ring_paths(str(ring_dir), name)
        b.save(bp)
        b.write_ring(rp)


class InProcessCluster:
    """Storage nodes served by threads of this process (daemons run only when asked)."""

    def __init__(self, root: Path, nodes: int = 4, zones: int = 3, devices_per_node: int = 1,
                 spare_nodes: int = 0, daemon_interval: float | None = None) -> None:
        """``spare_nodes`` more nodes run but are not in the rings (yet): tests add them.

        ``daemon_interval``: run every daemon on this interval (default: only when asked).
        """
        self.root = root
        self.ports = [free_port() for _ in range(nodes + spare_nodes)]
        layout = [(i % zones + 1, port, f"d{j + 1}") for i, port in enumerate(self.ports[:nodes])
                  for j in range(devices_per_node)]
        build_rings(root / "rings", layout)
        self.nodes: list[Node] = []
        for i, port in enumerate(self.ports):
            intervals = {f"{d}_interval": daemon_interval for d in ("replicator", "auditor", "expirer", "updater")}
            conf = make_conf(root, object_node={"bind_port": port, "devices": str(root / f"node{i}"),
                                                "threads": 8},
                             object_ring=intervals if daemon_interval else None)
            self.nodes.append(Node(conf).start(run_daemons=daemon_interval is not None))
        self.backend = RingBackend(PluginContext(make_conf(root)))

    def run(self, daemon: str) -> None:
        for n in self.nodes:
            n.run_once(daemon)

    def data_files(self, account: str, container: str, obj: str) -> list[str]:
        h = hash_path(account, container, obj)
        return sorted(glob.glob(str(self.root / "node*" / "*" / "objects" / "*" / h[-3:] / h / "*.data")))

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()


class ProcessCluster:
    """``layout`` is one list of zones per node: a device per zone entry."""

    def __init__(self, root: Path, layout: list[list[int]]) -> None:
        self.root = root
        self.ports = [free_port() for _ in layout]
        devs = [(zone, self.ports[i], f"d{j + 1}") for i, zones in enumerate(layout) for j, zone in enumerate(zones)]
        build_rings(root / "rings", devs)
        self.conf = make_conf(root, object_node={"daemons": False, "threads": 8},
                              object_ring={"node_timeout": 5.0})
        self.nodes: list[LocalNode] = []
        for i, port in enumerate(self.ports):
            ndir = root / f"node{i}"
            ndir.mkdir()
            cpath = str(ndir / "node.conf")
            write_node_config(self.conf, cpath, "127.0.0.1", port, str(ndir / "devices"), str(ndir / "node.log"))
            self.nodes.append(LocalNode(i, "127.0.0.1", port, cpath, str(ndir / "node.log"),
                                        signer=opts.signer(self.conf)))
        for n in self.nodes:
            n.spawn()
        for n in self.nodes:
            n.wait_ready()
        self.backend = RingBackend(PluginContext(self.conf))
        self.object_ring = Ring(ring_paths(str(root / "rings"), "object")[1])

    def run(self, daemon: str) -> dict:
        return self.backend.run_daemon(daemon)

    def data_files(self, account: str, container: str, obj: str) -> list[str]:
        h = hash_path(account, container, obj)
        return sorted(glob.glob(str(self.root / "node*" / "devices" / "*" / "objects" / "*" / h[-3:] / h / "*.data")))

    def primary_dirs(self, account: str, container: str, obj: str) -> set[str]:
        part, nodes = self.object_ring.get_nodes(account, container, obj)
        h = hash_path(account, container, obj)
        return {str(self.root / f"node{self.ports.index(n['port'])}" / "devices" / n["device"] / "objects" / str(part)
                    / h[-3:] / h) for n in nodes}

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()
