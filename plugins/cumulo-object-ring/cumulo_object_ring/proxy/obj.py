"""The object controller: object bodies streamed to and from the object ring's replicas.

Uploads stream in chunks to all replicas at once (one :class:`~.putter.Putter`
each), never buffered whole; an upload that fails or whose etag does not match
is aborted before its end, so no node commits it. Reads take the first current
copy and, if its node fails midway, resume from another replica of the same
version.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator

from cumulo.interfaces.object import ObjectEtagMismatch, ObjectInfo, ObjectNotFound, ObjectUnavailable
from cumulo_object_ring import client
from cumulo_object_ring.proxy.base import Node, PathOf, RingProxy
from cumulo_object_ring.proxy.container import ContainerController
from cumulo_object_ring.proxy.putter import Putter
from cumulo_object_ring.ring import Ring

LOG = logging.getLogger(__name__)


def _ci_pop(meta: dict[str, str], key: str) -> str | None:
    found = None
    for k in list(meta):
        if k.lower() == key.lower():
            found = meta.pop(k)
    return found


def _split_meta(metadata: dict[str, str]) -> tuple[dict[str, str], str | None]:
    """The metadata without ``X-Delete-At``, and that as whole seconds (None when absent or not a number)."""
    meta = dict(metadata)
    delete_at = _ci_pop(meta, "X-Delete-At")
    if delete_at is not None:
        try:
            delete_at = str(int(float(delete_at)))
        except ValueError:
            delete_at = None
    return meta, delete_at


class ObjectController:
    """Objects of the ring backend.

    :param proxy: access to the storage nodes.
    :param containers: checks that an object's container exists and names the container
        replica each object replica updates (writes and deletions).
    """

    def __init__(self, proxy: RingProxy, containers: ContainerController) -> None:
        self.proxy = proxy
        self.containers = containers

    def _loc(self, account: str, container: str, obj: str) -> tuple[Ring, int, PathOf]:
        ring = self.proxy.ring("object")
        part = ring.get_part(account, container, obj)
        return ring, part, lambda n: client.node_path(n["device"], part, account, container, obj)

    # -- writes ----------------------------------------------------------------------------
    def put(self, account: str, container: str, obj: str, chunks: Iterable[bytes],
            content_type: str, metadata: dict[str, str], etag: str | None = None) -> ObjectInfo:
        """See :meth:`cumulo.interfaces.object.ObjectBackend.put_object`."""
        container_headers = self.containers.update_headers(account, container)
        ring, part, path_of = self._loc(account, container, obj)
        meta, delete_at = _split_meta(metadata)
        ts = self.proxy.timestamp()
        base = {"X-Timestamp": ts, "Content-Type": content_type or "application/octet-stream",
                "X-Backend-Metadata": client.encode_meta(meta), "Transfer-Encoding": "chunked"}
        if delete_at:
            base["X-Delete-At"] = delete_at
        if etag:
            base["Etag"] = etag.strip('"').lower()
        putters = self._connect_putters(ring, part, path_of, lambda i: {**base, **container_headers(i)})
        quorum = self.proxy.quorum(ring)
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
            p.end()
        for p in putters:
            p.wait()
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

    def _connect_putters(self, ring: Ring, part: int, path_of: PathOf,
                         headers_of: Callable[[int], dict[str, str]]) -> list[Putter]:
        """A putter, request headers sent, for each reachable target; a node failing the headers is left out."""
        putters: list[Putter] = []
        signer = self.proxy.signer
        for i, (node, conn) in enumerate(self.proxy.connect_targets(ring, part)):
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
            putters.append(Putter(node, conn))
        return putters

    def post(self, account: str, container: str, obj: str, metadata: dict[str, str]) -> None:
        """See :meth:`cumulo.interfaces.object.ObjectBackend.post_object`."""
        ring, part, path_of = self._loc(account, container, obj)
        meta, delete_at = _split_meta(metadata)
        hdrs = {"X-Timestamp": self.proxy.timestamp(), "X-Backend-Metadata": client.encode_meta(meta)}
        if delete_at:
            hdrs["X-Delete-At"] = delete_at
        statuses = self.proxy.write(ring, part, "POST", path_of, lambda i, n: hdrs)
        self._judge(ring, statuses, obj)

    def delete(self, account: str, container: str, obj: str) -> None:
        """See :meth:`cumulo.interfaces.object.ObjectBackend.delete_object`."""
        container_headers = self.containers.update_headers(account, container)
        ring, part, path_of = self._loc(account, container, obj)
        ts = self.proxy.timestamp()
        statuses = self.proxy.write(ring, part, "DELETE", path_of,
                                    lambda i, n: {"X-Timestamp": ts, **container_headers(i)})
        self._judge(ring, statuses, obj)

    def _judge(self, ring: Ring, statuses: list[int], obj: str) -> None:
        quorum = self.proxy.quorum(ring)
        if len(statuses) < quorum:
            raise ObjectUnavailable(f"Only {len(statuses)} of {ring.replicas} storage nodes answered")
        if any(200 <= s < 300 or s == 409 for s in statuses):  # 409: superseded by a newer write
            return
        if any(s == 404 for s in statuses):
            raise ObjectNotFound(f"Object {obj} not found")
        raise ObjectUnavailable(f"Storage nodes answered {sorted(statuses)}")

    # -- reads -----------------------------------------------------------------------------
    def get(self, account: str, container: str, obj: str) -> ObjectInfo:
        """See :meth:`cumulo.interfaces.object.ObjectBackend.get_object`."""
        return self._get("GET", account, container, obj)

    def get_range(self, account: str, container: str, obj: str, start: int, end: int) -> ObjectInfo:
        """Only bytes ``[start, end)`` travel from the node (it seeks); ``size`` is the whole object's."""
        return self._get("GET", account, container, obj, (start, end))

    def head(self, account: str, container: str, obj: str) -> ObjectInfo:
        """See :meth:`cumulo.interfaces.object.ObjectBackend.head_object`."""
        return self._get("HEAD", account, container, obj)

    def _get(self, method: str, account: str, container: str, obj: str,
             byte_range: tuple[int, int] | None = None) -> ObjectInfo:
        ring, part, path_of = self._loc(account, container, obj)
        newest_gone = ""
        seen_404 = 0
        headers = {"X-Backend-Range": f"{byte_range[0]}-{byte_range[1]}"} if byte_range else {}
        nodes = self.proxy.read_nodes(ring, part)
        for i, node in enumerate(nodes):
            try:
                resp = self.proxy.open_get(node, method, path_of(node), headers)
            except client.NodeError as err:
                LOG.info("Storage node %s:%s failed %s: %s", node["ip"], node["port"], method, err)
                self.proxy.limiter.error(node)
                continue
            if resp.status in (200, 206):
                ts = resp.headers.get("x-timestamp", "")
                if newest_gone and ts < newest_gone:
                    resp.close()
                    continue
                info = self._info(obj, resp)
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

    @staticmethod
    def _info(obj: str, resp: client.StreamingResponse) -> ObjectInfo:
        h = resp.headers
        meta = client.decode_meta(h.get("x-backend-metadata"))
        if h.get("x-delete-at"):
            meta["X-Delete-At"] = h["x-delete-at"]
        size = int(h.get("x-backend-object-size") or h.get("content-length") or 0)
        return ObjectInfo(name=obj, size=size, etag=h.get("etag", ""),
                          last_modified=float(h.get("x-backend-last-modified") or h.get("x-timestamp") or 0),
                          content_type=h.get("content-type", "application/octet-stream"), metadata=meta)

    def _body(self, resp: client.StreamingResponse, spares: list[Node], path_of: PathOf,
              start: int, end: int, ts: str) -> Iterator[bytes]:
        """Stream ``[start, end)``; if the node fails midway, resume from another copy of the same version."""
        chunk_size = self.proxy.chunk_size
        pos = start
        current: client.StreamingResponse | None = resp
        while current is not None:
            try:
                for chunk in current.iter(chunk_size):
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
                        r = self.proxy.open_get(node, "GET", path_of(node), {"X-Backend-Range": f"{pos}-{end}"})
                    except client.NodeError:
                        continue
                    if r.status == 206 and r.headers.get("x-timestamp") == ts:
                        current = r
                    else:
                        r.close()
                if current is None:
                    raise
