"""The RabbitMQ transport without a broker: selection by URL, URL translation, an unreachable broker.

(tests/test_rabbit_integration.py runs against the real RabbitMQ.)
"""

import pytest
from cumulo_messaging_rabbit.transport import RabbitTransport, to_kombu_url

from cumulo import exception, messaging, registry
from cumulo.conf import CONF
from cumulo.testing.conformance import RegistryConformance


@pytest.fixture(autouse=True)
def _reset():
    yield
    messaging.reset()


class TestRegistered(RegistryConformance):
    kind = "transport"
    plugin_name = "rabbit"


def test_every_scheme_is_an_entry_point():
    assert set(RabbitTransport.schemes) <= set(registry.names("transport"))
    for scheme in RabbitTransport.schemes:
        assert registry.load_class("transport", scheme) is RabbitTransport


def test_waiter_is_the_kernels():
    from cumulo_messaging_rabbit import transport

    from cumulo.messaging.waiter import Waiter

    assert transport.Waiter is Waiter


def test_rabbit_urls_make_a_rabbit_transport_without_connecting():
    t = messaging.get_transport("rabbit://guest:secret@192.0.2.1:5672/")
    assert isinstance(t, RabbitTransport) and "secret" not in repr(t)


@pytest.mark.parametrize("url, expected", [
    ("rabbit://u:p@h:5672/", "amqp://u:p@h:5672/"),
    ("rabbit://u:p@h:5672/vh", "amqp://u:p@h:5672/vh"),
    ("rabbit://u:p@h1:5672,u:p@h2:5673/vh", "amqp://u:p@h1:5672/vh;amqp://u:p@h2:5673/vh"),
    ("rabbit://u:p@h", "amqp://u:p@h/"),
])
def test_rabbit_url_translation(url, expected):
    assert to_kombu_url(url) == expected


def test_unreachable_broker_gives_timeout_or_service_unavailable():
    """Nothing listens on port 1: calls time out, casts and notifications raise 503 after the retries."""
    CONF.set_override("rpc_timeout", 1, group="messaging")
    try:
        t = messaging.get_transport("rabbit://guest:guest@127.0.0.1:1/")
        with pytest.raises(exception.MessagingTimeout):
            messaging.RPCClient(t, "x").call(None, "m", timeout=0.5)
        with pytest.raises(exception.ServiceUnavailable) as err:
            messaging.RPCClient(t, "x").cast(None, "m")
        assert err.value.code == 503 and "guest:***@" in str(err.value)
        with pytest.raises(exception.ServiceUnavailable):
            messaging.Notifier(t, "p", topics=["n"]).info(None, "e", {})
    finally:
        CONF.clear_override("rpc_timeout", group="messaging")
