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
                    "Empty: the secret a proxy on this machine generated into "
                    "<state_path>/metadata-proxy.secret (an all-in-one needs no setting); with no such "
                    "file either, no proxy is trusted and such requests are refused (403), and instances "
                    "are known by their source address only. Set it (the same everywhere) when proxies "
                    "run on other machines than the API."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, metadata_opts)]
