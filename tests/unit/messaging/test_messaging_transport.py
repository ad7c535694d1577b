"""Transport selection and caching, the serializer, and URL handling."""

import datetime
import uuid

import pytest

from cumulo import exception, messaging, registry
from cumulo.conf import CONF
from cumulo.messaging import serializer
from cumulo.messaging.transport import mask_url


@pytest.fixture(autouse=True)
def _reset():
    yield
    messaging.reset()


def test_default_url_comes_from_config_and_is_cached():
    t = messaging.get_transport()
    assert isinstance(t, registry.load_class("transport", "inprocess"))  # the cumulo-messaging-inprocess plugin
    assert t.url == CONF.messaging.transport_url == "inprocess://"
    assert messaging.get_transport() is t and messaging.get_transport("inprocess://") is t
    assert messaging.get_transport("inprocess://other") is not t


def test_reset_closes_and_forgets(servers):
    t = messaging.get_transport("inprocess://r")

    class E:
        def ping(self, ctx):
            return "pong"

    s = messaging.RPCServer(t, "t", server="h", endpoints=[E()]).start()
    servers.append(s)
    assert messaging.RPCClient(t, "t").call(None, "ping") == "pong"
    messaging.reset()
    assert t.closed
    with pytest.raises(RuntimeError):  # a stale transport fails fast instead of timing out
        messaging.RPCClient(t, "t").call(None, "ping", timeout=5)
    t2 = messaging.get_transport("inprocess://r")
    assert t2 is not t
    with pytest.raises(exception.MessagingTimeout):  # the old server is not on the new bus
        messaging.RPCClient(t2, "t").call(None, "ping", timeout=0.05)


def test_unknown_scheme_is_a_config_error():
    with pytest.raises(exception.ConfigError) as err:
        messaging.get_transport("zmq://u:pw@host/")
    assert "zmq" in str(err.value) and "pw" not in str(err.value)


def test_mask_url_hides_passwords():
    assert mask_url("rabbit://u:pw@h1:5672,v:pw2@h2/x") == "rabbit://u:***@h1:5672,v:***@h2/x"
    assert mask_url("inprocess://") == "inprocess://"


def test_serializer_extras_and_failures():
    when = datetime.datetime(2026, 5, 6, 7, 8, 9)
    uid = uuid.uuid4()
    assert serializer.to_primitive({"w": when, "u": uid, "s": frozenset({3, 1}), "m": {1, "a"}})["s"] == [1, 3]
    assert serializer.loads(serializer.dumps({"w": when, "u": uid})) == {"w": when.isoformat(), "u": str(uid)}
    assert serializer.loads(b'{"a": "\xc3\xa9"}') == {"a": "\u00e9"}
    for bad in (object(), {uid: 1}, b"bytes", 1j):
        with pytest.raises(messaging.SerializationError) as err:
            serializer.dumps({"x": bad}, what="payload")
        assert "payload" in str(err.value) and err.value.code == 500
    loop = []
    loop.append(loop)
    with pytest.raises(messaging.SerializationError):
        serializer.dumps(loop)
