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
    cfg.IntOpt("upload_heartbeat_interval", default=15, min=1,
               help="Seconds between the 'still saving' marks an upload in progress writes."),
    cfg.IntOpt("stale_upload_timeout", default=300, min=10,
               help="An image in 'saving' whose upload has not marked progress for this many seconds is "
                    "treated as dead: its partial data is removed and it returns to 'queued'."),
    cfg.IntOpt("cleanup_interval", default=60, min=1,
               help="Seconds between checks for dead uploads and data of deleted images."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, image_opts)]
