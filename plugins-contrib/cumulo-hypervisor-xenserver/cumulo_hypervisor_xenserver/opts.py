"""The ``[xenserver]`` options of the XenServer hypervisor driver."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "xenserver"

CACHE_CHOICES = ("all", "some", "none")

opts = [
    cfg.URIOpt("connection_url", schemes=["http", "https"],
               help="URL of the pool master's XAPI (https://xenserver.example.org). The driver logs in there, "
                    "and images and snapshots go through its /import_raw_vdi and /export_raw_vdi handlers."),
    cfg.StrOpt("connection_username", default="root", help="XAPI user the driver logs in as."),
    cfg.StrOpt("connection_password", default="", secret=True, help="Password of connection_username."),
    cfg.IntOpt("connection_concurrent", default=5, min=1,
               help="XAPI sessions kept open for calls (one call at a time per session); the event "
                    "stream has a session of its own."),
    cfg.BoolOpt("verify_tls", default=True,
                help="Verify the pool master's TLS certificate (an https connection_url)."),
    cfg.StrOpt("sr_name_label", default="",
               help="name_label of the storage repository that holds instance disks and cached images; "
                    "empty: the pool's default SR."),
    cfg.StrOpt("default_network", default="",
               help="name_label or bridge of the XenServer network a port goes on when no network matches "
                    "its binding (the port's bridge, or other_config:cumulo-network-id equal to its "
                    "network id); empty: such a port fails the build."),
    cfg.StrOpt("cache_images", default="all", choices=CACHE_CHOICES,
               help="Keep a base VDI per image on the SR and give each instance a copy-on-write clone of it "
                    "(all), only for images whose property cache_in_xenserver is true (some), or import the "
                    "image for every instance (none)."),
    cfg.BoolOpt("force_config_drive", default=True,
                help="Give every instance a config drive (a VDI holding an ISO 9660 'config-2' image); when "
                     "false, only instances that ask for one or get an admin password have one."),
    cfg.IntOpt("shutdown_timeout", default=60, min=0,
               help="Seconds power_off waits for a clean shutdown when the caller gives no timeout; then "
                    "the VM is shut down hard."),
    cfg.IntOpt("task_timeout", default=600, min=1,
               help="Seconds an asynchronous XAPI task (VM start, snapshot, clone, import) may take before "
                    "it is cancelled and the operation fails."),
    cfg.FloatOpt("task_poll_interval", default=0.2, min=0.01,
                 help="Seconds between polls of a pending XAPI task."),
    cfg.IntOpt("login_timeout", default=10, min=1,
               help="Seconds a connection to the XAPI may take (login, calls, HTTP transfers)."),
    cfg.StrOpt("console_plugin", default="console",
               help="dom0 plugin (host.call_plugin) whose get_console_log function returns a VM's console "
                    "log, base64 of zlib-compressed bytes, as os-xenapi's console plugin does."),
    cfg.IntOpt("console_log_max_bytes", default=100 * 1024, min=1024,
               help="Bytes of the end of the console log that console output returns."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """The ``[xenserver]`` options (oslo-config-generator, ``cumulo plugin show``)."""
    return [(GROUP, list(opts))]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the ``[xenserver]`` options on ``conf`` (again is fine)."""
    try:
        conf.register_opts(opts, group=GROUP)
    except cfg.DuplicateOptError:
        pass
