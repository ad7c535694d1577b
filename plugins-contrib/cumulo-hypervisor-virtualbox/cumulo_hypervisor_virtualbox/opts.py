"""The ``[virtualbox]`` options of the VirtualBox hypervisor driver, and where their defaults lead."""

from __future__ import annotations

import os
import shutil

from oslo_config import cfg

GROUP = "virtualbox"
NIC_MODES = ("bridged", "hostonly")
VRDE_PROTOCOLS = ("vnc", "rdp")

opts = [
    cfg.StrOpt("vboxmanage_path", default="VBoxManage",
               help="The VBoxManage program: a path, or a name looked up on PATH."),
    cfg.StrOpt("user_home", default="",
               help="VBOX_USER_HOME handed to VBoxManage: the directory of VirtualBox's registry (VirtualBox.xml) "
                    "and of its VBoxSVC. Empty: VBoxManage's own default (~/.config/VirtualBox of the user "
                    "running the compute service)."),
    cfg.StrOpt("machine_folder", default="", sample_default="$state_path/virtualbox/machines",
               help="Base folder of the instances' machines (createvm --basefolder): each machine's settings, "
                    "disk, snapshots and serial console log live in <machine_folder>/<instance name>."),
    cfg.StrOpt("images_path", default="", sample_default="$state_path/virtualbox/images",
               help="Per-host cache of base VDIs, one per image, converted once (convertfromraw or clonemedium); "
                    "each instance's disk is cloned from it."),
    cfg.StrOpt("nic_mode", default="bridged", choices=NIC_MODES,
               help="How each port's adapter is attached: 'bridged' (to bridged_adapter, or the host bridge the "
                    "network area plugged the port into) or 'hostonly' (to hostonly_adapter)."),
    cfg.StrOpt("bridged_adapter", default="",
               help="Host interface of bridged adapters; empty: the port binding's bridge (VIF.bridge). A port "
                    "without either fails the spawn."),
    cfg.StrOpt("hostonly_adapter", default="vboxnet0", help="Host-only interface of adapters when nic_mode is hostonly."),
    cfg.StrOpt("nic_type", default="virtio",
               help="VirtualBox adapter type (modifyvm --nictype): virtio, 82540EM, Am79C973..."),
    cfg.StrOpt("ostype", default="Linux_64", help="Guest OS type of new machines (createvm --ostype)."),
    cfg.BoolOpt("vrde", default=True,
                help="Enable each machine's remote display server (VRDE); its address is the remote console."),
    cfg.StrOpt("vrde_protocol", default="vnc", choices=VRDE_PROTOCOLS,
               help="What the installed VRDE extension pack speaks: 'vnc' (the VNC pack: consoles are novnc, and "
                    "each console URL sets a fresh VNCPassword) or 'rdp' (the Oracle extension pack: consoles are "
                    "rdp-html5)."),
    cfg.StrOpt("vrde_ports", default="5000-5099",
               help="Port range the machines' VRDE servers take a port from (modifyvm --vrdeport)."),
    cfg.HostAddressOpt("vrde_address", default="127.0.0.1", help="Address the VRDE servers listen on."),
    cfg.IntOpt("command_timeout", default=120, min=1,
               help="Seconds one VBoxManage command may take (disk copies: disk_timeout) before it is killed and "
                    "the operation fails."),
    cfg.IntOpt("disk_timeout", default=1800, min=1,
               help="Seconds a disk conversion, clone or resize (convertfromraw, clonemedium, modifymedium) may take."),
    cfg.IntOpt("shutdown_timeout", default=60, min=0,
               help="Seconds a soft reboot waits for the guest to power off after the ACPI power button before "
                    "the machine is reset."),
    cfg.IntOpt("console_log_max_bytes", default=100 * 1024, min=1024,
               help="Bytes of the end of the serial console log that console output returns."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """The ``[virtualbox]`` options (oslo-config-generator, ``cumulo plugin show``)."""
    return [(GROUP, list(opts))]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the ``[virtualbox]`` options on ``conf`` (again is fine)."""
    try:
        conf.register_opts(opts, group=GROUP)
    except cfg.DuplicateOptError:
        pass


def _state_path(conf: cfg.ConfigOpts) -> str:
    try:
        return str(conf.state_path)
    except cfg.NoSuchOptError:  # a bare ConfigOpts (tools, tests) without [DEFAULT] registered
        return os.path.expanduser("~/.cumulo")


def machine_folder(conf: cfg.ConfigOpts) -> str:
    """``[virtualbox] machine_folder`` or ``<state_path>/virtualbox/machines``."""
    return os.path.abspath(conf.virtualbox.machine_folder or os.path.join(_state_path(conf), "virtualbox", "machines"))


def images_path(conf: cfg.ConfigOpts) -> str:
    """``[virtualbox] images_path`` or ``<state_path>/virtualbox/images``."""
    return os.path.abspath(conf.virtualbox.images_path or os.path.join(_state_path(conf), "virtualbox", "images"))


def port_range(text: str) -> tuple[int, int]:
    """``"5000-5099"`` (or ``"5000"``) -> ``(5000, 5099)``.

    :raises ValueError: not a range of ports.
    """
    low, _, high = text.strip().partition("-")
    first, last = int(low), int(high or low)
    if not 0 < first <= last < 65536:
        raise ValueError(f"{text!r} is not a port range")
    return first, last


def problems(conf: cfg.ConfigOpts) -> list[str]:
    """What keeps the driver from working with these options, one line each."""
    vb = conf.virtualbox
    found = []
    if shutil.which(vb.vboxmanage_path) is None:
        found.append(f"[virtualbox] vboxmanage_path: {vb.vboxmanage_path!r} is not an executable program "
                     "(is VirtualBox installed?)")
    try:
        port_range(vb.vrde_ports)
    except ValueError as err:
        found.append(f"[virtualbox] vrde_ports: {err} (e.g. 5000-5099)")
    if vb.nic_mode == "hostonly" and not vb.hostonly_adapter:
        found.append("[virtualbox] hostonly_adapter: empty, but nic_mode is hostonly")
    return found
