"""The ring backend: the proxy logic that runs in the API process.

Writes go to every replica's device and succeed on a quorum (a majority of
the replica count); a primary that cannot be reached is replaced by a handoff
device on another server. Reads try primaries, then handoffs. Object bodies
stream in chunks to all replicas at once (a thread per replica, chunked
transfer encoding), never buffered whole; an upload that fails or whose etag
does not match is aborted before its end, so no node commits it.

Every request to a node is signed with the cluster secret (``[object_ring]
cluster_secret``, or the file the all-in-one generates): nodes refuse anything
else. See :mod:`cumulo_object_ring.signing`.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from oslo_config import cfg

from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.object import (
    ObjectBackend,
    ObjectConflict,
    ObjectEtagMismatch,
    ObjectInfo,
    ObjectNotFound,
    ObjectUnavailable,
)
from cumulo_object_ring import client, opts
from cumulo_object_ring.diskfile import normalize_timestamp
from cumulo_object_ring.ring import Ring, RingError, ring_paths
from cumulo_object_ring.signing import Signer

LOG = logging.getLogger(__name__)
_END, _ABORT = object(), object()


def _title(key: str) -> str:
    return "-".join(p.capitalize() for p in key.split("-"))


def _ci_pop(meta: dict[str, str], key: str) -> str | None:
    found = None
    for k in list(meta):
        if k.lower() == key.lower():
            found = meta.pop(k)
    return found


class _Putter:
    """One replica's upload: a connection fed by a queue in its own thread."""

    def __init__(self, node: dict[str, Any], conn: http.client.HTTPConnection) -> None:
        self.node, self.conn = node, conn
        self.q: queue.Queue[Any] = queue.Queue(maxsize=8)
        self.error: BaseException | None = None
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.thread = threading.Thread(target=self._run, daemon=True, name="object-putter")
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.q.get()
            if item is _ABORT:
                with contextlib.suppress(Exception):
                    self.conn.close()
                return
            if item is _END:
                self._finish()
                return
            if self.error is None:
                try:
                    self.conn.send(b"%x\r\n%s\r\n" % (len(item), item))
                except client.NodeError as err:
                    self.error = err

    def _finish(self) -> None:
        try:
            if self.error is None:
                self.conn.send(b"0\r\n\r\n")
            resp = self.conn.getresponse()
            resp.read()
            self.status = resp.status
            self.headers = {k.lower(): v for k, v in resp.getheaders()}
        except client.NodeError as err:
            self.error = self.error or err
        finally:
            with contextlib.suppress(Exception):
                self.conn.close()

    def send(self, chunk: bytes) -> None:
        if self.error is None:
            self.q.put(chunk)

    def finish(self, timeout: float) -> None:
        self.q.put(_END)
        self.thread.join(timeout)

    def abort(self) -> None:
        self.q.put(_ABORT)


class RingBackend(ObjectBackend):
    """Swift-style replicated object storage over storage nodes placed by rings."""

    interface_version = "2.0"

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        conf = self.conf
        opts.register(conf)
        rc = conf.object_ring
        self.ring_dir = opts.ring_dir(conf)
        self.conn_timeout, self.node_timeout = rc.conn_timeout, rc.node_timeout
        self.chunk_size = rc.chunk_size
        self.limiter = client.ErrorLimiter(rc.error_suppression_interval)
        self._rings: dict[str, Ring] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="object-proxy")
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

    def _timestamp(self) -> str:
        """X-Timestamp of a new write: strictly increasing in this process (10 us steps)."""
        with self._lock:
            self._last_ts = max(time.time(), self._last_ts + 0.00001)
            return normalize_timestamp(self._last_ts)

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return opts.list_opts()

    # -- all-in-one ------------------------------------------------------------------------
    def start_local(self) -> list[Any]:
        from cumulo_object_ring import local

        return local.start_local(self.conf)

    # -- rings and requests ----------------------------------------------------------------
    def ring(self, name: str) -> Ring:
        with self._lock:
            if name not in self._rings:
                try:
                    self._rings[name] = Ring(ring_paths(self.ring_dir, name)[1], self.conf.object_ring.hash_path_suffix)
                except RingError as err:
                    raise ObjectUnavailable(str(err)) from None
            ring = self._rings[name]
        ring.maybe_reload()
        return ring

    def _request(self, node: dict[str, Any], method: str, path: str, headers: dict[str, str] | None = None,
                 query: str = "") -> client.Response | None:
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

    def _read_nodes(self, ring: Ring, part: int) -> list[dict[str, Any]]:
        """Primaries then as many handoffs, nodes in error-suppression last."""
        nodes = ring.get_part_nodes(part)
        more = ring.get_more_nodes(part)
        for _ in range(ring.replicas):
            nxt = next(more, None)
            if nxt is None:
                break
            nodes.append(nxt)
        return [n for n in nodes if not self.limiter.limited(n)] + [n for n in nodes if self.limiter.limited(n)]

    def _read(self, ring: Ring, part: int, method: str, path_of: Callable[[dict[str, Any]], str],
              query: str = "") -> client.Response:
        """The first 2xx answer not older than a tombstone seen; 404s when all say so."""
        seen_404, newest_gone = 0, ""
        for node in self._read_nodes(ring, part):
            resp = self._request(node, method, path_of(node), query=query)
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

    def _write_targets(self, ring: Ring, part: int) -> Iterable[dict[str, Any]]:
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

    def _quorum(self, ring: Ring) -> int:
        return ring.replicas // 2 + 1

    def _connect_targets(self, ring: Ring, part: int) -> list[tuple[dict[str, Any], http.client.HTTPConnection]]:
        """Connections to ``replicas`` reachable devices: primaries, a handoff for each dead one."""
        conns: list[tuple[dict[str, Any], http.client.HTTPConnection]] = []
        nprimaries = len(ring.get_part_nodes(part))
        for index, node in enumerate(self._write_targets(ring, part)):
            if len(conns) >= nprimaries:
                break
            if index >= nprimaries and self.limiter.limited(node):
                continue
            try:
                conns.append((node, client.connect(node, self.conn_timeout, self.node_timeout)))
            except client.NodeError as err:
                LOG.info("Storage node %s:%s unreachable: %s", node["ip"], node["port"], err)
                self.limiter.error(node)
        return conns

    def _write(self, ring: Ring, part: int, method: str, path_of: Callable[[dict[str, Any]], str],
               headers_of: Callable[[int, dict[str, Any]], dict[str, str]]) -> list[int]:
        """Send to ``replicas`` reachable nodes (handoffs for dead primaries); returns their statuses.

        Nothing is sent unless a quorum of nodes accepted a connection, so a request refused
        for lack of nodes (503) changed nothing.
        """
        signer = self.signer
        conns = self._connect_targets(ring, part)
        if len(conns) < self._quorum(ring):
            for _, conn in conns:
                conn.close()
            return []

        def send(i: int, node: dict[str, Any], conn: http.client.HTTPConnection) -> int | None:
            try:
                path = path_of(node)
                conn.request(method, path,
                             headers=signer.sign(method, path, "", {**headers_of(i, node), "Content-Length": "0"}))
                resp = conn.getresponse()
                resp.read()
                return None if resp.status == 507 else resp.status
            except client.NodeError as err:
                LOG.info("Storage node %s:%s failed %s: %s", node["ip"], node["port"], method, err)
                self.limiter.error(node)
                return None
            finally:
                conn.close()

        futures = [self._pool.submit(send, i, node, conn) for i, (node, conn) in enumerate(conns)]
        return [st for st in (f.result() for f in futures) if st is not None]

    # -- accounts --------------------------------------------------------------------------
    def _account_path(self, account: str) -> Callable[[dict[str, Any]], str]:
        ring = self.ring("account")
        part = ring.get_part(account)
        return lambda n: client.node_path(n["device"], part, account)

    def head_account(self, account: str) -> dict[str, Any]:
        ring = self.ring("account")
        part = ring.get_part(account)
        try:
            resp = self._read(ring, part, "HEAD", self._account_path(account))
        except ObjectNotFound:
            return {"container_count": 0, "object_count": 0, "bytes_used": 0, "metadata": {}, "created_at": 0.0}
        h = resp.headers
        return {"container_count": int(h.get("x-account-container-count", 0)),
                "object_count": int(h.get("x-account-object-count", 0)),
                "bytes_used": int(h.get("x-account-bytes-used", 0)),
                "metadata": {_title(k): v for k, v in client.decode_meta(h.get("x-backend-metadata")).items()},
                "created_at": float(h.get("x-backend-created-at") or 0)}

    def list_containers(self, account: str, prefix: str = "", delimiter: str = "", marker: str = "",
                        end_marker: str = "", limit: int = 10000, reverse: bool = False) -> list[dict[str, Any]]:
        ring = self.ring("account")
        part = ring.get_part(account)
        query = _listing_query(prefix, delimiter, marker, end_marker, limit, reverse)
        try:
            resp = self._read(ring, part, "GET", self._account_path(account), query=query)
        except ObjectNotFound:
            return []
        out = []
        for row in resp.json():
            if "subdir" in row:
                out.append({"subdir": row["subdir"]})
            else:
                out.append({"name": row["name"], "count": row["object_count"], "bytes": row["bytes_used"],
                            "last_modified": float(row["put_timestamp"])})
        return out

    def post_account(self, account: str, metadata: dict[str, str]) -> None:
        ring = self.ring("account")
        part = ring.get_part(account)
        ts = self._timestamp()
        hdrs = {"X-Timestamp": ts, "X-Backend-Metadata": client.encode_meta(metadata)}
        statuses = self._write(ring, part, "POST", self._account_path(account), lambda i, n: hdrs)
        if sum(200 <= s < 300 for s in statuses) < self._quorum(ring):
            raise ObjectUnavailable("Account update did not reach a quorum of storage nodes")

    # -- containers ------------------------------------------------------------------------
    def _container_loc(self, account: str, container: str) -> tuple[Ring, int, Callable[[dict[str, Any]], str]]:
        ring = self.ring("container")
        part = ring.get_part(account, container)
        return ring, part, lambda n: client.node_path(n["device"], part, account, container)

    def put_container(self, account: str, container: str, metadata: dict[str, str]) -> bool:
        ring, part, path_of = self._container_loc(account, container)
        aring = self.ring("account")
        apart = aring.get_part(account)
        anodes = aring.get_part_nodes(apart)
        ts = self._timestamp()

        def headers_of(i: int, n: dict[str, Any]) -> dict[str, str]:
            a = anodes[i % len(anodes)]
            return {"X-Timestamp": ts, "X-Backend-Metadata": client.encode_meta(metadata),
                    "X-Account-Host": f"{a['ip']}:{a['port']}", "X-Account-Device": a["device"],
                    "X-Account-Partition": str(apart)}

        statuses = self._write(ring, part, "PUT", path_of, headers_of)
        if sum(200 <= s < 300 for s in statuses) < self._quorum(ring):
            raise ObjectUnavailable("Container creation did not reach a quorum of storage nodes")
        return 201 in statuses

    def _head_container(self, account: str, container: str) -> client.Response:
        ring, part, path_of = self._container_loc(account, container)
        try:
            return self._read(ring, part, "HEAD", path_of)
        except ObjectNotFound:
            raise ObjectNotFound(f"Container {container} not found") from None

    def head_container(self, account: str, container: str) -> dict[str, Any]:
        h = self._head_container(account, container).headers
        return {"object_count": int(h.get("x-container-object-count", 0)),
                "bytes_used": int(h.get("x-container-bytes-used", 0)),
                "metadata": {_title(k): v for k, v in client.decode_meta(h.get("x-backend-metadata")).items()},
                "created_at": float(h.get("x-backend-created-at") or h.get("x-put-timestamp") or 0)}

    def post_container(self, account: str, container: str, metadata: dict[str, str]) -> None:
        self._head_container(account, container)
        ring, part, path_of = self._container_loc(account, container)
        hdrs = {"X-Timestamp": self._timestamp(), "X-Backend-Metadata": client.encode_meta(metadata)}
        statuses = self._write(ring, part, "POST", path_of, lambda i, n: hdrs)
        if sum(200 <= s < 300 for s in statuses) < self._quorum(ring):
            if statuses and all(s == 404 for s in statuses):
                raise ObjectNotFound(f"Container {container} not found")
            raise ObjectUnavailable("Container update did not reach a quorum of storage nodes")

    def delete_container(self, account: str, container: str) -> None:
        ring, part, path_of = self._container_loc(account, container)
        aring = self.ring("account")
        apart = aring.get_part(account)
        anodes = aring.get_part_nodes(apart)
        ts = self._timestamp()

        def headers_of(i: int, n: dict[str, Any]) -> dict[str, str]:
            a = anodes[i % len(anodes)]
            return {"X-Timestamp": ts, "X-Account-Host": f"{a['ip']}:{a['port']}", "X-Account-Device": a["device"],
                    "X-Account-Partition": str(apart)}

        statuses = self._write(ring, part, "DELETE", path_of, headers_of)
        if sum(200 <= s < 300 for s in statuses) >= self._quorum(ring):
            return
        if 409 in statuses:
            raise ObjectConflict(f"Container {container} is not empty")
        if statuses and statuses.count(404) >= min(len(statuses), self._quorum(ring)):
            raise ObjectNotFound(f"Container {container} not found")
        raise ObjectUnavailable("Container deletion did not reach a quorum of storage nodes")

    def list_objects(self, account: str, container: str, prefix: str = "", delimiter: str = "",
                     marker: str = "", end_marker: str = "", limit: int = 10000,
                     reverse: bool = False) -> list[dict[str, Any]]:
        ring, part, path_of = self._container_loc(account, container)
        query = _listing_query(prefix, delimiter, marker, end_marker, limit, reverse)
        try:
            resp = self._read(ring, part, "GET", path_of, query=query)
        except ObjectNotFound:
            raise ObjectNotFound(f"Container {container} not found") from None
        out = []
        for row in resp.json():
            if "subdir" in row:
                out.append({"subdir": row["subdir"]})
            else:
                out.append({"name": row["name"], "bytes": row["size"], "hash": row["etag"],
                            "content_type": row["content_type"], "last_modified": float(row["created_at"])})
        return out

    # -- objects ---------------------------------------------------------------------------
    def _object_loc(self, account: str, container: str, obj: str) -> tuple[Ring, int, Callable[[dict[str, Any]], str]]:
        ring = self.ring("object")
        part = ring.get_part(account, container, obj)
        return ring, part, lambda n: client.node_path(n["device"], part, account, container, obj)

    def _container_headers(self, account: str, container: str) -> Callable[[int], dict[str, str]]:
        """Which container replica each object replica updates (checks the container exists)."""
        self._head_container(account, container)
        cring = self.ring("container")
        cpart = cring.get_part(account, container)
        cnodes = cring.get_part_nodes(cpart)

        def of(i: int) -> dict[str, str]:
            c = cnodes[i % len(cnodes)]
            return {"X-Container-Host": f"{c['ip']}:{c['port']}", "X-Container-Device": c["device"],
                    "X-Container-Partition": str(cpart)}

        return of

    @staticmethod
    def _split_meta(metadata: dict[str, str]) -> tuple[dict[str, str], str | None]:
        meta = dict(metadata)
        delete_at = _ci_pop(meta, "X-Delete-At")
        if delete_at is not None:
            try:
                delete_at = str(int(float(delete_at)))
            except ValueError:
                delete_at = None
        return meta, delete_at

    def put_object(self, account: str, container: str, obj: str, chunks: Iterable[bytes],
                   content_type: str, metadata: dict[str, str], etag: str | None = None) -> ObjectInfo:
        container_headers = self._container_headers(account, container)
        ring, part, path_of = self._object_loc(account, container, obj)
        meta, delete_at = self._split_meta(metadata)
        ts = self._timestamp()
        base = {"X-Timestamp": ts, "Content-Type": content_type or "application/octet-stream",
                "X-Backend-Metadata": client.encode_meta(meta), "Transfer-Encoding": "chunked"}
        if delete_at:
            base["X-Delete-At"] = delete_at
        if etag:
            base["Etag"] = etag.strip('"').lower()
        putters = self._connect_putters(ring, part, path_of, lambda i: {**base, **container_headers(i)})
        quorum = self._quorum(ring)
        if len(putters) < quorum:
            for p in putters:
                p.abort()
            raise ObjectUnavailable(f"Only {len(putters)} of {ring.replicas} storage nodes reachable")
        md5 = hashlib.md5()
        size = 0
        try:
            for chunk in chunks:
                if not chunk:
                    continue
                md5.update(chunk)
                size += len(chunk)
                for p in putters:
                    p.send(chunk)
                if sum(p.error is None for p in putters) < quorum:
                    raise ObjectUnavailable("Lost the connection to a quorum of storage nodes during the upload")
        except BaseException:
            for p in putters:
                p.abort()
            raise
        got = md5.hexdigest()
        if etag and etag.strip('"').lower() != got:
            for p in putters:
                p.abort()
            raise ObjectEtagMismatch(f"The body's md5 {got} does not match the Etag {etag}")
        for p in putters:
            p.finish(self.node_timeout + 5)
        statuses = [p.status for p in putters if p.status is not None]
        if 422 in statuses:
            raise ObjectEtagMismatch(f"The body's md5 {got} does not match the Etag {etag}")
        # 409: the node already has a newer version; our write is superseded, which is success.
        ok = [p for p in putters if p.status is not None and (200 <= p.status < 300 or p.status == 409)]
        if len(ok) < quorum:
            raise ObjectUnavailable(f"Object stored on {len(ok)} of {ring.replicas} storage nodes; "
                                    f"{quorum} are needed")
        user = dict(meta)
        if delete_at:
            user["X-Delete-At"] = delete_at
        return ObjectInfo(name=obj, size=size, etag=got, last_modified=float(ts),
                          content_type=base["Content-Type"], metadata=user)

    def _connect_putters(self, ring: Ring, part: int, path_of: Callable[[dict[str, Any]], str],
                         headers_of: Callable[[int], dict[str, str]]) -> list[_Putter]:
        putters: list[_Putter] = []
        signer = self.signer
        for i, (node, conn) in enumerate(self._connect_targets(ring, part)):
            try:
                path = path_of(node)
                conn.putrequest("PUT", path, skip_accept_encoding=True)
                for k, v in signer.sign("PUT", path, "", headers_of(i)).items():
                    conn.putheader(k, v)
                conn.endheaders()
            except client.NodeError as err:
                LOG.info("Storage node %s:%s failed PUT: %s", node["ip"], node["port"], err)
                conn.close()
                continue
            putters.append(_Putter(node, conn))
        return putters

    def _get(self, method: str, account: str, container: str, obj: str,
             byte_range: tuple[int, int] | None = None) -> ObjectInfo:
        ring, part, path_of = self._object_loc(account, container, obj)
        newest_gone = ""
        seen_404 = 0
        headers = {"X-Backend-Range": f"{byte_range[0]}-{byte_range[1]}"} if byte_range else {}
        nodes = self._read_nodes(ring, part)
        for i, node in enumerate(nodes):
            try:
                resp = client.open_get(node, method, path_of(node), headers, conn_timeout=self.conn_timeout,
                                       node_timeout=self.node_timeout, signer=self.signer)
            except client.NodeError as err:
                LOG.info("Storage node %s:%s failed %s: %s", node["ip"], node["port"], method, err)
                self.limiter.error(node)
                continue
            if resp.status in (200, 206):
                ts = resp.headers.get("x-timestamp", "")
                if newest_gone and ts < newest_gone:
                    resp.close()
                    continue
                info = self._info(obj, resp, False)
                if method == "GET":
                    start = byte_range[0] if byte_range else 0
                    end = byte_range[1] if byte_range else info.size
                    info.body = self._body(resp, nodes[i + 1:], path_of, start, end, ts)
                else:
                    resp.close()
                return info
            if resp.status == 404:
                seen_404 += 1
                newest_gone = max(newest_gone, resp.headers.get("x-backend-timestamp", ""))
            resp.close()
        if seen_404:
            raise ObjectNotFound(f"Object {obj} not found")
        raise ObjectUnavailable("No storage node holding the object answered")

    def _info(self, obj: str, resp: client.StreamingResponse, with_body: bool) -> ObjectInfo:
        h = resp.headers
        meta = client.decode_meta(h.get("x-backend-metadata"))
        if h.get("x-delete-at"):
            meta["X-Delete-At"] = h["x-delete-at"]
        size = int(h.get("x-backend-object-size") or h.get("content-length") or 0)
        info = ObjectInfo(name=obj, size=size, etag=h.get("etag", ""),
                          last_modified=float(h.get("x-backend-last-modified") or h.get("x-timestamp") or 0),
                          content_type=h.get("content-type", "application/octet-stream"), metadata=meta)
        if with_body:
            info.body = resp.iter(self.chunk_size)
        return info

    def _body(self, resp: client.StreamingResponse, spares: list[dict[str, Any]],
              path_of: Callable[[dict[str, Any]], str], start: int, end: int, ts: str) -> Iterator[bytes]:
        """Stream ``[start, end)``; if the node fails midway, resume from another copy of the same version."""
        pos = start
        current: client.StreamingResponse | None = resp
        while current is not None:
            try:
                for chunk in current.iter(self.chunk_size):
                    pos += len(chunk)
                    yield chunk
                if pos >= end:
                    return
                raise ConnectionError(f"body ended at byte {pos} of {end}")
            except client.NodeError as err:
                current.close()
                LOG.info("Object read failed at byte %s (%s); resuming from another replica", pos, err)
                current = None
                while spares and current is None:
                    node = spares.pop(0)
                    try:
                        r = client.open_get(node, "GET", path_of(node), {"X-Backend-Range": f"{pos}-{end}"},
                                            conn_timeout=self.conn_timeout, node_timeout=self.node_timeout,
                                            signer=self.signer)
                    except client.NodeError:
                        continue
                    if r.status == 206 and r.headers.get("x-timestamp") == ts:
                        current = r
                    else:
                        r.close()
                if current is None:
                    raise

    def get_object(self, account: str, container: str, obj: str) -> ObjectInfo:
        return self._get("GET", account, container, obj)

    def get_object_range(self, account: str, container: str, obj: str, start: int, end: int) -> ObjectInfo:
        """Only bytes ``[start, end)`` travel from the node (it seeks); ``size`` is the whole object's."""
        return self._get("GET", account, container, obj, (start, end))

    def head_object(self, account: str, container: str, obj: str) -> ObjectInfo:
        return self._get("HEAD", account, container, obj)

    def post_object(self, account: str, container: str, obj: str, metadata: dict[str, str]) -> None:
        ring, part, path_of = self._object_loc(account, container, obj)
        meta, delete_at = self._split_meta(metadata)
        hdrs = {"X-Timestamp": self._timestamp(), "X-Backend-Metadata": client.encode_meta(meta)}
        if delete_at:
            hdrs["X-Delete-At"] = delete_at
        statuses = self._write(ring, part, "POST", path_of, lambda i, n: hdrs)
        self._judge(ring, statuses, obj)

    def delete_object(self, account: str, container: str, obj: str) -> None:
        container_headers = self._container_headers(account, container)
        ring, part, path_of = self._object_loc(account, container, obj)
        ts = self._timestamp()
        statuses = self._write(ring, part, "DELETE", path_of, lambda i, n: {"X-Timestamp": ts, **container_headers(i)})
        self._judge(ring, statuses, obj)

    def _judge(self, ring: Ring, statuses: list[int], obj: str) -> None:
        quorum = self._quorum(ring)
        if len(statuses) < quorum:
            raise ObjectUnavailable(f"Only {len(statuses)} of {ring.replicas} storage nodes answered")
        if any(200 <= s < 300 or s == 409 for s in statuses):  # 409: superseded by a newer write
            return
        if any(s == 404 for s in statuses):
            raise ObjectNotFound(f"Object {obj} not found")
        raise ObjectUnavailable(f"Storage nodes answered {sorted(statuses)}")

    # -- operations helpers ----------------------------------------------------------------
    def run_daemon(self, name: str) -> dict[str, Any]:
        """Run one pass of a node daemon on every server in the rings; returns stats per server."""
        servers: set[tuple[str, int]] = set()
        for r in ("account", "container", "object"):
            with contextlib.suppress(ObjectUnavailable):
                servers.update(self.ring(r).servers())
        out: dict[str, Any] = {}
        for ip, port in sorted(servers):
            node = {"ip": ip, "port": port}
            try:
                resp = client.request(node, "POST", f"/_admin/{name}", conn_timeout=self.conn_timeout,
                                      node_timeout=max(self.node_timeout, 300), signer=self.signer)
                out[f"{ip}:{port}"] = resp.json() if resp.status == 200 else {"error": resp.status}
            except client.NodeError as err:
                out[f"{ip}:{port}"] = {"error": str(err)}
        return out


def _listing_query(prefix: str, delimiter: str, marker: str, end_marker: str, limit: int, reverse: bool) -> str:
    from urllib.parse import urlencode

    params = {"limit": str(int(limit))}
    for k, v in (("prefix", prefix), ("delimiter", delimiter), ("marker", marker), ("end_marker", end_marker)):
        if v:
            params[k] = v
    if reverse:
        params["reverse"] = "true"
    return urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in params.items()})


__all__ = ["RingBackend"]
