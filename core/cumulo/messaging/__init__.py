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

Transports: ``inprocess://`` (the default; threads of one process) and
``rabbit://user:pass@host:5672/vhost`` (RabbitMQ through kombu; several hosts
comma-separated). Everything sent is JSON (see :mod:`cumulo.messaging.serializer`).
"""

from __future__ import annotations

import os
import threading
import urllib.parse

from oslo_config import cfg

from cumulo import conf, exception
from cumulo.conf import CONF
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

opts = [
    cfg.FloatOpt("server_stop_timeout", default=10.0, min=0,
                 help="Seconds RPCServer.stop() and NotificationListener.stop() wait for requests "
                      "already taken to finish."),
    cfg.ListOpt("allowed_remote_exmods", default=[],
                help="Modules, besides cumulo and cumulo_* packages and modules already imported, whose "
                     "CumuloError subclasses an RPC caller rebuilds from a remote failure (others become "
                     "RemoteError)."),
    cfg.IntOpt("rabbit_pool_size", default=16, min=1,
               help="RabbitMQ: connections per process used to publish (each used by one thread at a time)."),
    cfg.IntOpt("rabbit_heartbeat", default=60, min=0,
               help="RabbitMQ: heartbeat timeout in seconds of consuming connections (0 disables)."),
    cfg.FloatOpt("rabbit_connect_timeout", default=5.0, min=0.1,
                 help="RabbitMQ: seconds to wait for one TCP connection attempt."),
    cfg.FloatOpt("rabbit_retry_interval_max", default=5.0, min=0.1,
                 help="RabbitMQ: longest pause between reconnection attempts, in seconds."),
    cfg.BoolOpt("rabbit_durable_queues", default=False,
                help="RabbitMQ: declare RPC and notification exchanges and queues durable and send casts and "
                     "notifications persistent, so they survive a broker restart. Changing it on an existing "
                     "broker requires deleting the old queues."),
    cfg.IntOpt("rabbit_transient_queue_ttl", default=1800, min=1,
               help="RabbitMQ: seconds an unused reply queue is kept by the broker."),
]
conf.extend("messaging", opts)

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
    if scheme == "inprocess":
        from cumulo.messaging.inprocess import InProcessTransport

        return InProcessTransport(url)
    if scheme in ("rabbit", "amqp", "pyamqp"):
        from cumulo.messaging.rabbit import RabbitTransport

        return RabbitTransport(url)
    raise exception.ConfigError(reason=f"[messaging] transport_url {mask_url(url)!r}: unsupported scheme "
                                       f"{scheme!r}; use inprocess:// or rabbit://user:pass@host:5672/vhost.")


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
