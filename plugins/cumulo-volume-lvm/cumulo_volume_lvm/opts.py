"""``[volume_lvm]`` options of the ``lvm`` volume driver."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "volume_lvm"

volume_lvm_opts: list[cfg.Opt] = [
    cfg.StrOpt("volume_group", default="cumulo-volumes",
               help="LVM volume group holding the thin pool (made by the operator: pvcreate, vgcreate)."),
    cfg.StrOpt("thin_pool", default="cumulo-pool",
               help="Thin pool logical volume in volume_group that holds the volumes (made by the operator: "
                    "lvcreate --type thin-pool)."),
    cfg.StrOpt("backend_name", default="lvm",
               help="volume_backend_name this backend reports (what a volume type's volume_backend_name "
                    "extra spec matches)."),
    cfg.FloatOpt("max_over_subscription_ratio", default=20.0, min=1.0,
                 help="Volumes are thin: the sum of their sizes may reach this many times the thin pool's size; "
                      "a create beyond it fails as backend full."),
    cfg.IntOpt("reserved_percentage", default=0, min=0, max=100,
               help="Percentage of the thin pool reported as reserved (kept free) to the scheduler."),
    cfg.StrOpt("lvm_command", default="lvm",
               help="The lvm binary (lvm2); every LVM command is run as 'lvm <command>' with JSON reports."),
    cfg.StrOpt("lvm_config", default="",
               help="LVM configuration added to every command with --config, e.g. "
                    "'activation { udev_sync=0 udev_rules=0 }' in a container without udevd, or a devices "
                    "filter naming the physical volumes."),
    cfg.StrOpt("state_dir", default="$state_path/volume_lvm", sample_default="<state_path>/volume_lvm",
               help="Directory (0700) of the exports' state (which hosts a volume is exported to) and of the "
                    "temporary files of qcow2 image conversions (as large as the image)."),
    cfg.StrOpt("qemu_img", default="qemu-img", help="qemu-img, which converts images to and from the volumes."),
    cfg.IntOpt("lvm_timeout", default=120, min=1,
               help="Seconds an LVM command may take before it is killed."),
    cfg.IntOpt("command_timeout", default=3600, min=1,
               help="Seconds a qemu-img command may take (converting or copying a large volume) before it is "
                    "killed."),
    cfg.IntOpt("chunk_size", default=1024 * 1024, min=4096,
               help="Bytes per chunk streamed by copy_volume_to_image."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, volume_lvm_opts)]
