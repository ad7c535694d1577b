"""The in-process transport as a plugin: found by scheme, built as cls(ctx), one bus per URL.

The RPC and notification contract itself runs on this transport in tests/unit/messaging.
"""

from __future__ import annotations

from typing import Any

from cumulo_messaging_inprocess.transport import InProcessTransport

from cumulo import messaging, registry
from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext


def test_the_default_url_loads_this_plugin() -> None:
    try:
        t = messaging.get_transport("inprocess://plugin-test")
        assert isinstance(t, InProcessTransport) and t.url == "inprocess://plugin-test"
    finally:
        messaging.reset()


def test_built_as_cls_ctx_and_buses_are_per_url() -> None:
    a = registry.load_plugin("transport", "inprocess", PluginContext(CONF, url="inprocess://a"))
    b = registry.load_plugin("transport", "inprocess", PluginContext(CONF, url="inprocess://b"))

    class Echo:
        def echo(self, ctx: Any, value: int) -> int:
            return value

    server = messaging.RPCServer(a, "t", server="h", endpoints=[Echo()]).start()
    try:
        assert messaging.RPCClient(a, "t").call(None, "echo", value=7) == 7
        assert b.url == "inprocess://b" and a.ctx.name == "inprocess"
    finally:
        server.stop()
        a.close()
        b.close()
