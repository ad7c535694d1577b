"""Notifications over the in-process transport."""

import datetime
import queue
import threading
import time

import pytest

from cumulo import messaging
from cumulo.conf import CONF
from cumulo.context import RequestContext


def collect(transport, started, **kwargs):
    q = queue.Queue()
    listener = messaging.NotificationListener(transport, handler=q.put, **kwargs).start()
    started.append(listener)
    return q


def test_info_and_error_reach_a_listener_with_every_field(transport, servers):
    events = collect(transport, servers, topics=["notifications"])
    notifier = messaging.Notifier(transport, "compute.h1", topics=["notifications"])
    ctx = RequestContext(user_id="u1", project_id="p1")
    notifier.info(ctx, "compute.instance.create.end", {"id": "i1", "at": datetime.date(2026, 1, 1)})
    notifier.error(None, "compute.instance.create.error", {"id": "i2"})
    first, second = events.get(timeout=5), events.get(timeout=5)
    assert first["event_type"] == "compute.instance.create.end" and first["priority"] == "INFO"
    assert first["payload"] == {"id": "i1", "at": "2026-01-01"}
    assert first["publisher_id"] == "compute.h1"
    assert first["context"]["user_id"] == "u1" and first["context"]["project_id"] == "p1"
    assert datetime.datetime.fromisoformat(first["timestamp"]).tzinfo is not None
    assert second["priority"] == "ERROR" and second["context"] is None
    assert first["message_id"] != second["message_id"]


def test_default_topics_come_from_config(transport, servers):
    CONF.set_override("notification_topics", ["audit", "billing"], group="messaging")
    try:
        audit = collect(transport, servers, topics=["audit"])
        billing = collect(transport, servers)  # listens on the configured topics
        messaging.Notifier(transport, "p").info(None, "e", {})
        assert audit.get(timeout=5)["event_type"] == "e"
        assert [billing.get(timeout=5)["event_type"] for _ in range(2)] == ["e", "e"]
    finally:
        CONF.clear_override("notification_topics", group="messaging")


def test_every_listener_gets_every_event_but_a_pool_shares_them(transport, servers):
    a = collect(transport, servers, topics=["n"])
    b = collect(transport, servers, topics=["n"])
    p1 = collect(transport, servers, topics=["n"], pool="workers")
    p2 = collect(transport, servers, topics=["n"], pool="workers")
    notifier = messaging.Notifier(transport, "p", topics=["n"])
    for i in range(10):
        notifier.info(None, "e", {"i": i})
    for q in (a, b):
        assert sorted(q.get(timeout=5)["payload"]["i"] for _ in range(10)) == list(range(10))
    deadline = time.monotonic() + 5
    while p1.qsize() + p2.qsize() < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    pooled = [p1.get_nowait()["payload"]["i"] for _ in range(p1.qsize())]
    pooled += [p2.get_nowait()["payload"]["i"] for _ in range(p2.qsize())]
    assert sorted(pooled) == list(range(10))


def test_events_keep_their_order_with_one_worker(transport, servers):
    events = collect(transport, servers, topics=["n"])
    notifier = messaging.Notifier(transport, "p", topics=["n"])
    for i in range(50):
        notifier.info(None, "e", i)
    assert [events.get(timeout=5)["payload"] for _ in range(50)] == list(range(50))


def test_handler_errors_do_not_stop_the_listener(transport, servers, caplog):
    seen = []
    done = threading.Event()

    def handler(event):
        seen.append(event["payload"])
        if event["payload"] == 0:
            raise RuntimeError("handler broke")
        done.set()

    servers.append(messaging.NotificationListener(transport, ["n"], handler).start())
    notifier = messaging.Notifier(transport, "p", topics=["n"])
    notifier.info(None, "e", 0)
    notifier.info(None, "e", 1)
    assert done.wait(5) and seen == [0, 1]
    assert "handler broke" in caplog.text


def test_unserialisable_payload_fails_at_the_notifier(transport, servers):
    events = collect(transport, servers, topics=["n"])
    with pytest.raises(messaging.SerializationError):
        messaging.Notifier(transport, "p", topics=["n"]).info(None, "e", {"x": object()})
    with pytest.raises(ValueError):
        messaging.Notifier(transport, "p", topics=["n"]).notify(None, "e", {}, priority="loud")
    assert events.empty()


def test_stopped_listener_receives_nothing(transport):
    events = queue.Queue()
    listener = messaging.NotificationListener(transport, ["n"], events.put).start()
    listener.stop()
    listener.stop()
    messaging.Notifier(transport, "p", topics=["n"]).info(None, "e", {})
    time.sleep(0.05)
    assert events.empty()
