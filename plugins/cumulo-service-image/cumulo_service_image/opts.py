"""``[image]`` options of the image area. Imports only oslo.config.

Declared by :class:`cumulo_service_image.area.ImageArea` (``list_opts``): the
hub registers them when it loads the installed areas, and the sample
generator reads them through this distribution's ``oslo.config.opts`` entry point.
"""

from __future__ import annotations

from oslo_config import cfg

GROUP = "image"

TiB = 1024**4

image_opts: list[cfg.Opt] = [
    cfg.StrOpt("default_store", default="filesystem",
               help="Image store plugin (cumulo.image) new image data is written to: filesystem, object, ..."),
    cfg.ListOpt("stores", default=["filesystem", "http"],
                help="Image store plugins enabled for reading (the default store is always enabled). "
                     "'http' serves images that live on web servers named in [image_http] allowed_hosts."),
    cfg.IntOpt("image_size_cap", default=TiB, min=1,
               help="Largest image accepted, in bytes (uploads stream; this is not [api] max_request_body_size)."),
    cfg.IntOpt("quota_image_count", default=-1, min=-1,
               help="Images a project may own (every status but deleted); -1 for no limit."),
    cfg.IntOpt("quota_image_size_total", default=-1, min=-1,
               help="Total size of the image data a project may own, in MiB; -1 for no limit."),
    cfg.IntOpt("image_member_quota", default=128, min=-1, help="Members per image; -1 for no limit."),
    cfg.IntOpt("image_tag_quota", default=128, min=-1, help="Tags per image; -1 for no limit."),
    cfg.IntOpt("image_property_quota", default=128, min=-1, help="Extra properties per image; -1 for no limit."),
    cfg.StrOpt("hashing_algorithm", default="sha512",
               help="hashlib algorithm of os_hash_value (the md5 'checksum' is always recorded too)."),
    cfg.BoolOpt("require_image_format_match", default=True,
                help="Refuse uploaded data that is not of the image's disk_format (detected from its content, "
                     "as Glance does; the image stays queued). Off: any format is accepted, but data that "
                     "fails its format's safety checks (a qcow2 with a backing or data file...) still is not."),
    cfg.IntOpt("upload_heartbeat_interval", default=15, min=1,
               help="Seconds between the 'still saving' marks an upload in progress writes."),
    cfg.IntOpt("stale_upload_timeout", default=300, min=10,
               help="An image in 'saving' whose upload has not marked progress for this many seconds is "
                    "treated as dead: its partial data is removed and it returns to 'queued'."),
    cfg.IntOpt("cleanup_interval", default=60, min=1,
               help="Seconds between checks for dead uploads and data of deleted images."),
    cfg.ListOpt("enabled_import_methods", default=["glance-direct", "web-download"],
                item_type=cfg.types.String(choices=["glance-direct", "web-download"]),
                help="Interoperable image import methods offered (GET /v2/info/import): 'glance-direct' "
                     "(data staged with PUT /v2/images/{id}/stage, then imported) and 'web-download' (the "
                     "image service fetches a URL allowed by [import_filtering_opts]). Empty: no import."),
    cfg.StrOpt("staging_path", default="",
               help="Directory of the data staged for glance-direct imports (files 0600); empty: "
                    "$state_path/image-staging. Staged data counts against image_size_cap and the size quota."),
]

#: Addresses web-download never fetches from unless the host is named in ``allowed_hosts``: loopback,
#: link-local (cloud metadata services), private and shared (RFC 1918, 6598, 4193), unspecified.
PRIVATE_NETWORKS = ["127.0.0.0/8", "::1/128", "0.0.0.0/8", "::/128", "169.254.0.0/16", "fe80::/10",
                    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7",
                    "::ffff:0:0/96"]

FILTER_GROUP = "import_filtering_opts"

import_filtering_opts: list[cfg.Opt] = [
    cfg.ListOpt("allowed_schemes", default=["http", "https"],
                help="URI schemes web-download may fetch; empty: any scheme not in disallowed_schemes."),
    cfg.ListOpt("disallowed_schemes", default=[],
                help="URI schemes web-download refuses (used only when allowed_schemes is empty)."),
    cfg.ListOpt("allowed_hosts", default=[],
                help="Hosts (names or addresses) web-download may fetch from; when set, no other host. A host "
                     "named here is also exempt from disallowed_networks (e.g. 127.0.0.1 for a local mirror)."),
    cfg.ListOpt("disallowed_hosts", default=[],
                help="Hosts web-download refuses (used only when allowed_hosts is empty)."),
    cfg.ListOpt("allowed_ports", default=[80, 443], item_type=cfg.types.Integer(min=1, max=65535),
                help="Ports web-download may connect to (the scheme's default when the URI names none); "
                     "empty: any port not in disallowed_ports."),
    cfg.ListOpt("disallowed_ports", default=[], item_type=cfg.types.Integer(min=1, max=65535),
                help="Ports web-download refuses (used only when allowed_ports is empty)."),
    cfg.ListOpt("disallowed_networks", default=PRIVATE_NETWORKS,
                help="Networks (CIDR) web-download never connects to: every address a host resolves to is "
                     "checked, and each redirect again. Default: loopback, link-local, private, shared and "
                     "unspecified addresses. A host in allowed_hosts is exempt."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, image_opts), (FILTER_GROUP, import_filtering_opts)]
