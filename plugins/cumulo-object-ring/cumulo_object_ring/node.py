"""A storage node process: its devices, its WSGI server, its background daemons.

Run one per server::

    python -m cumulo_object_ring.node --config-file node.conf     (or: cumulo-object-node ...)

It serves ``[object_node] bind_ip:bind_port``, stores under
``[object_node] devices`` and runs the replicator, auditor, expirer and
updater every ``[object_ring] *_interval`` seconds (``daemons = false`` turns
that off; ``POST /_admin/<daemon>`` runs one pass at once either way).

It refuses to start without the cluster secret (``[object_ring] cluster_secret`` or
``cluster_secret_file``), the same on every proxy and node: every request it serves must be
signed with it (see :mod:`cumulo_object_ring.signing`), and so is every request it sends.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

import webob
from oslo_config import cfg

from cumulo_object_ring import client, daemons, opts
from cumulo_object_ring.context import Targets
from cumulo_object_ring.db import Broker
from cumulo_object_ring.diskfile import Device, now_ts
from cumulo_object_ring.ring import Ring, RingError, hash_path, ring_paths
from cumulo_object_ring.server import HTTPError, NodeApp

LOG = logging.getLogger(__name__)


class Node:
    """Everything one storage node holds; :meth:`start` serves and runs daemons.

    Its parts (the daemons, the WSGI app) see it through the protocols of
    :mod:`cumulo_object_ring.context` (``DaemonContext``, ``ServerContext``),
    which it provides.
    """

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf
        self.signer = opts.signer(conf)  # RingError when there is no secret: a node never runs open
        rc, nc = conf.object_ring, conf.object_node
        self.ip, self.port = nc.bind_ip, nc.bind_port
        self.root = nc.devices or os.path.join(conf.state_path, "devices")
        os.makedirs(self.root, exist_ok=True)
        self.ring_dir = opts.ring_dir(conf)
        self.hash_suffix = rc.hash_path_suffix
        self.chunk_size = rc.chunk_size
        self.reclaim_age = rc.reclaim_age
        self.conn_timeout, self.node_timeout = rc.conn_timeout, rc.node_timeout
        self._rings: dict[str, Ring] = {}
        self._devices: dict[str, Device] = {}
        self._lock = threading.Lock()
        self.daemons = {
            "replicate": daemons.Replicator(self), "audit": daemons.Auditor(self),
            "expire": daemons.Expirer(self), "update": daemons.Updater(self),
        }
        self._run_locks = {name: threading.Lock() for name in self.daemons}
        self.intervals = {"replicate": rc.replicator_interval, "audit": rc.auditor_interval,
                          "expire": rc.expirer_interval, "update": rc.updater_interval}
        self.server: Any = None
        self._tasks: list[threading.Thread] = []
        self._stopping = threading.Event()

    # -- rings and devices -----------------------------------------------------------------
    def ring(self, name: str) -> Ring:
        with self._lock:
            if name not in self._rings:
                self._rings[name] = Ring(ring_paths(self.ring_dir, name)[1], self.hash_suffix)
            ring = self._rings[name]
        ring.maybe_reload()
        return ring

    @property
    def devices(self) -> dict[str, Device]:
        """Devices this node serves: those the rings place here, plus any directory already present."""
        names: set[str] = set()
        for name in ("account", "container", "object"):
            try:
                names.update(d["device"] for d in self.ring(name).local_devices(self.ip, self.port))
            except RingError:
                continue
        names.update(n for n in os.listdir(self.root) if os.path.isdir(os.path.join(self.root, n)))
        with self._lock:
            for n in names:
                if n not in self._devices:
                    self._devices[n] = Device(self.root, n)
            return dict(self._devices)

    def device(self, name: str) -> Device:
        known = self._devices.get(name)
        if known is not None:
            return known
        devs = self.devices
        if name not in devs:
            raise HTTPError(507, f"No device {name!r} on this node")
        return devs[name]

    def is_local(self, dev: dict[str, Any]) -> bool:
        return dev["ip"] == self.ip and dev["port"] == self.port

    def request(self, node: dict[str, Any], method: str, path: str, **kw: Any) -> client.Response:
        kw.setdefault("conn_timeout", self.conn_timeout)
        kw.setdefault("node_timeout", self.node_timeout)
        kw.setdefault("signer", self.signer)
        return client.request(node, method, path, **kw)

    def request_json(self, node: dict[str, Any], method: str, path: str, payload: Any) -> client.Response:
        return client.request_json(node, method, path, payload, signer=self.signer,
                                   conn_timeout=self.conn_timeout, node_timeout=self.node_timeout)

    # -- updates to other servers ----------------------------------------------------------
    def update_targets(self, req: webob.Request, kind: str, account: str,
                       container: str | None = None) -> Targets | None:
        """The ``kind`` ("container" or "account") servers a write must tell, as the proxy named them.

        ``X-<Kind>-Host`` (``ip:port``, comma-separated), ``X-<Kind>-Device`` (one per host) and
        ``X-<Kind>-Partition``. Each must be a device of the ``kind`` ring and the partition the
        ring gives this account/container, so no request can make a node connect anywhere else:
        400 for malformed headers, 403 for a target outside the ring. None when none is named.
        Called before the write touches anything, so a refused request changed nothing.
        """
        prefix = f"X-{kind.capitalize()}-"
        host_h, dev_h, part_h = (req.headers.get(prefix + k) for k in ("Host", "Device", "Partition"))
        if host_h is None and dev_h is None and part_h is None:
            return None
        hosts = [h.strip() for h in (host_h or "").split(",") if h.strip()]
        devs = [d.strip() for d in (dev_h or "").split(",") if d.strip()]
        if not hosts or len(hosts) != len(devs) or not (part_h or "").strip().isdigit():
            raise HTTPError(400, f"{prefix}Host, {prefix}Device (one per host) and {prefix}Partition go together")
        part = int(part_h)  # type: ignore[arg-type]
        nodes: list[dict[str, Any]] = []
        for host, dev in zip(hosts, devs, strict=True):
            ip, sep, port = host.rpartition(":")
            if not sep or not ip or not port.isdigit() or not 0 < int(port) < 65536:
                raise HTTPError(400, f"Bad {prefix}Host {host!r}: expected ip:port")
            nodes.append({"ip": ip, "port": int(port), "device": dev})
        try:
            ring = self.ring(kind)
        except RingError as err:
            raise HTTPError(503, str(err)) from None
        if part != ring.get_part(account, container):
            raise HTTPError(403, f"{prefix}Partition is not the {kind} ring's partition of this {kind}")
        unknown = [n for n in nodes if not ring.has_device(n["ip"], n["port"], n["device"])]
        if unknown:
            ring.reload_now()  # the proxy may have seen a newer ring than ours
            unknown = [n for n in nodes if not ring.has_device(n["ip"], n["port"], n["device"])]
        if unknown:
            LOG.warning("Refused %s %s: %sHost names %s, not a device of the %s ring", req.method,
                        req.environ.get("REQUEST_URI"), prefix,
                        ", ".join(f"{n['ip']}:{n['port']}/{n['device']}" for n in unknown), kind)
            raise HTTPError(403, f"{prefix}Host/{prefix}Device name a server that is not a device of the {kind} ring")
        return Targets(part, nodes)

    def container_update(self, targets: Targets | None, device: Device, op: str, account: str, container: str,
                         obj: str, ts: str, size: int = 0, etag: str = "", content_type: str = "") -> None:
        """Tell the container server(s) the proxy named (checked by :meth:`update_targets`);
        on failure leave an async pending file."""
        if targets is None:
            return
        nodes = targets.nodes
        update = {"op": op, "account": account, "container": container, "obj": obj, "part": targets.part,
                  "headers": {"X-Timestamp": ts, "X-Size": str(size), "X-Etag": etag,
                              "X-Content-Type": content_type, "X-Backend-Server-Type": "container"}}
        failed = [n for n in nodes if not self.send_container_update(n, update)]
        if failed:
            daemons.write_async_pending(device, {**update, "nodes": failed}, self.hash_suffix)

    def send_container_update(self, node: dict[str, Any], update: dict[str, Any]) -> bool:
        path = client.node_path(node["device"], update["part"], update["account"], update["container"],
                                update["obj"])
        try:
            resp = self.request(node, update["op"], path, headers=update["headers"])
        except client.NodeError:
            return False
        return 200 <= resp.status < 300

    def account_update(self, targets: Targets | None, broker: Broker) -> None:
        """Report a container's state to the account server(s) the proxy named (checked by
        :meth:`update_targets`); the updater retries."""
        if targets is None:
            return
        self.report_container(broker, targets.nodes, targets.part, quorum=1, mark=False)

    def report_container(self, broker: Broker, nodes: list[dict[str, Any]], part: int, quorum: int,
                         mark: bool = True) -> bool:
        with broker.conn() as c:
            info = broker.get_info(c)
            count, used = broker.stats(c)  # type: ignore[attr-defined]
        stats_ts = now_ts()
        headers = {"X-Put-Timestamp": info["put_timestamp"], "X-Delete-Timestamp": info["delete_timestamp"],
                   "X-Object-Count": str(count), "X-Bytes-Used": str(used), "X-Stats-Timestamp": stats_ts,
                   "X-Backend-Server-Type": "account"}
        ok = 0
        for n in nodes:
            path = client.node_path(n["device"], part, info["account"], info["container"])
            try:
                if 200 <= self.request(n, "PUT", path, headers=headers).status < 300:
                    ok += 1
            except client.NodeError:
                continue
        if ok >= quorum and mark:
            with broker.conn() as c:
                broker.set_info(c, reported=json.dumps([info["put_timestamp"], info["delete_timestamp"],
                                                        count, used]))
        return ok >= quorum

    def account_nodes(self, account: str) -> tuple[int, list[dict[str, Any]]]:
        ring = self.ring("account")
        part = ring.get_part(account)
        return part, ring.get_part_nodes(part)

    def container_nodes(self, account: str, container: str) -> tuple[int, list[dict[str, Any]]]:
        ring = self.ring("container")
        part = ring.get_part(account, container)
        return part, ring.get_part_nodes(part)

    def hash_of(self, account: str, container: str | None = None, obj: str | None = None) -> str:
        return hash_path(account, container, obj, self.hash_suffix)

    # -- daemons ---------------------------------------------------------------------------
    def run_once(self, name: str) -> dict[str, Any]:
        with self._run_locks[name]:
            started = time.time()
            stats = self.daemons[name].run_once()
            stats["seconds"] = round(time.time() - started, 3)
            return stats

    def start(self, serve: bool = True, run_daemons: bool = True) -> Node:
        if serve:
            from cumulo.wsgi.server import Server

            self.server = Server(NodeApp(self), self.ip, self.port, self.conf.object_node.threads,
                                 name=f"cumulo-object-node-{self.port}")
            self.server.start()
            self.port = self.server.port
        if run_daemons:
            for name, interval in self.intervals.items():
                t = threading.Thread(target=self._loop, args=(name, interval), daemon=True, name=f"object-{name}")
                t.start()
                self._tasks.append(t)
        return self

    def _loop(self, name: str, interval: float) -> None:
        while not self._stopping.wait(interval):
            try:
                self.run_once(name)
            except Exception:
                LOG.exception("Object %s pass failed", name)

    def stop(self) -> None:
        self._stopping.set()
        if self.server is not None:
            self.server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cumulo-object-node", description="Cumulo object storage node")
    parser.add_argument("--config-file", "--config", action="append", default=[], dest="config_files",
                        help="Configuration file (repeatable)")
    parser.add_argument("--parent-pid", type=int,
                        help="Exit when this process (the all-in-one cloud that started us) is gone")
    args = parser.parse_args(argv)
    conf = cfg.ConfigOpts()
    from cumulo import conf as cumulo_conf

    cumulo_conf.register(conf)
    opts.register(conf)
    conf(args=[], project="cumulo", default_config_files=args.config_files)
    log_file = conf.log_file
    logging.basicConfig(level=logging.DEBUG if conf.debug else logging.INFO, filename=log_file,
                        format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s")
    try:
        node = Node(conf)
    except RingError as err:
        print(f"cumulo-object-node: error: {err}", file=sys.stderr, flush=True)
        if log_file:  # otherwise the log is stderr, which has it already
            LOG.error("Not starting: %s", err)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    node.start(run_daemons=conf.object_node.daemons)
    LOG.info("Object node listening on %s:%s, devices under %s", node.ip, node.port, node.root)
    print(f"listening {node.ip}:{node.port}", flush=True)
    try:
        while not stop.wait(1):
            if args.parent_pid and os.getppid() != args.parent_pid:
                LOG.info("Parent %s is gone; stopping", args.parent_pid)
                break
    finally:
        node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
