"""Options of the S3 frontend (``[s3]``)."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "s3"

OPTS = [
    cfg.ListOpt("virtual_host_domains", default=[],
                help="Domains under which virtual-host-style addressing is served: a request whose Host is "
                     "<bucket>.<domain> (port ignored) addresses that bucket. Empty: path style only."),
    cfg.StrOpt("location", default="us-east-1",
               help="The region GetBucketLocation reports (us-east-1 is reported as an empty LocationConstraint, "
                    "as S3 does)."),
    cfg.IntOpt("min_part_size", default=5 * 1024 * 1024, min=1,
               help="Smallest part of a multipart upload but the last, in bytes (S3: 5 MiB); smaller ones make "
                    "CompleteMultipartUpload fail with EntityTooSmall."),
    cfg.IntOpt("max_keys", default=1000, min=1,
               help="Most keys (or buckets' parts, uploads) one listing returns, whatever max-keys asks."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, OPTS)]


def register(conf: cfg.ConfigOpts) -> None:
    """Register the options on ``conf`` (harmless when they already are)."""
    conf.register_opts(OPTS, group=GROUP)
