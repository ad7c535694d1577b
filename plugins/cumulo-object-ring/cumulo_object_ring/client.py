"""Talking to storage nodes: paths, plain requests, streamed uploads (http.client, short timeouts).

Every request function takes ``signer``: the cluster's :class:`~cumulo_object_ring.signing.Signer`
(nodes refuse unsigned requests), or None to send one unsigned on purpose (tests).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
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
    conn = http.client.HTTPConnection(node["ip"], node["port"], timeout=conn_timeout)
    conn.connect()
    conn.sock.settimeout(node_timeout)
    return conn


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
    """
    conn = connect(node, conn_timeout, node_timeout)
    try:
        hdrs = signed(signer, method, path, query, headers)
        if isinstance(body, bytes):
            hdrs["Content-Length"] = str(len(body))
        elif body is not None:
            hdrs["Content-Length"] = str(os.fstat(body.fileno()).st_size - body.tell())
        conn.request(method, path + (("?" + query) if query else ""), body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def request_json(node: dict[str, Any], method: str, path: str, payload: Any = None, *, signer: Signer | None,
                 **kw: Any) -> Response:
    body = None if payload is None else json.dumps(payload).encode()
    return request(node, method, path, {"Content-Type": "application/json"}, body, signer=signer, **kw)


class StreamingResponse:
    """A response whose body is read in chunks; closes the connection when done."""

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> None:
        self.conn, self.resp = conn, resp
        self.status = resp.status
        self.headers = {k.lower(): v for k, v in resp.getheaders()}

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
        try:
            self.resp.close()
        finally:
            self.conn.close()


def open_get(node: dict[str, Any], method: str, path: str, headers: dict[str, str] | None = None,
             conn_timeout: float = 0.5, node_timeout: float = 10.0, *, signer: Signer | None) -> StreamingResponse:
    conn = connect(node, conn_timeout, node_timeout)
    try:
        conn.request(method, path, headers=signed(signer, method, path, "", headers))
        return StreamingResponse(conn, conn.getresponse())
    except BaseException:
        conn.close()
        raise
