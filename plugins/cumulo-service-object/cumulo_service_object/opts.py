"""``[object]`` options of the object area. Imports only oslo.config.

Declared by :class:`cumulo_service_object.area.ObjectArea` (``list_opts``), registered by the hub when
it loads the installed areas. The Swift API learns the limits from ``hub.object.info()``.
"""

from __future__ import annotations

from oslo_config import cfg

GROUP = "object"

GiB = 1024**3

object_opts: list[cfg.Opt] = [
    cfg.StrOpt("backend", default="ring",
               help="Object storage backend plugin (cumulo.object): 'dir' (one directory, development) "
                    "or 'ring' (replicated storage nodes placed by rings)."),
    cfg.BoolOpt("start_local_nodes", default=True,
                help="All-in-one: let the backend start the local servers it needs (storage nodes...)."),
    cfg.IntOpt("max_file_size", default=5 * GiB, min=1,
               help="Largest single object in bytes; larger objects go through manifests (segments)."),
    cfg.IntOpt("max_object_name_length", default=1024, min=1, help="Longest object name, in UTF-8 bytes."),
    cfg.IntOpt("max_container_name_length", default=256, min=1, help="Longest container name, in UTF-8 bytes."),
    cfg.IntOpt("max_account_name_length", default=256, min=1, help="Longest account name, in bytes."),
    cfg.IntOpt("max_meta_name_length", default=128, min=1, help="Longest metadata name (after the prefix)."),
    cfg.IntOpt("max_meta_value_length", default=256, min=1, help="Longest metadata value, in bytes."),
    cfg.IntOpt("max_meta_count", default=90, min=1, help="Most metadata items on one account/container/object."),
    cfg.IntOpt("max_meta_overall_size", default=4096, min=1,
               help="Most bytes of metadata (names plus values) on one account/container/object."),
    cfg.IntOpt("max_header_size", default=8192, min=1, help="Longest request header accepted."),
    cfg.IntOpt("container_listing_limit", default=10000, min=1, help="Most objects one container listing returns."),
    cfg.IntOpt("account_listing_limit", default=10000, min=1, help="Most containers one account listing returns."),
    cfg.IntOpt("max_manifest_segments", default=1000, min=1, help="Most segments in a static large object manifest."),
    cfg.IntOpt("max_manifest_size", default=8 * 1024 * 1024, min=1,
               help="Largest static large object manifest body, in bytes."),
    cfg.IntOpt("min_segment_size", default=1, min=1, help="Smallest SLO segment (but the last), in bytes."),
    cfg.IntOpt("max_deletes_per_request", default=10000, min=1, help="Most paths one bulk delete accepts."),
    cfg.IntOpt("max_copy_size", default=5 * GiB, min=1,
               help="Largest object (manifests count their whole content) a COPY may produce."),
    cfg.ListOpt("operator_roles", default=["admin", "member", "swiftoperator", "_member_"],
                help="Roles that make a user of a project a full owner of its AUTH_<project> account."),
    cfg.ListOpt("read_only_roles", default=["reader"],
                help="Roles that let a user of a project read (not write) its account."),
    cfg.ListOpt("reseller_admin_roles", default=["admin", "ResellerAdmin"],
                help="Roles that may act on every account and set account quotas."),
    cfg.StrOpt("reseller_prefix", default="AUTH_", help="Prefix of account names: <prefix><project id>."),
    cfg.ListOpt("tempurl_methods", default=["GET", "HEAD", "PUT", "POST", "DELETE"],
                help="Methods a TempURL may grant."),
    cfg.ListOpt("tempurl_digests", default=["sha1", "sha256", "sha512"],
                help="Digests accepted in TempURL signatures."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, object_opts)]
