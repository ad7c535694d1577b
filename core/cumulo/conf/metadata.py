"""``[metadata]`` options, shared by the metadata API (cumulo-api-compute) and the network area's metadata
proxies, which sign what they forward with this secret. Imports only oslo.config.
"""

from __future__ import annotations

from oslo_config import cfg

GROUP = "metadata"

metadata_opts: list[cfg.Opt] = [
    cfg.StrOpt("proxy_shared_secret", default="", secret=True,
               help="Secret shared with the metadata proxies: a request carrying X-Instance-ID is believed "
                    "only with X-Instance-ID-Signature = hex HMAC-SHA256(this secret, instance id). "
                    "Empty: no proxy is trusted and such requests are refused (403); instances are then "
                    "known by their source address only."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, metadata_opts)]
