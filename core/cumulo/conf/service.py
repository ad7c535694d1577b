"""``[service]`` options (heartbeats of :mod:`cumulo.service`). Imports only oslo.config."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "service"

service_opts: list[cfg.Opt] = [
    cfg.IntOpt("report_interval", default=10, min=1, help="Seconds between service heartbeats."),
    cfg.IntOpt("service_down_time", default=60, min=1,
               help="Seconds without a heartbeat after which a service is shown down."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, service_opts)]
