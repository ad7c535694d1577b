"""The in-process transport (``inprocess://``): the all-in-one default.

Requests go straight into the receiving server's thread pool; a call waits on
an Event the reply sets. Bodies are already JSON strings (the RPC layer
encodes), so the behaviour matches the broker transport: unserialisable
values fail at the sender, and the receiver gets fresh objects.

A request to a target with no server yet is held (at most
:data:`MAX_PENDING` per target, oldest dropped first) and delivered when a
server for it starts; a held call is dropped once its timeout has passed.
Fanouts and notifications reach only the listeners running when they are sent.
Each distinct URL (``inprocess://``, ``inprocess://other``) is its own bus.

A ``transport`` plugin like any other (:mod:`cumulo.interfaces.transport`), built as ``cls(ctx)`` with
``ctx.url`` the URL; the kernel's only knowledge of it is the default ``[messaging] transport_url``.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
from typing import Any

from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.transport import MessagingTransport
from cumulo.messaging.transport import Dispatcher, Listener, NotifyHandler, ReplyFn, RPCHandler
from cumulo.messaging.waiter import Waiter

LOG = logging.getLogger(__name__)

MAX_PENDING = 10000


class _Envelope:
    __slots__ = ("body", "reply", "expires")

    def __init__(self, body: str, reply: ReplyFn | None, expires: float | None) -> None:
        self.body, self.reply, self.expires = body, reply, expires

    def expired(self) -> bool:
        return self.expires is not None and time.monotonic() > self.expires


class _RPCListener:
    def __init__(self, transport: InProcessTransport, topic: str, server: str, handler: RPCHandler,
                 dispatcher: Dispatcher) -> None:
        self.transport, self.topic, self.server = transport, topic, server
        self.handler, self.dispatcher = handler, dispatcher
        self.keys = (("topic", topic), ("server", topic, server))

    def deliver(self, env: _Envelope) -> None:
        self.dispatcher.submit(self._run, env)

    def _run(self, env: _Envelope) -> None:
        if env.expired():  # the caller has given up already
            return
        self.handler(env.body, env.reply)

    def stop(self) -> None:
        self.transport._unregister(self)


class _NotifyListener:
    def __init__(self, transport: InProcessTransport, topics: list[str], pool: str | None,
                 handler: NotifyHandler, dispatcher: Dispatcher) -> None:
        self.transport, self.topics, self.handler, self.dispatcher = transport, list(topics), handler, dispatcher
        self.pool: Any = pool if pool is not None else object()  # no pool: a group of its own

    def deliver(self, body: str) -> None:
        self.dispatcher.submit(self.handler, body)

    def stop(self) -> None:
        self.transport._unregister_notify(self)


class InProcessTransport(MessagingTransport):
    """Threads in one process talking through in-memory queues."""

    interface_version = "1.0"
    schemes = frozenset({"inprocess"})

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        self._lock = threading.Lock()
        self._targets: dict[tuple[str, ...], list[_RPCListener]] = {}
        self._rr: dict[tuple[str, ...], itertools.count[int]] = {}
        self._pending: dict[tuple[str, ...], collections.deque[_Envelope]] = {}
        self._notify: dict[str, dict[Any, list[_NotifyListener]]] = {}
        self._notify_rr: dict[tuple[str, Any], itertools.count[int]] = {}

    # -- RPC ---------------------------------------------------------------
    @staticmethod
    def _key(topic: str, server: str | None) -> tuple[str, ...]:
        return ("topic", topic) if server is None else ("server", topic, server)

    def _route(self, key: tuple[str, ...], env: _Envelope) -> None:
        with self._lock:
            if self.closed:
                raise RuntimeError(f"{self!r} is closed")
            targets = self._targets.get(key)
            if targets:
                targets[next(self._rr[key]) % len(targets)].deliver(env)
                return
            queue = self._pending.setdefault(key, collections.deque())
            if len(queue) >= MAX_PENDING:
                # Drop what has expired first, then the oldest.
                alive = [e for e in queue if not e.expired()]
                queue.clear()
                queue.extend(alive[-(MAX_PENDING - 1):])
                if len(alive) >= MAX_PENDING:
                    LOG.warning("No server for %s: dropped the oldest held message", key)
            queue.append(env)

    def call(self, topic: str, server: str | None, body: str, timeout: float) -> str | None:
        waiter = Waiter()
        self._route(self._key(topic, server), _Envelope(body, waiter.set, time.monotonic() + timeout))
        if waiter.event.wait(timeout):
            return waiter.reply
        return None

    def cast(self, topic: str, server: str | None, body: str) -> None:
        self._route(self._key(topic, server), _Envelope(body, None, None))

    def fanout(self, topic: str, body: str) -> None:
        with self._lock:
            if self.closed:
                raise RuntimeError(f"{self!r} is closed")
            for listener in self._targets.get(("topic", topic), ()):
                listener.deliver(_Envelope(body, None, None))

    def listen(self, topic: str, server: str, handler: RPCHandler, dispatcher: Dispatcher) -> Listener:
        listener = _RPCListener(self, topic, server, handler, dispatcher)
        with self._lock:
            if self.closed:
                raise RuntimeError(f"{self!r} is closed")
            for key in listener.keys:
                self._targets.setdefault(key, []).append(listener)
                self._rr.setdefault(key, itertools.count())
                for env in self._pending.pop(key, ()):
                    if not env.expired():
                        listener.deliver(env)
        return listener

    def _unregister(self, listener: _RPCListener) -> None:
        with self._lock:
            for key in listener.keys:
                targets = self._targets.get(key)
                if targets and listener in targets:
                    targets.remove(listener)
                    if not targets:
                        del self._targets[key]

    # -- notifications -----------------------------------------------------
    def notify(self, topic: str, priority: str, body: str) -> None:
        with self._lock:
            if self.closed:
                raise RuntimeError(f"{self!r} is closed")
            for pool, listeners in self._notify.get(topic, {}).items():
                if listeners:
                    rr = self._notify_rr.setdefault((topic, pool), itertools.count())
                    listeners[next(rr) % len(listeners)].deliver(body)

    def listen_notifications(self, topics: list[str], pool: str | None, handler: NotifyHandler,
                             dispatcher: Dispatcher) -> Listener:
        listener = _NotifyListener(self, topics, pool, handler, dispatcher)
        with self._lock:
            if self.closed:
                raise RuntimeError(f"{self!r} is closed")
            for topic in listener.topics:
                self._notify.setdefault(topic, {}).setdefault(listener.pool, []).append(listener)
        return listener

    def _unregister_notify(self, listener: _NotifyListener) -> None:
        with self._lock:
            for topic in listener.topics:
                pools = self._notify.get(topic, {})
                group = pools.get(listener.pool)
                if group and listener in group:
                    group.remove(listener)
                    if not group:
                        del pools[listener.pool]
                        self._notify_rr.pop((topic, listener.pool), None)

    def close(self) -> None:
        """Detach every server and listener and drop held messages."""
        with self._lock:
            self.closed = True
            rpc = {id(listener): listener for group in self._targets.values() for listener in group}
            notify = {id(listener): listener for pools in self._notify.values()
                      for group in pools.values() for listener in group}
            self._targets.clear()
            self._pending.clear()
            self._notify.clear()
        listeners: list[_RPCListener | _NotifyListener] = [*rpc.values(), *notify.values()]
        for listener in listeners:
            listener.dispatcher.shutdown()
