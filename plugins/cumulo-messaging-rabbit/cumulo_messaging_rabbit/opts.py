"""``[messaging] rabbit_*`` options of the RabbitMQ transport. Imports only oslo.config."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "messaging"  # beside transport_url, where operators have always set them

rabbit_opts: list[cfg.Opt] = [
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


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """``oslo.config.opts`` entry point (and the plugin's ``list_opts``)."""
    return [(GROUP, list(rabbit_opts))]
