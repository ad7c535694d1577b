"""The RabbitMQ transport plugin (``rabbit://user:pass@host:5672/vhost``), on kombu and py-amqp.

Broker layout (``<ex>`` is ``[messaging] control_exchange``):

* RPC: topic exchange ``<ex>``; a queue ``<ex>.<topic>`` bound with key
  ``<topic>`` shared by the topic's servers (the broker round-robins it), and a
  queue ``<ex>.<topic>.<server>`` bound with ``<topic>.<server>`` per server.
  Both outlive their consumers, so casts to a server that is restarting wait
  for it; calls carry a per-message expiry equal to their timeout.
* Fanout: exchange ``<ex>_fanout_<topic>`` with an exclusive, auto-delete
  queue per running server.
* Replies: one queue ``<ex>.reply.<uuid>`` per transport (shared by every
  RPCClient of the process), matched to calls by correlation id. It is not
  exclusive (it expires after ``rabbit_transient_queue_ttl`` unused) so replies
  sent while the caller reconnects wait for it.
* Notifications: topic exchange ``<ex>_notifications``, routing key
  ``<topic>.<priority>``; a listener without pool has an exclusive queue, a
  pool shares the queue ``<ex>.notifications.<topic>.<pool>``.

Publishing goes through a pool of connections (``rabbit_pool_size``), each used
by one thread at a time, with publisher confirms: a publish returns once the
broker has the message, and a dead connection is detected on the publish itself
and retried on a fresh one (kombu ``Connection.ensure``) until the call's
deadline, or ``rpc_timeout`` for casts and notifications.

Consumers run one thread per server/listener with its own connection and
heartbeats; on any connection error they reconnect (``ensure_connection``
with back-off), re-declare their queues and carry on. At most ``workers``
messages are unacknowledged per server (the prefetch count). A message is
acknowledged when a worker is free and its dispatch starts, so a crash of the
process loses at most the requests it was executing; messages delivered but not
started are not acknowledged, and the broker redelivers them to another server
of the topic (or to the same server when it comes back). A publish whose
confirmation is lost with its connection is sent again, so in that rare case a
request can arrive twice.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import itertools
import logging
import os
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import kombu
from oslo_config import cfg

from cumulo import exception
from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.transport import MessagingTransport
from cumulo.messaging.transport import (
    Dispatcher,
    Listener,
    NotifyHandler,
    RPCHandler,
    mask_url,
)
from cumulo.messaging.waiter import Waiter
from cumulo_messaging_rabbit.opts import list_opts

LOG = logging.getLogger(__name__)

#: Seconds a consumer blocks reading before it checks heartbeats and stop requests.
POLL = 0.25
CONTENT_TYPE = "application/json"


class _GiveUp(Exception):
    """Publishing did not succeed before its deadline."""


class _Stopped(Exception):
    """The consumer was asked to stop while connecting."""


def to_kombu_url(url: str) -> str:
    """``rabbit://u:p@h1:5672,u:p@h2:5672/vhost`` -> kombu's ``amqp://...;amqp://...`` failover form."""
    parts = urllib.parse.urlsplit(url)
    hosts = [h for h in parts.netloc.split(",") if h] or ["guest:guest@localhost:5672"]
    return ";".join(urllib.parse.urlunsplit(("amqp", h, parts.path or "/", parts.query, "")) for h in hosts)


def _text(body: Any) -> str:
    return bytes(body).decode("utf-8") if isinstance(body, bytes | bytearray | memoryview) else str(body)


# -- publishing ---------------------------------------------------------------

class _Producer:
    """One connection + producer, used by one thread at a time."""

    def __init__(self, transport: RabbitTransport) -> None:
        self.transport = transport
        self.conn = transport.new_connection("producer", heartbeat=0, confirm=True)
        self.producer: kombu.Producer | None = None

    def publish(self, body: str, exchange: kombu.Exchange | str, routing_key: str, deadline: float,
                **props: Any) -> None:
        attempts = itertools.count()
        retry_max = CONF.messaging.rabbit_retry_interval_max

        def errback(exc: BaseException, interval: float) -> None:
            n = next(attempts)
            (LOG.warning if n == 0 else LOG.debug)(
                "Publishing to %s failed (%s); retrying", mask_url(self.transport.url), exc)
            if time.monotonic() + interval >= deadline:
                raise _GiveUp(str(exc)) from exc
            if not interval:  # channel-error retries come without a pause
                time.sleep(min(0.05 * n, 0.5))

        if self.producer is None:
            self.conn.ensure_connection(errback=errback, max_retries=None, interval_start=0,
                                        interval_step=0.5, interval_max=retry_max)
            self.producer = kombu.Producer(self.conn)
        declare = [exchange] if isinstance(exchange, kombu.Exchange) and exchange.name else []
        publish = self.conn.ensure(self.producer, self.producer.publish, errback=errback, max_retries=None,
                                   interval_start=0, interval_step=0.5, interval_max=retry_max)
        publish(body, exchange=exchange, routing_key=routing_key, content_type=CONTENT_TYPE,
                content_encoding="utf-8", declare=declare, retry=False, **props)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.release()


class _ProducerPool:
    def __init__(self, transport: RabbitTransport, size: int) -> None:
        self.transport = transport
        self._idle: list[_Producer] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)
        self.closed = False

    @contextlib.contextmanager
    def acquire(self, deadline: float) -> Iterator[_Producer]:
        if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise _GiveUp("no free publishing connection")
        try:
            with self._lock:
                producer = self._idle.pop() if self._idle else None
            if producer is None:
                producer = _Producer(self.transport)
            ok = False
            try:
                yield producer
                ok = True
            finally:
                with self._lock:
                    keep = ok and not self.closed
                    if keep:
                        self._idle.append(producer)
                if not keep:
                    producer.close()
        finally:
            self._slots.release()

    def idle(self) -> list[_Producer]:
        with self._lock:
            return list(self._idle)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            idle, self._idle = self._idle, []
        for producer in idle:
            producer.close()


# -- consuming ----------------------------------------------------------------

class _Consumer:
    """A thread consuming ``queues()`` on its own connection, reconnecting for ever until stopped.

    With a ``dispatcher``, messages are buffered (at most the prefetch count, i.e. the
    worker count, is unacknowledged) and each one is acknowledged and handed to
    ``work(message, body)`` when a worker is free; otherwise ``on_message(message)``
    runs in the consumer thread.
    """

    def __init__(self, transport: RabbitTransport, role: str, queues: Callable[[], list[kombu.Queue]], *,
                 on_message: Callable[[kombu.Message], None] | None = None,
                 dispatcher: Dispatcher | None = None,
                 work: Callable[[kombu.Message, str], None] | None = None, no_ack: bool = False) -> None:
        self.transport, self.role, self.queues = transport, role, queues
        self.dispatcher, self.work, self.no_ack = dispatcher, work, no_ack
        self.on_message = on_message if dispatcher is None else self._buffer
        self.prefetch = dispatcher.workers if dispatcher is not None else None
        self.ready = threading.Event()  # set once the queues have been declared
        self.connects = 0  # successful (re)connections, for tests and logs
        self.conn: kombu.Connection | None = None
        self._backlog: collections.deque[kombu.Message] = collections.deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"amqp-{role}", daemon=True)

    def start(self) -> _Consumer:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0, wait: bool = True) -> None:
        """Ask the thread to stop (it notices within POLL seconds, or about a second while
        reconnecting) and, with ``wait``, join it."""
        self._stop.set()
        if wait and self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise _Stopped()

    def _errback(self, exc: BaseException, interval: float) -> None:
        self._check_stop()
        LOG.warning("%s: cannot connect to %s (%s); retrying in %.1fs",
                    self.role, mask_url(self.transport.url), exc, interval)

    def _buffer(self, message: kombu.Message) -> None:
        self._backlog.append(message)
        self._pump()

    def _pump(self) -> None:
        """Acknowledge and dispatch buffered messages while workers are free."""
        dispatcher, work = self.dispatcher, self.work  # both given together (or neither)
        while self._backlog and dispatcher is not None and work is not None and dispatcher.wait_slot(0):
            message = self._backlog.popleft()
            try:
                message.ack()
            except BaseException:  # not acknowledged: the broker redelivers it
                dispatcher.release_slot()
                raise
            dispatcher.submit(work, message, _text(message.body), slot=True)

    def _run(self) -> None:
        delay = 0.0
        while not self._stop.is_set():
            conn = self.transport.new_connection(self.role, heartbeat=CONF.messaging.rabbit_heartbeat)
            try:
                conn.ensure_connection(errback=self._errback, max_retries=None, interval_start=0,
                                       interval_step=0.5, interval_max=CONF.messaging.rabbit_retry_interval_max,
                                       callback=self._check_stop)
                self.conn = conn
                channel = conn.channel()
                if self.prefetch:
                    channel.basic_qos(prefetch_size=0, prefetch_count=self.prefetch, a_global=False)
                consumer = kombu.Consumer(channel, queues=self.queues(), no_ack=self.no_ack,
                                          on_message=self.on_message)
                consumer.consume()
                self.connects += 1
                if self.connects > 1:
                    LOG.info("%s: reconnected to %s", self.role, mask_url(self.transport.url))
                self.ready.set()
                delay = 0.0
                while not self._stop.is_set():
                    try:
                        # Poll quickly only while messages wait for a free worker.
                        conn.drain_events(timeout=0.01 if self._backlog else POLL)
                    except TimeoutError:
                        pass
                    self._pump()
                    conn.heartbeat_check()
                with contextlib.suppress(Exception):
                    consumer.cancel()
            except _Stopped:
                pass
            except Exception as exc:
                if self._stop.is_set():
                    break
                LOG.warning("%s: connection to %s lost (%s: %s); reconnecting", self.role,
                            mask_url(self.transport.url), type(exc).__name__, exc)
                self._stop.wait(delay)
                delay = min(max(delay * 2, 0.25), CONF.messaging.rabbit_retry_interval_max)
            finally:
                # Buffered messages were never acknowledged; the broker redelivers them.
                self._backlog.clear()
                self.conn = None
                with contextlib.suppress(Exception):
                    conn.release()


class _ConsumerListener:
    def __init__(self, transport: RabbitTransport, consumer: _Consumer) -> None:
        self.transport, self.consumer = transport, consumer

    def stop(self) -> None:
        self.consumer.stop()
        self.transport._forget(self.consumer)


# -- the transport ------------------------------------------------------------

class RabbitTransport(MessagingTransport):
    """RPC and notifications through a RabbitMQ broker."""

    interface_version = "1.0"
    schemes = frozenset({"rabbit", "amqp", "pyamqp"})

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return list_opts()

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        url = ctx.url
        self.id = uuid.uuid4().hex[:12]
        self.kombu_url = to_kombu_url(url)
        opts = CONF.messaging
        self.exchange_name = opts.control_exchange
        self.durable = opts.rabbit_durable_queues
        self.rpc_exchange = kombu.Exchange(self.exchange_name, type="topic", durable=self.durable,
                                           auto_delete=False)
        self.notify_exchange = kombu.Exchange(f"{self.exchange_name}_notifications", type="topic",
                                              durable=self.durable, auto_delete=False)
        self.reply_queue = f"{self.exchange_name}.reply.{uuid.uuid4().hex}"
        self._pool = _ProducerPool(self, opts.rabbit_pool_size)
        self._lock = threading.Lock()
        self._waiters: dict[str, Waiter] = {}
        self._reply_consumer: _Consumer | None = None
        self._consumers: list[_Consumer] = []
        self._declared_queues: set[str] = set()
        self._declared_exchanges: set[str] = {self.rpc_exchange.name, self.notify_exchange.name}

    def new_connection(self, role: str, heartbeat: int = 0, confirm: bool = False) -> kombu.Connection:
        """A new (unconnected) kombu connection, named for ``rabbitmqctl list_connections``."""
        options: dict[str, Any] = {"client_properties": {
            "connection_name": f"cumulo:{CONF.host}:{os.getpid()}:{self.id}:{role}"}}
        if confirm:
            options["confirm_publish"] = True
        return kombu.Connection(self.kombu_url, heartbeat=heartbeat,
                                connect_timeout=CONF.messaging.rabbit_connect_timeout,
                                transport_options=options, failover_strategy="round-robin")

    # -- publishing ---------------------------------------------------------
    def _publish(self, exchange: kombu.Exchange | str, routing_key: str, body: str, deadline: float,
                 **props: Any) -> bool:
        if self.closed:
            raise RuntimeError(f"{self!r} is closed")
        try:
            with self._pool.acquire(deadline) as producer:
                producer.publish(body, exchange, routing_key, deadline, **props)
            return True
        except _GiveUp as err:
            LOG.error("Could not publish to %s on %s: %s", routing_key, mask_url(self.url), err)
            return False
        except Exception:  # not retryable (e.g. access refused): report it like an unreachable broker
            LOG.exception("Could not publish to %s on %s", routing_key, mask_url(self.url))
            return False

    def _publish_or_raise(self, exchange: kombu.Exchange | str, routing_key: str, body: str, **props: Any) -> None:
        deadline = time.monotonic() + CONF.messaging.rpc_timeout
        if not self._publish(exchange, routing_key, body, deadline, **props):
            raise exception.ServiceUnavailable(reason=f"The message broker at {mask_url(self.url)} is unreachable.")

    @property
    def _delivery_mode(self) -> int:
        return 2 if self.durable else 1

    # -- RPC ----------------------------------------------------------------
    def _fanout_exchange(self, topic: str) -> kombu.Exchange:
        return kombu.Exchange(f"{self.exchange_name}_fanout_{topic}", type="fanout", durable=False, auto_delete=False)

    def _start_reply_consumer(self) -> _Consumer:
        with self._lock:
            if self.closed:
                raise RuntimeError(f"{self!r} is closed")
            if self._reply_consumer is None:
                ttl = max(CONF.messaging.rabbit_transient_queue_ttl, CONF.messaging.rpc_timeout * 2)
                queue = kombu.Queue(self.reply_queue, exchange=kombu.Exchange(""), routing_key=self.reply_queue,
                                    durable=False, auto_delete=False, expires=ttl)
                self._reply_consumer = _Consumer(self, "reply", lambda: [queue], on_message=self._on_reply,
                                                 no_ack=True).start()
            return self._reply_consumer

    def _on_reply(self, message: kombu.Message) -> None:
        waiter = self._waiters.get(message.properties.get("correlation_id") or "")
        if waiter is not None:
            waiter.set(_text(message.body))

    def call(self, topic: str, server: str | None, body: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        if not self._start_reply_consumer().ready.wait(timeout):
            return None
        msg_id = uuid.uuid4().hex
        waiter = Waiter()
        self._waiters[msg_id] = waiter
        try:
            key = topic if server is None else f"{topic}.{server}"
            if not self._publish(self.rpc_exchange, key, body, deadline, reply_to=self.reply_queue,
                                 correlation_id=msg_id, expiration=timeout, delivery_mode=1):
                return None
            if waiter.event.wait(max(0.0, deadline - time.monotonic())):
                return waiter.reply
            return None
        finally:
            self._waiters.pop(msg_id, None)

    def cast(self, topic: str, server: str | None, body: str) -> None:
        key = topic if server is None else f"{topic}.{server}"
        self._publish_or_raise(self.rpc_exchange, key, body, delivery_mode=self._delivery_mode)

    def fanout(self, topic: str, body: str) -> None:
        self._publish_or_raise(self._fanout_exchange(topic), "", body, delivery_mode=1)

    def _send_reply(self, reply_to: str, correlation_id: str | None, body: str) -> None:
        ttl = CONF.messaging.rpc_timeout
        self._publish("", reply_to, body, time.monotonic() + ttl, correlation_id=correlation_id,
                      expiration=ttl, delivery_mode=1)

    def listen(self, topic: str, server: str, handler: RPCHandler, dispatcher: Dispatcher) -> Listener:
        shared, own = f"{self.exchange_name}.{topic}", f"{self.exchange_name}.{topic}.{server}"
        fanout = self._fanout_exchange(topic)
        with self._lock:
            self._declared_queues.update((shared, own))
            self._declared_exchanges.add(fanout.name)

        def queues() -> list[kombu.Queue]:
            return [
                kombu.Queue(shared, self.rpc_exchange, routing_key=topic, durable=self.durable, auto_delete=False),
                kombu.Queue(own, self.rpc_exchange, routing_key=f"{topic}.{server}", durable=self.durable,
                            auto_delete=False),
                kombu.Queue(f"{self.exchange_name}.{topic}.fanout.{server}.{uuid.uuid4().hex[:8]}", fanout,
                            exclusive=True, auto_delete=True),
            ]

        def work(message: kombu.Message, body: str) -> None:
            reply_to = message.properties.get("reply_to")
            reply = (functools.partial(self._send_reply, reply_to, message.properties.get("correlation_id"))
                     if reply_to else None)
            handler(body, reply)

        consumer = _Consumer(self, f"rpc-{topic}.{server}", queues, dispatcher=dispatcher, work=work)
        return self._run_consumer(consumer)

    def _run_consumer(self, consumer: _Consumer) -> Listener:
        with self._lock:
            if self.closed:
                raise RuntimeError(f"{self!r} is closed")
            self._consumers.append(consumer)
        consumer.start()
        # Wait (briefly) for the queues to exist so that what is sent right after start() is not lost.
        if not consumer.ready.wait(CONF.messaging.rabbit_connect_timeout):
            LOG.warning("%s: not connected to %s yet; it keeps trying in the background",
                        consumer.role, mask_url(self.url))
        return _ConsumerListener(self, consumer)

    def _forget(self, consumer: _Consumer) -> None:
        with self._lock:
            if consumer in self._consumers:
                self._consumers.remove(consumer)

    # -- notifications ------------------------------------------------------
    def notify(self, topic: str, priority: str, body: str) -> None:
        self._publish_or_raise(self.notify_exchange, f"{topic}.{priority}", body, delivery_mode=self._delivery_mode)

    def listen_notifications(self, topics: list[str], pool: str | None, handler: NotifyHandler,
                             dispatcher: Dispatcher) -> Listener:
        names = {t: (f"{self.exchange_name}.notifications.{t}.{pool}" if pool else None) for t in topics}
        with self._lock:
            self._declared_queues.update(n for n in names.values() if n)

        def queues() -> list[kombu.Queue]:
            out = []
            for topic, name in names.items():
                if name:
                    out.append(kombu.Queue(name, self.notify_exchange, routing_key=f"{topic}.*",
                                           durable=self.durable, auto_delete=False))
                else:
                    out.append(kombu.Queue(f"{self.exchange_name}.notifications.{topic}.{uuid.uuid4().hex[:12]}",
                                           self.notify_exchange, routing_key=f"{topic}.*", exclusive=True,
                                           auto_delete=True))
            return out

        def work(message: kombu.Message, body: str) -> None:
            handler(body)

        consumer = _Consumer(self, f"notify-{','.join(topics)}", queues, dispatcher=dispatcher, work=work)
        return self._run_consumer(consumer)

    # -- lifecycle ----------------------------------------------------------
    def consumers(self) -> list[_Consumer]:
        """Running consumers, the reply consumer included (for tests and diagnostics)."""
        with self._lock:
            return [*self._consumers, *([self._reply_consumer] if self._reply_consumer else [])]

    def close(self) -> None:
        with self._lock:
            self.closed = True
            consumers, self._consumers = self._consumers, []
            reply, self._reply_consumer = self._reply_consumer, None
        everyone = [*consumers, *([reply] if reply else [])]
        for consumer in everyone:
            consumer.stop(wait=False)
        for consumer in everyone:
            consumer.stop()
        self._pool.close()

    def delete_declared(self) -> None:
        """Delete the non-transient queues and exchanges this transport declared (for tests)."""
        conn = self.new_connection("cleanup")
        try:
            channel = conn.channel()
            for name in sorted(self._declared_queues | {self.reply_queue}):
                with contextlib.suppress(Exception):
                    channel.queue_delete(name)
            for name in sorted(self._declared_exchanges):
                with contextlib.suppress(Exception):
                    channel.exchange_delete(name)
        finally:
            with contextlib.suppress(Exception):
                conn.release()


def _socket_of(conn: kombu.Connection | None) -> socket.socket | None:
    try:
        return conn.connection.sock if conn is not None else None
    except Exception:
        return None


def drop_connections(transport: RabbitTransport) -> int:
    """Shut down the sockets of every open connection of ``transport`` (simulates a network drop)."""
    conns = [c.conn for c in transport.consumers()] + [p.conn for p in transport._pool.idle()]
    dropped = 0
    for conn in conns:
        sock = _socket_of(conn)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
                dropped += 1
    return dropped
