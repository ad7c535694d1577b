"""Options of the ring backend: ``[object_ring]`` (cluster-wide) and ``[object_node]`` (one storage node)."""

from __future__ import annotations

import os

from oslo_config import cfg

ring_opts = [
    cfg.StrOpt("ring_dir", help="Directory of the ring files (account, container, object). "
                                "Default: <state_path>/rings."),
    cfg.StrOpt("hash_path_suffix", default="cumulo", secret=True,
               help="Secret mixed into every name hash; the same on every proxy and node, never changed."),
    cfg.FloatOpt("conn_timeout", default=0.5, min=0.01, help="Seconds to connect to a storage node."),
    cfg.FloatOpt("node_timeout", default=10.0, min=0.1, help="Seconds a storage node may take to answer or accept data."),
    cfg.FloatOpt("error_suppression_interval", default=10.0, min=0,
                 help="Seconds a node that failed to connect is skipped by the proxy."),
    cfg.IntOpt("chunk_size", default=65536, min=512, help="Bytes per chunk streamed to and from nodes."),
    cfg.FloatOpt("replicator_interval", default=30.0, min=0.1, help="Seconds between replicator passes on a node."),
    cfg.FloatOpt("auditor_interval", default=300.0, min=0.1, help="Seconds between auditor passes on a node."),
    cfg.FloatOpt("expirer_interval", default=10.0, min=0.1, help="Seconds between expirer passes on a node."),
    cfg.FloatOpt("updater_interval", default=2.0, min=0.1,
                 help="Seconds between updater passes (container stats to accounts, async pendings)."),
    cfg.IntOpt("reclaim_age", default=7 * 24 * 3600, min=0,
               help="Seconds tombstones and deleted databases are kept before they are removed."),
    # all-in-one topology (start_local)
    cfg.IntOpt("local_nodes", default=4, min=1, help="All-in-one: storage node processes to start."),
    cfg.IntOpt("local_zones", default=3, min=1, help="All-in-one: zones the local nodes are spread over."),
    cfg.IntOpt("local_replicas", default=3, min=1, help="All-in-one: replica count of new rings."),
    cfg.IntOpt("local_part_power", default=8, min=1, max=20, help="All-in-one: partition power of new rings."),
    cfg.FloatOpt("min_part_hours", default=1.0, min=0, help="Default min_part_hours of rings built automatically."),
]

node_opts = [
    cfg.HostAddressOpt("bind_ip", default="127.0.0.1", help="Address this storage node listens on."),
    cfg.PortOpt("bind_port", default=6200, help="Port of this storage node."),
    cfg.StrOpt("devices", help="Directory holding this node's device directories. Default: <state_path>/devices."),
    cfg.IntOpt("threads", default=32, min=1, help="Worker threads of the node server."),
    cfg.BoolOpt("daemons", default=True, help="Run the replicator, auditor, expirer and updater on their intervals."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [("object_ring", ring_opts), ("object_node", node_opts)]


def register(conf: cfg.ConfigOpts) -> None:
    for group, opts in list_opts():
        for opt in opts:
            try:
                conf.register_opt(opt, group=group)
            except cfg.DuplicateOptError:
                pass


def ring_dir(conf: cfg.ConfigOpts) -> str:
    return conf.object_ring.ring_dir or os.path.join(conf.state_path, "rings")
