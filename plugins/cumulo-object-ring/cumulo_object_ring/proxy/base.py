"""What every proxy controller shares: rings, signed node requests, node selection, quorum, error limiting.

Writes go to every replica's device and succeed on a quorum (a majority of
the replica count); a primary that cannot be reached is replaced by a handoff
device on another server. Reads try primaries, then handoffs, nodes in
error suppression last.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from oslo_config import cfg

from cumulo.interfaces.object import ObjectNotFound, ObjectUnavailable
from cumulo_object_ring import client, opts
from cumulo_object_ring.diskfile import normalize_timestamp
from cumulo_object_ring.ring import Ring, RingError, ring_paths
from cumulo_object_ring.signing import Signer

LOG = logging.getLogger(__name__)

#: A device entry of a ring (``ip``, ``port``, ``device``...).
Node = dict[str, Any]
#: The request path of a resource on a given device (the device is its first segment).
PathOf = Callable[[Node], str]


class RingProxy:
    """The proxy's access to storage nodes, shared by the account, container and object controllers.

    :param conf: the process configuration, ``[object_ring]`` options registered.
    """

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        rc = conf.object_ring
        self.conf = conf
        self.ring_dir = opts.ring_dir(conf)
        self.conn_timeout, self.node_timeout = rc.conn_timeout, rc.node_timeout
        self.chunk_size = rc.chunk_size
        self.limiter = client.ErrorLimiter(rc.error_suppression_interval)
        self._rings: dict[str, Ring] = {}
        self._lock = threading.Lock()
        self._last_ts = 0.0
        self._signer: Signer | None = None

    @property
    def signer(self) -> Signer:
        """The cluster's request signer, found on first use (the all-in-one makes its secret at start)."""
        if self._signer is None:
            try:
                self._signer = opts.signer(self.conf)
            except RingError as err:
                LOG.error("Object storage cannot reach its nodes: %s", err)
                raise ObjectUnavailable(str(err)) from None
        return self._signer

    def timestamp(self) -> str:
        """X-Timestamp of a new write: strictly increasing in this process (10 us steps)."""
        with self._lock:
            self._last_ts = max(time.time(), self._last_ts + 0.00001)
            return normalize_timestamp(self._last_ts)

    def ring(self, name: str) -> Ring:
        """The ``account``, ``container`` or ``object`` ring, loaded once and reloaded when its file changes.

        :raises ObjectUnavailable: the ring file is missing or unreadable.
        """
        with self._lock:
            if name not in self._rings:
                try:
                    self._rings[name] = Ring(ring_paths(self.ring_dir, name)[1], self.conf.object_ring.hash_path_suffix)
                except RingError as err:
                    raise ObjectUnavailable(str(err)) from None
            ring = self._rings[name]
        ring.maybe_reload()
        return ring

    @staticmethod
    def quorum(ring: Ring) -> int:
        """How many replicas must accept a write: a majority."""
        return ring.replicas // 2 + 1

    # -- reads -----------------------------------------------------------------------------
    def request(self, node: Node, method: str, path: str, headers: dict[str, str] | None = None,
                query: str = "") -> client.Response | None:
        """One signed request; None when the node failed or has no such device (507)."""
        try:
            resp = client.request(node, method, path, headers, query=query, conn_timeout=self.conn_timeout,
                                  node_timeout=self.node_timeout, signer=self.signer)
        except client.NodeError as err:
            LOG.info("Storage node %s:%s failed %s: %s", node["ip"], node["port"], method, err)
            self.limiter.error(node)
            return None
        if resp.status == 507:
            return None
        self.limiter.ok(node)
        return resp

    def open_get(self, node: Node, method: str, path: str, headers: dict[str, str]) -> client.StreamingResponse:
        """A signed GET or HEAD whose body is read later, in chunks.

        :raises client.NodeError: the node could not be reached or failed.
        """
        return client.open_get(node, method, path, headers, conn_timeout=self.conn_timeout,
                               node_timeout=self.node_timeout, signer=self.signer)

    def read_nodes(self, ring: Ring, part: int) -> list[Node]:
        """Primaries then as many handoffs, nodes in error-suppression last."""
        nodes = ring.get_part_nodes(part)
        more = ring.get_more_nodes(part)
        for _ in range(ring.replicas):
            nxt = next(more, None)
            if nxt is None:
                break
            nodes.append(nxt)
        return [n for n in nodes if not self.limiter.limited(n)] + [n for n in nodes if self.limiter.limited(n)]

    def read(self, ring: Ring, part: int, method: str, path_of: PathOf, query: str = "") -> client.Response:
        """The first 2xx answer not older than a tombstone seen; 404s when all say so.

        :raises ObjectNotFound: some node answered 404 and none had a current copy.
        :raises ObjectUnavailable: no node answered.
        """
        seen_404, newest_gone = 0, ""
        for node in self.read_nodes(ring, part):
            resp = self.request(node, method, path_of(node), query=query)
            if resp is None:
                continue
            if resp.status == 404:
                seen_404 += 1
                newest_gone = max(newest_gone, resp.headers.get("x-backend-timestamp", ""))
                continue
            if 200 <= resp.status < 300:
                ts = resp.headers.get("x-put-timestamp") or resp.headers.get("x-timestamp") or ""
                if newest_gone and ts and ts < newest_gone:
                    continue
                return resp
        if seen_404:
            raise ObjectNotFound("Not found")
        raise ObjectUnavailable("No storage node answered")

    # -- writes ----------------------------------------------------------------------------
    def write_targets(self, ring: Ring, part: int) -> Iterable[Node]:
        """Primaries first; each unreachable one is replaced by a handoff on a server not yet used."""
        primaries = ring.get_part_nodes(part)
        distinct = len(ring.servers()) >= ring.replicas
        used: set[tuple[str, int]] = {(n["ip"], n["port"]) for n in primaries}
        yield from primaries
        for h in ring.get_more_nodes(part):
            server = (h["ip"], h["port"])
            if distinct and server in used:
                continue
            used.add(server)
            yield h

    def connect_targets(self, ring: Ring, part: int) -> list[tuple[Node, http.client.HTTPConnection]]:
        """Connections (pooled) to ``replicas`` reachable devices: primaries, a handoff for each dead one."""
        conns: list[tuple[Node, http.client.HTTPConnection]] = []
        nprimaries = len(ring.get_part_nodes(part))
        for index, node in enumerate(self.write_targets(ring, part)):
            if len(conns) >= nprimaries:
                break
            if index >= nprimaries and self.limiter.limited(node):
                continue
            try:
                conns.append((node, client.POOL.get(node, self.conn_timeout, self.node_timeout)[0]))
            except client.NodeError as err:
                LOG.info("Storage node %s:%s unreachable: %s", node["ip"], node["port"], err)
                self.limiter.error(node)
        return conns

    def write(self, ring: Ring, part: int, method: str, path_of: PathOf,
              headers_of: Callable[[int, Node], dict[str, str]]) -> list[int]:
        """Send to ``replicas`` reachable nodes (handoffs for dead primaries); returns their statuses.

        ``headers_of(i, node)`` gives the headers for the ``i``-th target. Nothing is sent
        unless a quorum of nodes accepted a connection, so a request refused for lack of
        nodes (503) changed nothing. The requests go out to every node first and the
        answers are read after, from this thread: the nodes work in parallel without a
        thread per replica.
        """
        signer = self.signer
        conns = self.connect_targets(ring, part)
        if len(conns) < self.quorum(ring):
            for _, conn in conns:
                conn.close()
            return []
        sent: list[tuple[Node, http.client.HTTPConnection, str, dict[str, str]]] = []
        for i, (node, conn) in enumerate(conns):
            path = path_of(node)
            hdrs = signer.sign(method, path, "", {**headers_of(i, node), "Content-Length": "0"})
            try:
                conn.request(method, path, headers=hdrs)
            except client.NodeError as err:
                conn.close()
                LOG.info("Storage node %s:%s failed %s: %s", node["ip"], node["port"], method, err)
                self.limiter.error(node)
                continue
            sent.append((node, conn, path, hdrs))
        statuses: list[int] = []
        for node, conn, path, hdrs in sent:
            status = self._answer(node, conn, method, path, hdrs)
            if status is not None and status != 507:
                statuses.append(status)
        return statuses

    def _answer(self, node: Node, conn: http.client.HTTPConnection, method: str, path: str,
                hdrs: dict[str, str]) -> int | None:
        """The status of a request already sent on ``conn``; None when the node failed.

        A pooled connection its node closed meanwhile fails before any answer: the
        request (bodiless, so safe to repeat) goes once more on a new connection.
        """
        for attempt in range(2):
            try:
                resp = conn.getresponse()
                resp.read()
                client.POOL.put(conn, resp)
                return resp.status
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as err:
                conn.close()
                if attempt:
                    failure: BaseException = err
                    break
                try:
                    conn = client.connect(node, self.conn_timeout, self.node_timeout)
                    conn.request(method, path, headers=hdrs)
                except client.NodeError as err2:
                    conn.close()
                    failure = err2
                    break
            except client.NodeError as err:
                conn.close()
                failure = err
                break
        LOG.info("Storage node %s:%s failed %s: %s", node["ip"], node["port"], method, failure)
        self.limiter.error(node)
        return None

    def succeeded(self, ring: Ring, statuses: list[int]) -> bool:
        """Whether a quorum of the replicas answered 2xx."""
        return sum(200 <= s < 300 for s in statuses) >= self.quorum(ring)


def title(key: str) -> str:
    """``x-meta-colour`` as ``X-Meta-Colour``: metadata keys as clients sent them."""
    return "-".join(p.capitalize() for p in key.split("-"))


def listing_query(prefix: str, delimiter: str, marker: str, end_marker: str, limit: int, reverse: bool) -> str:
    """The query string of an account or container listing on a storage node."""
    params = {"limit": str(int(limit))}
    for k, v in (("prefix", prefix), ("delimiter", delimiter), ("marker", marker), ("end_marker", end_marker)):
        if v:
            params[k] = v
    if reverse:
        params["reverse"] = "true"
    return urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in params.items()})
