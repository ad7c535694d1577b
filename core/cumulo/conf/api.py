"""``[api]`` options (the API server and its middleware). Imports only oslo.config."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "api"

api_opts: list[cfg.Opt] = [
    cfg.HostAddressOpt("bind_host", default="127.0.0.1", help="Address the API server listens on."),
    cfg.PortOpt("port", default=8800, help="Port of the API server; every frontend is mounted under its path."),
    cfg.StrOpt("public_url", help="Base URL clients reach the API at. Default: http://<bind_host>:<port>."),
    cfg.ListOpt("frontends", default=["identity", "compute", "image", "network", "object-store", "volumev3", "ec2", "s3"],
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


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, api_opts)]
