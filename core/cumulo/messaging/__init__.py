"""The kernel's messaging layer: RPC (call, cast, fanout) and notifications between services.

Usage::

    from cumulo import messaging

    transport = messaging.get_transport()            # [messaging] transport_url
    server = messaging.RPCServer(transport, "compute", server=host, endpoints=[manager]).start()
    client = messaging.RPCClient(transport, "compute")
    client.call(ctx, "boot", server=host, instance_id=iid)   # -> the endpoint's result
    client.cast(ctx, "reboot", instance_id=iid)              # one server, no reply
    client.fanout(ctx, "refresh")                            # every server on the topic
    messaging.Notifier(transport, "compute." + host).info(ctx, "compute.instance.create.end", payload)

Transports are plugins of the ``transport`` kind named by their URL scheme
(:mod:`cumulo.interfaces.transport`): ``inprocess://``, the default, is the
threads of one process (``cumulo-messaging-inprocess``);
``rabbit://user:pass@host:5672/vhost`` is RabbitMQ through kombu
(``cumulo-messaging-rabbit``; several hosts comma-separated). Everything sent is JSON (see :mod:`cumulo.messaging.serializer`).

Layering: this package only re-exports. Its modules depend downwards and never
import the package itself: ``transport`` and ``serializer`` are leaves,
``rpc`` builds on them, ``notify`` on ``rpc``, and every transport plugin on
``transport``; the options are declared in
:mod:`cumulo.conf.messaging`.
"""

from __future__ import annotations

import os
import threading
import urllib.parse

from oslo_config import cfg

from cumulo import exception
from cumulo.conf import CONF
from cumulo.conf.messaging import transport_opts
from cumulo.messaging.notify import NotificationListener, Notifier
from cumulo.messaging.rpc import NoSuchMethod, RemoteError, RPCClient, RPCServer
from cumulo.messaging.serializer import SerializationError
from cumulo.messaging.transport import Transport, mask_url

__all__ = [
    "NoSuchMethod",
    "NotificationListener",
    "Notifier",
    "RPCClient",
    "RPCServer",
    "RemoteError",
    "SerializationError",
    "Transport",
    "get_transport",
    "list_opts",
    "reset",
]

#: The ``[messaging]`` options of this package (declared in :mod:`cumulo.conf.messaging`).
opts: list[cfg.Opt] = transport_opts

_LOCK = threading.Lock()
_CACHE: dict[str, Transport] = {}
_PID = os.getpid()


def get_transport(url: str | None = None) -> Transport:
    """The transport for ``url`` (default ``[messaging] transport_url``), one per URL per process.

    Raises :class:`~cumulo.exception.ConfigError` for an unknown scheme.
    """
    global _PID
    url = url or CONF.messaging.transport_url
    with _LOCK:
        if os.getpid() != _PID:  # forked: the parent's connections and threads are not ours
            _CACHE.clear()
            _PID = os.getpid()
        transport = _CACHE.get(url)
        if transport is None or transport.closed:
            transport = _CACHE[url] = _create(url)
        return transport


def _create(url: str) -> Transport:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    from cumulo import registry
    from cumulo.interfaces.base import PluginContext

    if scheme in registry.names("transport"):
        transport: Transport = registry.load_plugin("transport", scheme, PluginContext(CONF, url=url))
        return transport
    known = ", ".join(registry.names("transport")) or "none"
    raise exception.ConfigError(reason=f"[messaging] transport_url {mask_url(url)!r}: no transport for scheme "
                                       f"{scheme!r} (installed: {known}; in-process is the "
                                       "cumulo-messaging-inprocess plugin, RabbitMQ cumulo-messaging-rabbit)")


def reset() -> None:
    """Close and forget every cached transport (for tests)."""
    with _LOCK:
        transports = list(_CACHE.values())
        _CACHE.clear()
    for transport in transports:
        transport.close()


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """The options this package adds to ``[messaging]``."""
    return [("messaging", list(opts))]
