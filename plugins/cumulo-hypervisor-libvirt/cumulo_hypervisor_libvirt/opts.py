"""The ``[libvirt]`` options of the libvirt hypervisor driver, and where their defaults lead."""

from __future__ import annotations

import os

from oslo_config import cfg

GROUP = "libvirt"

VIRT_TYPES = ("auto", "kvm", "qemu", "lxc")

opts = [
    cfg.StrOpt("virt_type", default="auto", choices=VIRT_TYPES,
               help="Domain type: kvm (hardware virtualisation), qemu (TCG emulation), lxc (containers), or "
                    "auto: kvm when /dev/kvm is usable and the CPU has VT-x/AMD-V (vmx/svm), else qemu."),
    cfg.StrOpt("connection_uri", default="",
               help="libvirt URI; empty: qemu:///system (kvm, qemu) or lxc:/// (lxc). Tests use test:///default."),
    cfg.StrOpt("instances_path", default="", sample_default="$state_path/libvirt/instances",
               help="Directory of the per-instance directories (disks, config drive, console log)."),
    cfg.StrOpt("images_path", default="", sample_default="$state_path/libvirt/_base",
               help="Per-host cache of verified base images (the qcow2 overlays' backing files)."),
    cfg.StrOpt("cpu_mode", default="", choices=("", "host-model", "host-passthrough", "maximum", "custom", "none"),
               help="Guest CPU mode; empty: host-model for kvm, none (QEMU's default model) for qemu."),
    cfg.StrOpt("cpu_model", default="", help="CPU model when cpu_mode is custom (e.g. Nehalem)."),
    cfg.StrOpt("machine_type", default="q35", help="x86 machine type of qemu/kvm guests."),
    cfg.BoolOpt("force_config_drive", default=True,
                help="Give every instance a config drive. The tiny guest and guests on networks without a "
                     "metadata service configure themselves from it, and set_admin_password goes through it; "
                     "when false, only instances that ask for one (or get an admin password) have one."),
    cfg.StrOpt("kernel_cmdline", default="root=/dev/vda console=ttyS0",
               help="Kernel command line of direct kernel boot (kernel_id/ramdisk_id images) when the image "
                    "has no os_command_line property."),
    cfg.IntOpt("shutdown_timeout", default=60, min=0,
               help="Seconds power_off waits for the guest to shut down when the caller gives no timeout; "
                    "then the domain is destroyed."),
    cfg.IntOpt("device_detach_timeout", default=60, min=1,
               help="Seconds detaching a volume or interface from a running guest waits for the guest to "
                    "release it (the unplug is asked for again every 10 s); then the detach fails and the "
                    "device stays attached."),
    cfg.IntOpt("console_log_max_bytes", default=100 * 1024, min=1024,
               help="Bytes of the end of the console log that console output returns."),
    cfg.StrOpt("vnc_listen", default="127.0.0.1", help="Address the guests' VNC servers listen on."),
    cfg.HostAddressOpt("console_proxy_host", default="127.0.0.1",
                       help="Address the console proxy (websockify, started with the compute process) listens "
                            "on; the guests' VNC servers are reached through it."),
    cfg.PortOpt("console_proxy_port", default=6080,
                help="Port of the console proxy. When it is in use and console_proxy_base_url is empty, a free "
                     "port is taken instead (the URLs issued name it)."),
    cfg.StrOpt("console_proxy_base_url", default="",
               help="The noVNC page clients are sent to, as Nova's novncproxy_base_url (e.g. "
                    "http://cloud.example.org:6080/vnc_auto.html); empty: vnc_auto.html on the proxy's address."),
    cfg.StrOpt("console_proxy_web", default="/usr/share/novnc",
               help="Directory of noVNC's pages the proxy serves (Debian's novnc package); when it does not "
                    "exist, the proxy serves websockets only."),
    cfg.IntOpt("console_token_ttl", default=600, min=1,
               help="Seconds a remote console URL's token stays valid."),
    cfg.StrOpt("lxc_init", default="/sbin/init", help="Init program of LXC containers."),
    cfg.StrOpt("qemu_dac_label", default="owner",
               help="Who QEMU runs as: 'owner' (the user and group owning instances_path: the all-in-one "
                    "keeps its state path private to its own user, so QEMU runs as that user, root here), "
                    "'libvirt' (libvirt's qemu user, which must then be able to read instances_path and "
                    "images_path), or an explicit '+uid:+gid'."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """The ``[libvirt]`` options (oslo-config-generator, ``cumulo plugin show``)."""
    return [(GROUP, list(opts))]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the ``[libvirt]`` options on ``conf`` (again is fine)."""
    try:
        conf.register_opts(opts, group=GROUP)
    except cfg.DuplicateOptError:
        pass


def _state_path(conf: cfg.ConfigOpts) -> str:
    try:
        return str(conf.state_path)
    except cfg.NoSuchOptError:  # a bare ConfigOpts (tools, tests) without [DEFAULT] registered
        return os.path.expanduser("~/.cumulo")


def instances_path(conf: cfg.ConfigOpts) -> str:
    """``[libvirt] instances_path`` or ``<state_path>/libvirt/instances``."""
    return str(conf.libvirt.instances_path or os.path.join(_state_path(conf), "libvirt", "instances"))


def images_path(conf: cfg.ConfigOpts) -> str:
    """``[libvirt] images_path`` or ``<state_path>/libvirt/_base``."""
    return str(conf.libvirt.images_path or os.path.join(_state_path(conf), "libvirt", "_base"))


def connection_uri(conf: cfg.ConfigOpts, virt_type: str) -> str:
    """``[libvirt] connection_uri`` or the system URI of ``virt_type`` (qemu:///system, lxc:///)."""
    if conf.libvirt.connection_uri:
        return str(conf.libvirt.connection_uri)
    return "lxc:///" if virt_type == "lxc" else "qemu:///system"
