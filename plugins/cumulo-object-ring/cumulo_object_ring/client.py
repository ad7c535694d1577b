"""Talking to storage nodes: paths, plain requests, streamed uploads (http.client, short timeouts).

Every request function takes ``signer``: the cluster's :class:`~cumulo_object_ring.signing.Signer`
(nodes refuse unsigned requests), or None to send one unsigned on purpose (tests).

Connections are kept alive and reused through :data:`POOL` (see :class:`ConnectionPool`):
opening a TCP connection per backend request cost the proxy a fifth of its time.
"""

from __future__ import annotations

import collections
import http.client
import json
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO
from urllib.parse import quote

from cumulo_object_ring.signing import Signer

NodeError = (OSError, http.client.HTTPException, socket.timeout)


def node_path(device: str, part: int | str, account: str | None = None, container: str | None = None,
              obj: str | None = None) -> str:
    """``/<device>/<part>/<account>[/<container>[/<object>]]``, every segment percent-quoted (slashes too)."""
    segs = [device, str(part)] + [s for s in (account, container, obj) if s is not None]
    return "/" + "/".join(quote(s.encode("utf-8", "surrogatepass"), safe="") for s in segs)


def encode_meta(meta: dict[str, Any]) -> str:
    """Metadata in one ASCII header value."""
    return json.dumps(meta, ensure_ascii=True, separators=(",", ":"))


def decode_meta(value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    try:
        data = json.loads(value)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class ErrorLimiter:
    """Remember nodes that refused connections, so the proxy skips them for a while."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._until: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()

    def limited(self, node: dict[str, Any]) -> bool:
        until = self._until.get((node["ip"], node["port"]))
        return until is not None and until > time.monotonic()

    def error(self, node: dict[str, Any]) -> None:
        if self.interval > 0:
            with self._lock:
                self._until[(node["ip"], node["port"])] = time.monotonic() + self.interval

    def ok(self, node: dict[str, Any]) -> None:
        self._until.pop((node["ip"], node["port"]), None)


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body or b"null")


def connect(node: dict[str, Any], conn_timeout: float, node_timeout: float) -> http.client.HTTPConnection:
    """A new connection (never a pooled one): for requests whose connection must not be shared."""
    conn = http.client.HTTPConnection(node["ip"], node["port"], timeout=conn_timeout)
    conn.connect()
    conn.sock.settimeout(node_timeout)
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle connection was closed by its server (readable while idle means EOF or junk)."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class ConnectionPool:
    """Idle keep-alive connections to storage nodes, by ``(ip, port)``.

    Hand-written rather than urllib3's pool: uploads need http.client's
    ``putrequest``/``send`` to stream chunked bodies to several replicas from
    one thread, which urllib3's pool does not expose. A connection goes back
    only after its response was read to the end and the server did not ask to
    close; one idle longer than ``max_idle_age`` (the nodes close theirs after
    60 s) or closed by its server is dropped, not reused.

    :param max_idle: idle connections kept per node.
    :param max_idle_age: seconds an idle connection may wait to be reused.
    """

    def __init__(self, max_idle: int = 64, max_idle_age: float = 30.0) -> None:
        self.max_idle, self.max_idle_age = max_idle, max_idle_age
        self._idle: dict[tuple[str, int], collections.deque[tuple[float, http.client.HTTPConnection]]] = {}
        self._lock = threading.Lock()
        #: Connections opened, and requests served by a reused one (what the tests count).
        self.opened = 0
        self.reused = 0

    def get(self, node: dict[str, Any], conn_timeout: float,
            node_timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection to ``node`` or a new one; and whether it was reused.

        :raises NodeError: a new connection could not be made.
        """
        key = (node["ip"], node["port"])
        now = time.monotonic()
        while True:
            with self._lock:
                idle = self._idle.get(key)
                item = idle.pop() if idle else None
            if item is None:
                break
            since, conn = item
            if now - since > self.max_idle_age or _dropped(conn):
                conn.close()
                continue
            assert conn.sock is not None
            conn.sock.settimeout(node_timeout)
            with self._lock:
                self.reused += 1
            return conn, True
        conn = connect(node, conn_timeout, node_timeout)
        with self._lock:
            self.opened += 1
        return conn, False

    def put(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse | None) -> None:
        """Give back ``conn`` after ``resp`` was read to its end; closed instead if it cannot be reused."""
        if conn.sock is None or resp is None or resp.will_close or not resp.isclosed():
            conn.close()
            return
        key = (conn.host, conn.port)
        with self._lock:
            idle = self._idle.setdefault(key, collections.deque())
            if len(idle) < self.max_idle:
                idle.append((time.monotonic(), conn))
                return
        conn.close()

    def drop(self, ip: str, port: int) -> None:
        """Close the idle connections to one server (before stopping it: so the port is not left in
        TIME_WAIT by connections the server would close itself)."""
        with self._lock:
            idle = self._idle.pop((ip, port), None)
        for _, conn in idle or ():
            conn.close()

    def clear(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for _, conn in conns:
                conn.close()


#: The process's pool: the proxy's and a node's connections to storage nodes.
POOL = ConnectionPool()


def _rewind(body: bytes | BinaryIO | None) -> Callable[[], bool]:
    """How to make ``body`` sendable again after a failed attempt (False: it cannot be)."""
    if body is None or isinstance(body, bytes):
        return lambda: True
    try:
        pos = body.tell()
    except (OSError, ValueError):
        return lambda: False

    def rewind() -> bool:
        try:
            body.seek(pos)
        except (OSError, ValueError):
            return False
        return True

    return rewind


def signed(signer: Signer | None, method: str, path: str, query: str = "",
           headers: dict[str, str] | None = None) -> dict[str, str]:
    """``headers`` with the signature headers added (unchanged without a signer)."""
    if signer is None:
        return dict(headers or {})
    return signer.sign(method, path, query, headers)


def request(node: dict[str, Any], method: str, path: str, headers: dict[str, str] | None = None,
            body: bytes | BinaryIO | None = None, query: str = "", conn_timeout: float = 0.5,
            node_timeout: float = 10.0, *, signer: Signer | None) -> Response:
    """One request, whole response read. Raises one of :data:`NodeError` when the node cannot be reached.

    ``body`` may be an open file: it is streamed (its size from ``fstat``), not read into memory.
    The connection comes from :data:`POOL`; when a reused one fails before any answer (its
    server closed it meanwhile), the request is sent once more on a new connection.
    """
    hdrs = signed(signer, method, path, query, headers)
    if isinstance(body, bytes):
        hdrs["Content-Length"] = str(len(body))
    elif body is not None:
        hdrs["Content-Length"] = str(os.fstat(body.fileno()).st_size - body.tell())
    rewind = _rewind(body)
    while True:
        conn, reused = POOL.get(node, conn_timeout, node_timeout)
        try:
            conn.request(method, path + (("?" + query) if query else ""), body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            conn.close()
            if reused and rewind():
                continue
            raise
        except BaseException:
            conn.close()
            raise
        POOL.put(conn, resp)
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)


def request_json(node: dict[str, Any], method: str, path: str, payload: Any = None, *, signer: Signer | None,
                 **kw: Any) -> Response:
    body = None if payload is None else json.dumps(payload).encode()
    return request(node, method, path, {"Content-Type": "application/json"}, body, signer=signer, **kw)


class StreamingResponse:
    """A response whose body is read in chunks; its connection goes back to :data:`POOL` when read to the end."""

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> None:
        self.conn, self.resp = conn, resp
        self.status = resp.status
        self.headers = {k.lower(): v for k, v in resp.getheaders()}
        self._done = False

    def iter(self, chunk_size: int) -> Iterator[bytes]:
        try:
            while True:
                chunk = self.resp.read(chunk_size)
                if not chunk:
                    return
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        """Release the connection: reused if the body was read whole, closed otherwise."""
        if self._done:
            return
        self._done = True
        if not self.resp.isclosed() and self.resp.length == 0:
            self.resp.read()  # a HEAD or an empty body: nothing left, so the connection is clean
        if self.resp.isclosed():
            POOL.put(self.conn, self.resp)
        else:
            self.resp.close()
            self.conn.close()


def open_get(node: dict[str, Any], method: str, path: str, headers: dict[str, str] | None = None,
             conn_timeout: float = 0.5, node_timeout: float = 10.0, *, signer: Signer | None) -> StreamingResponse:
    """A GET or HEAD whose body is read later; one retry on a new connection when a reused one was stale."""
    hdrs = signed(signer, method, path, "", headers)
    while True:
        conn, reused = POOL.get(node, conn_timeout, node_timeout)
        try:
            conn.request(method, path, headers=hdrs)
            return StreamingResponse(conn, conn.getresponse())
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            conn.close()
            if reused:
                continue
            raise
        except BaseException:
            conn.close()
            raise
