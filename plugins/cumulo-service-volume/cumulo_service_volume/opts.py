"""``[volume]`` options of the volume area. Imports only oslo.config."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "volume"

volume_opts: list[cfg.Opt] = [
    cfg.StrOpt("driver", default="file",
               help="Volume driver plugin (cumulo.volume) holding the volumes' data: file, ..."),
    cfg.StrOpt("backend_host", default=None,
               help="Host name volumes of this node are recorded on (os-vol-host-attr:host is "
                    "<backend_host>@<backend name>). Unset: [DEFAULT] host."),
    cfg.StrOpt("storage_availability_zone", default="nova",
               help="Availability zone of this node's volumes (the only one a volume may be created in)."),
    cfg.StrOpt("default_volume_type", default="__DEFAULT__",
               help="Volume type of a volume created without one (made at first use when missing)."),
    cfg.IntOpt("quota_volumes", default=10, min=-1, help="Volumes per project by default; -1 for no limit."),
    cfg.IntOpt("quota_snapshots", default=10, min=-1, help="Snapshots per project by default; -1 for no limit."),
    cfg.IntOpt("quota_gigabytes", default=1000, min=-1,
               help="GiB of volumes and snapshots per project by default; -1 for no limit."),
    cfg.IntOpt("quota_backups", default=10, min=-1, help="Backups per project by default; -1 for no limit."),
    cfg.IntOpt("quota_backup_gigabytes", default=1000, min=-1,
               help="GiB of backups per project by default; -1 for no limit."),
    cfg.IntOpt("quota_groups", default=10, min=-1, help="Volume groups per project by default; -1 for no limit."),
    cfg.IntOpt("per_volume_size_limit", default=-1, min=-1,
               help="Largest volume in GiB by default (the per_volume_gigabytes quota); -1 for no limit."),
    cfg.StrOpt("backup_container", default="volumebackups",
               help="Object Storage container (in the volume's project account) backups are written to when "
                    "the request names none."),
    cfg.IntOpt("backup_chunk_size", default=32 * 1024 * 1024, min=64 * 1024,
               help="Bytes of volume data per backup object; an incremental backup stores only the chunks "
                    "whose SHA-256 changed since its parent."),
    cfg.StrOpt("backup_compression_algorithm", default="zlib", choices=["zlib", "none"],
               help="Compression of each backup chunk."),
    cfg.BoolOpt("flatten_volume_from_snapshot", default=False,
                help="Make volumes from snapshots and clones of volumes independent copies rather than "
                     "copy-on-write children (which keep their source from being deleted)."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, volume_opts)]
