"""Notifications: fire-and-forget events about resources (``compute.instance.create.end``...).

An event, as a listener's handler receives it::

    {"message_id": "<uuid>", "publisher_id": "compute.host1", "event_type": "...",
     "priority": "INFO", "payload": {...}, "timestamp": "2026-01-01T00:00:00.000000+00:00",
     "context": {...} | null}
"""

from __future__ import annotations

import datetime
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from cumulo.conf import CONF
from cumulo.context import RequestContext
from cumulo.messaging.rpc import _context_dict
from cumulo.messaging.serializer import dumps, loads
from cumulo.messaging.transport import Dispatcher, Listener, Transport

LOG = logging.getLogger(__name__)

PRIORITIES = ("DEBUG", "INFO", "AUDIT", "WARN", "ERROR", "CRITICAL", "SAMPLE")


class Notifier:
    """Publishes events to ``topics`` (default ``[messaging] notification_topics``).

    An unserialisable payload raises :class:`~cumulo.messaging.serializer.SerializationError`
    at once; a broker that stays unreachable raises
    :class:`~cumulo.exception.ServiceUnavailable` after the transport's retries.
    """

    def __init__(self, transport: Transport, publisher_id: str, topics: Iterable[str] | None = None) -> None:
        self.transport, self.publisher_id = transport, publisher_id
        self.topics = list(topics) if topics is not None else None

    def notify(self, ctx: RequestContext | None, event_type: str, payload: Any, priority: str = "INFO") -> None:
        priority = priority.upper()
        if priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}")
        event = {
            "message_id": str(uuid.uuid4()),
            "publisher_id": self.publisher_id,
            "event_type": event_type,
            "priority": priority,
            "payload": payload,
            "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
            "context": _context_dict(ctx),
        }
        body = dumps(event, what=f"payload of {event_type}")
        topics = self.topics if self.topics is not None else list(CONF.messaging.notification_topics or [])
        for topic in topics:
            self.transport.notify(topic, priority.lower(), body)

    def debug(self, ctx: RequestContext | None, event_type: str, payload: Any) -> None:
        self.notify(ctx, event_type, payload, "DEBUG")

    def info(self, ctx: RequestContext | None, event_type: str, payload: Any) -> None:
        self.notify(ctx, event_type, payload, "INFO")

    def audit(self, ctx: RequestContext | None, event_type: str, payload: Any) -> None:
        self.notify(ctx, event_type, payload, "AUDIT")

    def warn(self, ctx: RequestContext | None, event_type: str, payload: Any) -> None:
        self.notify(ctx, event_type, payload, "WARN")

    warning = warn

    def error(self, ctx: RequestContext | None, event_type: str, payload: Any) -> None:
        self.notify(ctx, event_type, payload, "ERROR")

    def critical(self, ctx: RequestContext | None, event_type: str, payload: Any) -> None:
        self.notify(ctx, event_type, payload, "CRITICAL")


class NotificationListener:
    """Calls ``handler(event_dict)`` for each notification on ``topics``.

    Without ``pool`` every listener receives every notification sent while it
    runs. Listeners sharing a ``pool`` name share one stream: each event goes to
    one of them, and on RabbitMQ the stream is a queue that keeps events while no
    member runs. ``workers`` threads run the handler (1 keeps events in order);
    handler exceptions are logged and the event is not redelivered.
    """

    def __init__(self, transport: Transport, topics: Iterable[str] | None = None,
                 handler: Callable[[dict[str, Any]], Any] | None = None, pool: str | None = None,
                 workers: int = 1) -> None:
        if handler is None:
            raise ValueError("handler is required")
        self.transport, self.handler, self.pool, self.workers = transport, handler, pool, workers
        self.topics = list(topics) if topics is not None else list(CONF.messaging.notification_topics)
        self._lock = threading.Lock()
        self._listener: Listener | None = None
        self._dispatcher: Dispatcher | None = None

    def start(self) -> NotificationListener:
        with self._lock:
            if self._listener is None:
                dispatcher = Dispatcher(self.workers, "notify")
                try:
                    self._listener = self.transport.listen_notifications(self.topics, self.pool, self._handle,
                                                                         dispatcher)
                except BaseException:
                    dispatcher.shutdown()
                    raise
                self._dispatcher = dispatcher
        return self

    def stop(self, timeout: float | None = None) -> None:
        with self._lock:
            listener, dispatcher = self._listener, self._dispatcher
            self._listener = self._dispatcher = None
        if listener is None or dispatcher is None:
            return
        listener.stop()
        dispatcher.drain(CONF.messaging.server_stop_timeout if timeout is None else timeout)
        dispatcher.shutdown()

    def _handle(self, body: str) -> None:
        try:
            event = loads(body)
        except ValueError:
            LOG.error("Dropped an undecodable notification: %.200r", body)
            return
        try:
            self.handler(event)
        except Exception:
            LOG.exception("Notification handler failed on %s", event.get("event_type"))
