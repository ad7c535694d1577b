"""``[messaging]`` options (read by :mod:`cumulo.messaging`). Imports only oslo.config."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "messaging"

messaging_opts: list[cfg.Opt] = [
    cfg.StrOpt("transport_url", default="inprocess://",
               help="Where RPC and notifications travel: inprocess:// (all-in-one, default) or "
                    "rabbit://user:pass@host:5672/vhost."),
    cfg.IntOpt("rpc_timeout", default=60, min=1, help="Seconds an RPC call waits for its reply."),
    cfg.IntOpt("rpc_workers", default=64, min=1, help="Threads dispatching incoming RPC messages per server."),
    cfg.StrOpt("control_exchange", default="cumulo", help="Exchange name prefix on the broker."),
    cfg.ListOpt("notification_topics", default=["notifications"], help="Topics notifications are sent to."),
]

#: The options of the messaging package itself (servers, remote errors, the RabbitMQ driver).
transport_opts: list[cfg.Opt] = [
    cfg.FloatOpt("server_stop_timeout", default=10.0, min=0,
                 help="Seconds RPCServer.stop() and NotificationListener.stop() wait for requests "
                      "already taken to finish."),
    cfg.ListOpt("allowed_remote_exmods", default=[],
                help="Modules, besides cumulo and cumulo_* packages and modules already imported, whose "
                     "CumuloError subclasses an RPC caller rebuilds from a remote failure (others become "
                     "RemoteError)."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, messaging_opts + transport_opts)]
