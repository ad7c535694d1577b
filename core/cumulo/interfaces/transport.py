"""Messaging transports (``cumulo.messaging.transport``): the bus RPC and notifications ride on.

Every transport is a plugin named by the URL scheme it serves: the default
``inprocess://`` is ``cumulo-messaging-inprocess``; ``[messaging] transport_url
= rabbit://user:pass@host:5672/vhost`` loads the ``rabbit`` plugin
(``cumulo-messaging-rabbit``). :func:`cumulo.messaging.get_transport` builds it
as ``cls(ctx)``, ``ctx.url`` being the URL, once per URL per process.

A transport moves opaque JSON strings: the addressing and delivery contract
(shared and per-server topics, fanout, notification pools, at-least-once
casts) is the one :class:`cumulo.messaging.transport.Transport` documents;
``cumulo.testing.conformance`` has no transport kit yet: the messaging tests
(tests/unit/messaging) run against a transport by URL.
"""

from __future__ import annotations

from typing import ClassVar

from cumulo.interfaces.base import Plugin, PluginContext
from cumulo.messaging.transport import Transport

__all__ = ["MessagingTransport"]


class MessagingTransport(Plugin, Transport):
    """A message bus reached by URL. Implement the abstract methods of :class:`Transport`."""

    INTERFACE_VERSION = "1.0"
    #: The URL schemes this transport serves (its entry points are named after them).
    schemes: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, ctx: PluginContext) -> None:
        Plugin.__init__(self, ctx)
        Transport.__init__(self, ctx.url)
