"""Options of the ring backend: ``[object_ring]`` (cluster-wide) and ``[object_node]`` (one storage node)."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat

from oslo_config import cfg

from cumulo_object_ring.ring import RingError
from cumulo_object_ring.signing import Signer

LOG = logging.getLogger(__name__)
SECRET_FILE_NAME = "object-ring.secret"
MISSING_SECRET = ("No [object_ring] cluster_secret (nor a cluster_secret_file): every proxy and storage "
                  "node needs the same secret")

ring_opts = [
    cfg.StrOpt("ring_dir", help="Directory of the ring files (account, container, object). "
                                "Default: <state_path>/rings."),
    cfg.StrOpt("hash_path_suffix", default="cumulo", secret=True,
               help="Secret mixed into every name hash; the same on every proxy and node, never changed."),
    cfg.StrOpt("cluster_secret", secret=True,
               help="Secret shared by every proxy and storage node; requests between them are signed "
                    "with it (HMAC-SHA256) and nodes refuse anything else. Required on multi-node "
                    "setups (the same value everywhere); the all-in-one generates one in "
                    "<state_path>/object-ring.secret."),
    cfg.StrOpt("cluster_secret_file",
               help="File holding the cluster secret, read when cluster_secret is not set (keep it "
                    "mode 0600). Default: <state_path>/object-ring.secret."),
    cfg.FloatOpt("signature_max_age", default=60.0, min=1.0,
                 help="Seconds a signed request stays valid, either side of the node's clock."),
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


def secret_file(conf: cfg.ConfigOpts) -> str:
    return conf.object_ring.cluster_secret_file or os.path.join(conf.state_path, SECRET_FILE_NAME)


def cluster_secret(conf: cfg.ConfigOpts, create: bool = False) -> str | None:
    """``cluster_secret``, else the secret file's content, else None.

    ``create`` (the all-in-one): generate a random secret into the file (mode 0600) when there is
    none yet, so restarts keep it.
    """
    if conf.object_ring.cluster_secret:
        return str(conf.object_ring.cluster_secret)
    path = secret_file(conf)
    if create and not os.path.exists(path):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        # Written whole under a temporary name, then linked into place: a reader never sees a
        # partial secret, and of two processes starting at once the first link wins.
        tmp = f"{path}.{os.getpid()}.tmp"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
            LOG.info("Generated the object storage cluster secret in %s", path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    try:
        with open(path) as f:
            mode = os.fstat(f.fileno()).st_mode
            value = f.read().strip()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise RingError(f"Cannot read the cluster secret file {path}: {err}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        LOG.warning("The cluster secret file %s is accessible to other users (mode %o); make it 0600",
                    path, stat.S_IMODE(mode))
    return value or None


def signer(conf: cfg.ConfigOpts, create: bool = False) -> Signer:
    """The request signer of this cluster; RingError (with :data:`MISSING_SECRET`) without a secret."""
    secret = cluster_secret(conf, create=create)
    if not secret:
        raise RingError(MISSING_SECRET)
    return Signer(secret, max_age=conf.object_ring.signature_max_age)
