"""Kernel configuration (oslo.config).

``CONF`` is the process's one ConfigOpts. Kernel options are declared here, a
list per group; plugins declare theirs through ``Plugin.list_opts`` and the
registry registers them on load. :func:`list_opts` is the ``oslo.config.opts``
entry point that the sample generator and ``cumulo config sample`` read.
"""

from __future__ import annotations

import os
import socket

from oslo_config import cfg

CONF = cfg.ConfigOpts()

default_opts = [
    cfg.StrOpt("host", default=socket.gethostname(), sample_default="<hostname>",
               help="Name of this node: the name services and compute hosts register under."),
    cfg.StrOpt("state_path", default=os.path.expanduser("~/.cumulo"), sample_default="~/.cumulo",
               help="Directory for persistent state: the SQLite database, keys, image and object data."),
    cfg.BoolOpt("debug", default=False, help="Log at DEBUG level."),
    cfg.StrOpt("log_file", help="Write logs to this file instead of standard error."),
    cfg.StrOpt("region_name", default="RegionOne", help="Region in the service catalog."),
]

database_opts = [
    cfg.StrOpt("connection", secret=True,
               help="SQLAlchemy URL. Default: sqlite in state_path (WAL mode). "
                    "Examples: postgresql+psycopg2://user:pw@host/db, mysql+pymysql://user:pw@host/db"),
    cfg.IntOpt("pool_size", default=10, min=1, help="Connections kept open per process (not SQLite)."),
    cfg.IntOpt("max_overflow", default=40, min=0, help="Connections above pool_size allowed under load."),
    cfg.IntOpt("sqlite_busy_timeout", default=5000, min=0,
               help="Milliseconds a SQLite writer waits for the lock per attempt (capped by lock_timeout); "
                    "then the transaction is retried with back-off, and finally answered 503."),
    cfg.IntOpt("max_retries", default=10, min=0, help="Retries of a transaction that hit a deadlock or lock timeout."),
]

messaging_opts = [
    cfg.StrOpt("transport_url", default="inprocess://",
               help="Where RPC and notifications travel: inprocess:// (all-in-one, default) or "
                    "rabbit://user:pass@host:5672/vhost."),
    cfg.IntOpt("rpc_timeout", default=60, min=1, help="Seconds an RPC call waits for its reply."),
    cfg.IntOpt("rpc_workers", default=64, min=1, help="Threads dispatching incoming RPC messages per server."),
    cfg.StrOpt("control_exchange", default="cumulo", help="Exchange name prefix on the broker."),
    cfg.ListOpt("notification_topics", default=["notifications"], help="Topics notifications are sent to."),
]

api_opts = [
    cfg.HostAddressOpt("bind_host", default="127.0.0.1", help="Address the API server listens on."),
    cfg.PortOpt("port", default=8800, help="Port of the API server; every frontend is mounted under its path."),
    cfg.StrOpt("public_url", help="Base URL clients reach the API at. Default: http://<bind_host>:<port>."),
    cfg.ListOpt("frontends", default=["identity", "compute", "image", "network", "object-store"],
                help="API frontend plugins (cumulo.api) to serve."),
    cfg.IntOpt("threads", default=64, min=1, help="Worker threads of the WSGI server."),
    cfg.IntOpt("max_request_body_size", default=1024 * 1024, min=1,
               help="Largest JSON request body accepted, in bytes (uploads stream and have their own limits)."),
    cfg.StrOpt("auth_strategy", default="keystone", choices=["keystone", "noauth"],
               help="keystone: tokens from the identity service; noauth: 'user:project[:roles]' tokens, "
                    "for development only."),
    cfg.IntOpt("token_cache_time", default=5, min=0,
               help="Seconds a validated token is cached by API middleware (revocations apply after it)."),
    cfg.IntOpt("max_limit", default=1000, min=1, help="Most items a list request returns at once."),
]

service_opts = [
    cfg.IntOpt("report_interval", default=10, min=1, help="Seconds between service heartbeats."),
    cfg.IntOpt("service_down_time", default=60, min=1,
               help="Seconds without a heartbeat after which a service is shown down."),
]

policy_group_opts = [
    cfg.StrOpt("policy_file", default="policy.yaml", help="Policy overrides (YAML); rules not in it keep their defaults."),
]

GROUPS: dict[str, list[cfg.Opt]] = {
    "DEFAULT": default_opts,
    "database": database_opts,
    "messaging": messaging_opts,
    "api": api_opts,
    "service": service_opts,
    "oslo_policy": [],  # oslo.policy registers its own options in this group
}


def register(conf: cfg.ConfigOpts = CONF) -> None:
    for group, opts in GROUPS.items():
        conf.register_opts(opts, group=None if group == "DEFAULT" else group)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """``oslo.config.opts`` entry point: every kernel option, by group."""
    from cumulo.conf import check

    check._import_areas()  # kernel areas add their groups when imported
    return [(g, list(o)) for g, o in GROUPS.items() if o]


def extend(group: str, opts: list[cfg.Opt]) -> None:
    """Add kernel options from a kernel module (services register theirs here)."""
    GROUPS.setdefault(group, [])
    names = {o.dest for o in GROUPS[group]}
    GROUPS[group].extend(o for o in opts if o.dest not in names)
    try:
        CONF.register_opts(opts, group=None if group == "DEFAULT" else group)
    except cfg.DuplicateOptError:
        pass


def load(args: list[str] | None = None, config_files: list[str] | None = None,
         conf: cfg.ConfigOpts = CONF) -> cfg.ConfigOpts:
    """Parse layered config files: later files override earlier ones."""
    files = list(config_files or [])
    conf(args=args or [], project="cumulo", default_config_files=files, validate_default_values=True)
    return conf


register()
