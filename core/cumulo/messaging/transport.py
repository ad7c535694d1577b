"""What a transport driver provides, and the worker pool servers dispatch on.

A transport moves opaque JSON strings; :mod:`cumulo.messaging.rpc` and
:mod:`cumulo.messaging.notify` build and read them. Addressing:

* ``(topic, None)``: one of the servers listening on ``topic`` (round-robin);
* ``(topic, server)``: only the server named ``server`` on ``topic``;
* fanout on ``topic``: every server listening on ``topic``;
* notifications on a topic: every listener, except that listeners sharing a
  ``pool`` name share one stream (each notification goes to one of them).
"""

from __future__ import annotations

import abc
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

LOG = logging.getLogger(__name__)

#: Sends a reply body back to the caller of an RPC call.
ReplyFn = Callable[[str], None]
#: Handles one RPC request body; ``reply`` is None for cast and fanout.
RPCHandler = Callable[[str, ReplyFn | None], None]
#: Handles one notification body.
NotifyHandler = Callable[[str], None]


class Listener(Protocol):
    def stop(self) -> None: ...


class Dispatcher:
    """A thread pool with a count of in-flight work.

    ``submit`` never blocks (the queue is unbounded); a transport that must bound
    what it has taken off the broker first waits for a free slot with
    :meth:`wait_slot` and passes ``slot=True`` so the slot is released when the
    work ends.
    """

    def __init__(self, workers: int, name: str) -> None:
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._slots = threading.BoundedSemaphore(workers)
        self._cond = threading.Condition()
        self._inflight = 0

    def wait_slot(self, timeout: float) -> bool:
        return self._slots.acquire(timeout=timeout)

    def release_slot(self) -> None:
        self._slots.release()

    def submit(self, fn: Callable[..., Any], *args: Any, slot: bool = False) -> None:
        with self._cond:
            self._inflight += 1
        try:
            self._pool.submit(self._run, fn, args, slot)
        except RuntimeError:  # pool shut down
            self._done(slot)
            raise

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...], slot: bool) -> None:
        try:
            fn(*args)
        except Exception:
            LOG.exception("Unhandled error in messaging worker")
        finally:
            self._done(slot)

    def _done(self, slot: bool) -> None:
        if slot:
            self._slots.release()
        with self._cond:
            self._inflight -= 1
            if self._inflight == 0:
                self._cond.notify_all()

    @property
    def inflight(self) -> int:
        return self._inflight

    def drain(self, timeout: float) -> bool:
        """Wait until no work is queued or running; False if ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._inflight == 0, timeout=timeout)

    def shutdown(self) -> None:
        """Stop accepting work; queued work still runs."""
        self._pool.shutdown(wait=False)


class Transport(abc.ABC):
    """A message bus. One per URL per process (see :func:`cumulo.messaging.get_transport`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.closed = False

    @abc.abstractmethod
    def call(self, topic: str, server: str | None, body: str, timeout: float) -> str | None:
        """Send a request and wait for its reply body; None if none came within ``timeout``."""

    @abc.abstractmethod
    def cast(self, topic: str, server: str | None, body: str) -> None:
        """Send a request to one server; no reply."""

    @abc.abstractmethod
    def fanout(self, topic: str, body: str) -> None:
        """Send a request to every server listening on ``topic``; no reply."""

    @abc.abstractmethod
    def listen(self, topic: str, server: str, handler: RPCHandler, dispatcher: Dispatcher) -> Listener:
        """Start receiving requests for ``topic`` (shared), ``topic.server`` and the topic's fanout."""

    @abc.abstractmethod
    def notify(self, topic: str, priority: str, body: str) -> None:
        """Publish one notification."""

    @abc.abstractmethod
    def listen_notifications(self, topics: list[str], pool: str | None, handler: NotifyHandler,
                             dispatcher: Dispatcher) -> Listener:
        """Start receiving notifications on ``topics``."""

    def close(self) -> None:
        """Stop every listener and release connections; the transport is unusable afterwards."""
        self.closed = True

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {mask_url(self.url)}>"


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for logs)."""
    return re.sub(r"(://[^:/@,;]*:)[^@,;]*@", r"\1***@", re.sub(r"([,;][^:/@,;]*:)[^@,;]*@", r"\1***@", url))
