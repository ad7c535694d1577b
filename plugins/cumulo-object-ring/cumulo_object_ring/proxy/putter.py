"""One replica's streamed object upload: chunked transfer encoding on a connection whose headers are sent.

The proxy feeds every replica's :class:`Putter` from the request's own thread:
each chunk is written to each connection in turn (a socket's send buffer takes
a chunk without waiting for the node), then :meth:`Putter.end` sends the last
chunk to every replica before :meth:`Putter.wait` reads any answer, so the nodes
write and fsync in parallel. This replaced a thread and a queue per replica,
which cost more CPU than the copying itself. A node that stops reading blocks
its ``send`` for at most ``node_timeout``, then is dropped. An aborted putter
closes its connection before the final chunk, so its node commits nothing.
"""

from __future__ import annotations

import contextlib
import http.client

from cumulo_object_ring import client
from cumulo_object_ring.proxy.base import Node


class Putter:
    """One replica's upload over a connection whose request headers are already sent.

    :ivar error: the first error the connection raised, None while it works.
    :ivar status: the node's answer once :meth:`wait` returned, None before or on failure.
    :ivar headers: the answer's headers, names lowercased.
    """

    def __init__(self, node: Node, conn: http.client.HTTPConnection) -> None:
        self.node, self.conn = node, conn
        self.error: BaseException | None = None
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self._closed = False

    def send(self, chunk: bytes) -> None:
        """Write one chunk; dropped once the connection failed."""
        if self.error is None:
            try:
                self.conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except client.NodeError as err:
                self.error = err

    def end(self) -> None:
        """Send the last chunk: the node may now commit and answer."""
        self.send(b"")

    def wait(self) -> None:
        """Read the node's answer (after :meth:`end`); the connection goes back to the pool."""
        if self._closed:
            return
        try:
            if self.error is None:
                resp = self.conn.getresponse()
                resp.read()
                self.status = resp.status
                self.headers = {k.lower(): v for k, v in resp.getheaders()}
                self._closed = True
                client.POOL.put(self.conn, resp)
                return
        except client.NodeError as err:
            self.error = self.error or err
        self.abort()

    def finish(self) -> None:
        """:meth:`end` and :meth:`wait` for a single replica."""
        self.end()
        self.wait()

    def abort(self) -> None:
        """Close the connection without the last chunk: the node discards the upload."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                self.conn.close()
