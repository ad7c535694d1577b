"""One replica's streamed object upload: chunked transfer encoding fed from a queue in its own thread.

An upload to ``replicas`` nodes runs one :class:`Putter` each, so a slow node
does not stall the others, and nothing is buffered whole. An aborted putter
closes its connection before the final chunk, so its node commits nothing.
"""

from __future__ import annotations

import contextlib
import http.client
import queue
import threading
from typing import Any

from cumulo_object_ring import client
from cumulo_object_ring.proxy.base import Node

_END, _ABORT = object(), object()


class Putter:
    """One replica's upload over a connection whose request headers are already sent.

    :ivar error: the first error the connection raised, None while it works.
    :ivar status: the node's answer once :meth:`finish` returned, None before or on failure.
    :ivar headers: the answer's headers, names lowercased.
    """

    def __init__(self, node: Node, conn: http.client.HTTPConnection) -> None:
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
        """Queue one chunk (blocks while the queue is full); dropped once the connection failed."""
        if self.error is None:
            self.q.put(chunk)

    def finish(self, timeout: float) -> None:
        """Send the last chunk and wait up to ``timeout`` seconds for the node's answer."""
        self.q.put(_END)
        self.thread.join(timeout)

    def abort(self) -> None:
        """Close the connection without the last chunk: the node discards the upload."""
        self.q.put(_ABORT)
