"""``[volume_file]`` options of the ``file`` volume driver."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "volume_file"

volume_file_opts: list[cfg.Opt] = [
    cfg.StrOpt("volumes_path", default="$state_path/volumes", sample_default="<state_path>/volumes",
               help="Directory of the volume and snapshot qcow2 files (made 0700 when missing; files are 0600, "
                    "snapshots 0400) and of the NBD exports' state."),
    cfg.StrOpt("backend_name", default="file",
               help="volume_backend_name this backend reports (what a volume type's volume_backend_name "
                    "extra spec matches)."),
    cfg.FloatOpt("max_over_subscription_ratio", default=20.0, min=1.0,
                 help="Volumes are thin: the sum of their sizes may reach this many times the filesystem's size; "
                      "a create beyond it fails as backend full."),
    cfg.IntOpt("reserved_percentage", default=0, min=0, max=100,
               help="Percentage of the filesystem reported as reserved (kept free) to the scheduler."),
    cfg.HostAddressOpt("nbd_listen_host", default="127.0.0.1",
                       help="Address the NBD exports listen on. 127.0.0.1 serves this host only; a host "
                            "address lets hypervisors on other hosts attach (TLS-PSK always required)."),
    cfg.HostAddressOpt("nbd_advertise_host", default=None,
                       help="Address handed to connectors for the NBD exports. Unset: nbd_listen_host."),
    cfg.StrOpt("qemu_img", default="qemu-img", help="qemu-img, which makes, converts and resizes the files."),
    cfg.StrOpt("qemu_storage_daemon", default="qemu-storage-daemon",
               help="qemu-storage-daemon, which serves the NBD exports."),
    cfg.IntOpt("command_timeout", default=3600, min=1,
               help="Seconds a qemu-img command may take (converting a large image) before it is killed."),
    cfg.IntOpt("chunk_size", default=1024 * 1024, min=4096,
               help="Bytes per chunk streamed by copy_volume_to_image."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, volume_file_opts)]
