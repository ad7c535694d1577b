"""Volumes in real QEMU guests (TCG here) through :class:`LibvirtDriver` on ``qemu:///system``.

Two tiny guests (``cumulo-guest-tiny``: a Debian kernel booted directly, busybox) are started once
for the module, at the same time: ``A`` on a local root overlay of the tiny image, ``B`` booted from
a volume (its root disk is the volume's qcow2 file, nothing copied into its instance directory). A
volume made as the file volume driver makes one after a snapshot (a qcow2 over a qcow2 backing
file, the backing format recorded in the header) is hot-plugged into A, which finds it as
``/dev/vdb`` with the volume's id as its serial, reads what the backing file holds and writes a
pattern; it is hot-unplugged (the guest acknowledges the PCIe unplug) and hot-plugged into B, which
reads the pattern back; then B goes through stop/start, a hard reboot and a resize with both its
volumes, and reads the pattern once more.

Everything inside a guest is done through its serial console (libvirt's console stream: root logs
in on the tiny guest's getty without a password), which is also logged to ``console.log``.

Needs root, QEMU, libvirt, libvirt-python and the tiny guest's Debian packages (``apt-get
download``, cached in ``~/.cache/cumulo/tiny``): without them the module skips with the reason, and
fails instead under ``CI``. It holds the machine's libvirtd (``libvirtd_session``) while it runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import secrets
import shutil
import subprocess
import time
import uuid as uuidlib
from collections.abc import Iterator
from typing import Any

import pytest
from cumulo_hypervisor_libvirt import daemons, events, guest, opts
from cumulo_hypervisor_libvirt.driver import ROOT_DISK, LibvirtDriver
from cumulo_hypervisor_libvirt.serial_shell import SerialShell
from oslo_config import cfg

from cumulo import conf as cumulo_conf
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.hypervisor import (
    BlockDevice,
    ConnectionInfo,
    FileConnection,
    Flavor,
    HypervisorError,
    ImageMeta,
    ImageReader,
    Instance,
    PowerState,
    StreamImageReader,
)
from cumulo.testing.fixtures import libvirtd_session, unavailable, wait_for

URI = "qemu:///system"
MARKER = "cumulo-tiny: up"
MiB = 1024 * 1024


def _require() -> None:
    if os.geteuid() != 0:
        unavailable("real guests need root (libvirtd is started here when none runs)")
    for tool in ("qemu-system-x86_64", "qemu-img"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed (tools/system-packages.sh installs it)")
    if not (shutil.which("libvirtd") or os.path.exists("/usr/sbin/libvirtd")):
        unavailable("libvirtd is not installed (tools/system-packages.sh installs it)")
    try:
        import cumulo_guest_tiny  # noqa: F401
    except ImportError:
        unavailable("the cumulo-guest-tiny plugin (the guest these tests boot) is not installed")


# -- the host: libvirtd, the tiny guest's files, the driver -------------------------------------------
@dataclasses.dataclass(frozen=True)
class Host:
    driver: LibvirtDriver
    conn: Any
    tmp: str
    image: ImageReader
    tiny_qcow2: str


def _file_reader(image_id: str, path: str, disk_format: str = "raw",
                 related: dict[str, StreamImageReader] | None = None, **props: str) -> StreamImageReader:
    """A reader of the file ``path`` as image ``image_id``; ``related`` are the images it names (kernel, ramdisk)."""
    with open(path, "rb") as f:
        md5 = hashlib.md5(f.read(), usedforsecurity=False).hexdigest()

    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as f:
            while chunk := f.read(MiB):
                yield chunk

    meta = ImageMeta(id=image_id, disk_format=disk_format, size=os.path.getsize(path), checksum=md5,
                     properties=props)
    return StreamImageReader(meta, chunks, open_related=lambda rid: (related or {})[rid])


def _conf(tmp: str) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    cumulo_conf.register(conf)
    conf.set_override("state_path", tmp)
    opts.register_opts(conf)
    for name, value in {"connection_uri": URI, "virt_type": "qemu", "shutdown_timeout": 5,
                        "instances_path": os.path.join(tmp, "instances"),
                        "images_path": os.path.join(tmp, "_base")}.items():
        conf.set_override(name, value, group="libvirt")
    return conf


def _destroy_domains_under(conn: Any, path: str) -> None:
    """Backstop: destroy and undefine every domain whose XML names ``path`` (this module's)."""
    import libvirt

    for dom in conn.listAllDomains():
        with contextlib.suppress(libvirt.libvirtError):
            if path in dom.XMLDesc(0):
                if dom.isActive():
                    dom.destroy()
                dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    _require()
    import libvirt
    from cumulo_guest_tiny import build

    tmp = str(tmp_path_factory.mktemp("lvvol"))
    try:
        tiny = build.build(os.path.join(tmp, "tiny"))
    except build.BuildError as err:
        unavailable(f"the tiny guest cannot be built here: {err}")
    related = {"lvvol-kernel": _file_reader("lvvol-kernel", tiny.vmlinux, "aki"),
               "lvvol-ramdisk": _file_reader("lvvol-ramdisk", tiny.initrd, "ari")}
    image = _file_reader("lvvol-tiny", tiny.qcow2, "qcow2", related, kernel_id="lvvol-kernel",
                         ramdisk_id="lvvol-ramdisk", os_command_line="root=/dev/vda console=ttyS0 quiet")
    with libvirtd_session():
        if not daemons.can_start() and daemons._default_probe(URI) is not None:
            unavailable(f"{URI} does not answer and libvirtd cannot be started here")
        try:
            started = list(daemons.start_local(URI))
        except HypervisorError as err:
            unavailable(str(err))
        try:
            libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
            events.ensure_event_loop()  # before open: the consoles' non-blocking streams need it
            conn = libvirt.open(URI)
            drv = LibvirtDriver(PluginContext(_conf(tmp), kind="hypervisor", name="libvirt",
                                              host=f"lvvol-{secrets.token_hex(3)}"))
            try:
                yield Host(drv, conn, tmp, image, tiny.qcow2)
            finally:
                _destroy_domains_under(conn, tmp)
                conn.close()
                drv._closing.set()  # no reconnecting when the libvirtd started here stops
                if drv._conn is not None:
                    drv._conn.close()
        finally:
            for daemon in reversed(started):
                daemon.stop()
            shutil.rmtree(tmp, ignore_errors=True)  # volume files and instance directories


# -- guests and volumes ------------------------------------------------------------------------------
def _instance(name: str) -> Instance:
    return Instance(uuid=str(uuidlib.uuid4()), name=name, hostname=name, image_ref="lvvol-tiny",
                    flavor=Flavor(id="1", name="t1.tiny", vcpus=1, memory_mb=256, root_gb=1))


def _volume(path: str, volume_id: str, device_name: str | None = None, boot_index: int | None = None) -> BlockDevice:
    return BlockDevice(source_type="volume", destination_type="volume", device_name=device_name,
                       boot_index=boot_index, volume_id=volume_id,
                       connection_info=ConnectionInfo(driver_volume_type="file", volume_id=volume_id,
                                                      data=FileConnection(path, "qcow2")))


def _qemu_img(*args: str) -> str:
    return subprocess.run(["qemu-img", *args], check=True, capture_output=True, text=True).stdout


def _volume_after_a_snapshot(directory: str, name: str, seed: bytes) -> tuple[str, str]:
    """A 64 MiB volume as the file driver leaves it after a snapshot: ``<name>`` over ``<name>.snap``.

    The backing file holds ``seed`` at 1 MiB (what the volume held when it was snapshotted); it is
    named relative to the volume and with its format, as the file driver names it. Returns
    (volume path, backing path).
    """
    os.makedirs(directory, mode=0o700, exist_ok=True)
    raw = os.path.join(directory, f"{name}.raw")
    with open(raw, "wb") as f:
        f.truncate(64 * MiB)
        f.seek(MiB)
        f.write(seed)
    backing = os.path.join(directory, f"{name}.snap")
    _qemu_img("convert", "-q", "-f", "raw", "-O", "qcow2", raw, backing)
    os.unlink(raw)
    os.chmod(backing, 0o400)  # the file driver keeps snapshot files read-only
    path = os.path.join(directory, name)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", os.path.basename(backing),
                    os.path.basename(path)], cwd=directory, check=True)
    os.chmod(path, 0o600)
    return path, backing


@dataclasses.dataclass
class Guest:
    instance: Instance
    shell: SerialShell | None = None

    def console_log(self, host: Host) -> str:
        path = guest.console_log_path(host.driver.instance_dir(self.instance))
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


def _wait_up(host: Host, g: Guest, after: int = 0, timeout: float = 120) -> None:
    """Until the guest's console log holds an up line after its first ``after`` characters."""
    wait_for(lambda: MARKER in g.console_log(host)[after:], timeout=timeout, interval=0.5,
             message=f"{g.instance.name}: no '{MARKER}' line logged in {timeout:.0f} s:\n"
                     f"{g.console_log(host)[after:][-2000:]}")


def _shell(host: Host, g: Guest) -> SerialShell:
    """The guest's console shell: the one open while its stream lives (until the domain stops), else a new one."""
    if g.shell is not None and g.shell.alive():
        return g.shell
    g.shell = SerialShell(host.conn, host.conn.lookupByUUIDString(g.instance.uuid), g.instance.name)
    g.shell.login()
    return g.shell


def _disk_sources(host: Host, g: Guest, live: bool = False) -> dict[str, str]:
    """target -> source file of the guest's disks, in its definition (or live)."""
    import xml.etree.ElementTree as ET

    import libvirt

    dom = host.conn.lookupByUUIDString(g.instance.uuid)
    root = ET.fromstring(dom.XMLDesc(0 if live else libvirt.VIR_DOMAIN_XML_INACTIVE))
    out = {}
    for disk in root.findall("devices/disk"):
        target, source = disk.find("target"), disk.find("source")
        if target is not None and source is not None:
            out[target.get("dev", "")] = source.get("file") or source.get("dev") or ""
    return out


def _target_of(host: Host, g: Guest, path: str, live: bool = False) -> str | None:
    return next((t for t, source in _disk_sources(host, g, live).items() if source == path), None)


@dataclasses.dataclass
class Guests:
    a: Guest
    b: Guest
    root_volume: str


@pytest.fixture(scope="module")
def guests(host: Host) -> Iterator[Guests]:
    """A (root on the image) and B (booted from a volume), spawned together, both up."""
    voldir = os.path.join(host.tmp, "volumes")
    os.makedirs(voldir, mode=0o700)
    # B's root volume: what the file driver makes from an image (a standalone qcow2 of it).
    root_volume = os.path.join(voldir, "volume-root")
    _qemu_img("convert", "-q", "-f", "qcow2", "-O", "qcow2", host.tiny_qcow2, root_volume)
    a, b = Guest(_instance("lvvol-a")), Guest(_instance("lvvol-b"))
    host.driver.spawn(a.instance, host.image, [])
    host.driver.spawn(b.instance, host.image, [],
                      block_devices=[_volume(root_volume, "root-volume-id", "/dev/vda", boot_index=0)])
    try:
        _wait_up(host, a)
        _wait_up(host, b)
        yield Guests(a, b, root_volume)
    finally:
        for g in (a, b):
            if g.shell is not None:
                g.shell.close()
            with contextlib.suppress(Exception):
                host.driver.destroy(g.instance, [])


def test_a_guest_boots_from_a_volume(host: Host, guests: Guests) -> None:
    """B's root disk is the volume's file itself: no overlay in its directory, and / is that disk."""
    b = guests.b
    assert _disk_sources(host, b)["vda"] == guests.root_volume
    assert not os.path.exists(os.path.join(host.driver.instance_dir(b.instance), ROOT_DISK))
    assert "staying in the initramfs" not in b.console_log(host)
    shell = _shell(host, b)
    mounts = shell.run("grep ' / ' /proc/mounts")
    assert re.search(r"^/dev/vda / ext4 rw", mounts, re.M), mounts
    assert shell.run("cat /sys/block/vda/serial").strip() == "root-volume-id"


def test_a_volume_moves_between_running_guests_with_its_data(host: Host, guests: Guests) -> None:
    a, b = guests.a, guests.b
    drv = host.driver
    vid = str(uuidlib.uuid4())
    seed, pattern = f"snapshot-{secrets.token_hex(8)}", f"written-by-a-{secrets.token_hex(8)}"
    path, backing = _volume_after_a_snapshot(os.path.join(host.tmp, "volumes"), f"volume-{vid}", seed.encode())
    backing_sum = hashlib.sha256(open(backing, "rb").read()).hexdigest()
    bdm = _volume(path, vid, "/dev/vdb")

    # Hot-plug into A: the guest sees a new virtio disk, its serial the volume id, under the name libvirt gave
    # it. /dev/vdb was asked for, but the config drive (a virtio disk: the tiny guest reads no other bus) is
    # vdb, so the driver takes the first free name, as the guest itself does.
    shell = _shell(host, a)
    drv.attach_volume(a.instance, bdm)
    target = _target_of(host, a, path, live=True)
    assert target == _target_of(host, a, path) == "vdc"  # live and in the definition (survives a stop)
    assert shell.disk_with_serial(vid) == target
    # What the backing file holds is read through the chain (libvirt opened it with its recorded format).
    assert shell.run(f"dd if=/dev/{target} bs=1M skip=1 count=1 2>/dev/null | head -c {len(seed)}") == seed
    shell.run(f"printf '{pattern}' | dd of=/dev/{target} bs=512 conv=sync 2>/dev/null; sync")

    # Hot-unplug: returns only once the guest has let the disk go.
    started = time.monotonic()
    drv.detach_volume(a.instance, bdm)
    print(f"\ndetach from {a.instance.name}: {time.monotonic() - started:.1f} s")
    assert _target_of(host, a, path, live=True) is None and _target_of(host, a, path) is None
    shell.run(f"[ ! -e /sys/block/{target} ]")
    assert hashlib.sha256(open(backing, "rb").read()).hexdigest() == backing_sum  # writes went to the top

    # Into B (booted from its root volume): the pattern is there, and the snapshot's data under it.
    shell = _shell(host, b)
    drv.attach_volume(b.instance, bdm)
    target = _target_of(host, b, path, live=True)
    assert shell.disk_with_serial(vid) == target
    assert shell.run(f"head -c {len(pattern)} /dev/{target}") == pattern
    assert shell.run(f"dd if=/dev/{target} bs=1M skip=1 count=1 2>/dev/null | head -c {len(seed)}") == seed

    # Stop/start, hard reboot, resize: the definition keeps both volumes; the guest reads the pattern after.
    wanted = {"vda": guests.root_volume, target: path}
    drv.power_off(b.instance, 0)
    assert drv.get_power_state(b.instance) == PowerState.SHUTDOWN
    assert {t: _disk_sources(host, b)[t] for t in wanted} == wanted
    drv.power_on(b.instance)
    drv.reboot(b.instance, hard=True)
    assert {t: _disk_sources(host, b, live=True)[t] for t in wanted} == wanted
    bigger = Flavor(id="2", name="t1.small", vcpus=1, memory_mb=320, root_gb=1)
    log_mark = len(b.console_log(host))
    info = drv.migrate_disk_and_power_off(b.instance, drv.host, bigger)
    resized = dataclasses.replace(b.instance, flavor=bigger)
    drv.finish_migration(resized, info, [], host.image.meta, True,
                         block_devices=[_volume(guests.root_volume, "root-volume-id", "/dev/vda", 0), bdm])
    drv.confirm_migration(resized, [])
    b.instance = resized
    assert {t: _disk_sources(host, b, live=True)[t] for t in wanted} == wanted
    _wait_up(host, b, after=log_mark)
    shell = _shell(host, b)
    assert shell.disk_with_serial(vid) == target
    assert shell.run(f"head -c {len(pattern)} /dev/{target}") == pattern

    # A guest that does not answer the unplug (paused here) keeps the volume: the detach fails after
    # [libvirt] device_detach_timeout, the disk still attached live and in the definition; it can be retried.
    drv.pause(b.instance)
    drv.conf.set_override("device_detach_timeout", 3, group="libvirt")
    try:
        with pytest.raises(HypervisorError, match="did not release"):
            drv.detach_volume(b.instance, bdm)
    finally:
        drv.conf.clear_override("device_detach_timeout", group="libvirt")
    assert _target_of(host, b, path, live=True) == target == _target_of(host, b, path)
    drv.unpause(b.instance)
    drv.detach_volume(b.instance, bdm)
    assert _target_of(host, b, path, live=True) is None and _target_of(host, b, path) is None
    shell.run(f"[ ! -e /sys/block/{target} ]")
