"""The shared RPC reply slot (cumulo.messaging.waiter)."""

from __future__ import annotations

import threading

from cumulo.messaging.waiter import Waiter


def test_waiter_starts_empty():
    w = Waiter()
    assert w.reply is None
    assert not w.event.is_set()


def test_set_stores_reply_and_wakes_waiter():
    w = Waiter()
    t = threading.Thread(target=w.set, args=('{"ok": 1}',))
    t.start()
    assert w.event.wait(5)
    t.join()
    assert w.reply == '{"ok": 1}'


def test_waiter_is_used_by_the_transport_plugins():
    import importlib

    from cumulo import registry

    for scheme in ("inprocess", "rabbit"):
        module = importlib.import_module(registry.load_class("transport", scheme).__module__)
        assert module.Waiter is Waiter, scheme
