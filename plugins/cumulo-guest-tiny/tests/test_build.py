"""The real build, then the real guest under QEMU (TCG): it must reach its marker within 60 s.

The guest boots as the libvirt driver boots an AKI/ARI image: ``-kernel tiny-vmlinux
-initrd tiny-initrd``, its root disk a qcow2 overlay of ``tiny.qcow2``, a config drive
(ISO9660 labelled ``config-2``) and user-mode networking (QEMU's DHCP gives 10.0.2.15).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import socket
import stat
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from types import ModuleType

import pytest
from cumulo_guest_tiny import MARKER, build

BOOT_TIMEOUT = 60.0
META = {"uuid": "6f2b3c57-0000-4000-8000-000000000001", "name": "tiny-test", "hostname": "tiny-test",
        "public_keys": {"test-key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITiny test@cumulo\n"},
        "admin_pass": "tiny-secret", "launch_index": 0, "availability_zone": "nova"}


class SerialConsole:
    """A guest's console (QEMU's stdio, or a pty): everything it printed, and a way to type."""

    def __init__(self, proc: subprocess.Popen[bytes], read_fd: int, write_fd: int) -> None:
        self.proc = proc
        self.read_fd, self.write_fd = read_fd, write_fd
        self.output = bytearray()
        self._cond = threading.Condition()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        try:
            while chunk := os.read(self.read_fd, 4096):
                with self._cond:
                    self.output += chunk
                    self._cond.notify_all()
        except OSError:  # a pty's master reads EIO once the last slave is closed
            pass

    def wait_for(self, text: str, timeout: float, after: int = 0) -> int:
        """Index just past ``text`` once the console shows it (after byte ``after``); fails on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (i := self.output.find(text.encode(), after)) < 0:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    pytest.fail(f"no {text!r} on the console after {timeout:.0f}s; it shows:\n"
                                f"{self.text[-3000:]}")
                self._cond.wait(min(left, 0.5))
            return i + len(text)

    def type(self, line: str) -> None:
        os.write(self.write_fd, line.encode() + b"\r")

    def monitor(self, command: str) -> None:
        """Run a QEMU monitor command (``-nographic`` muxes the monitor on stdio: Ctrl-A c switches)."""
        os.write(self.write_fd, b"\x01c")
        time.sleep(0.3)
        os.write(self.write_fd, command.encode() + b"\r")

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")


def config_drive(pycdlib: ModuleType, path: str, meta: dict[str, object]) -> None:
    """An OpenStack config drive as Nova writes it: ISO9660 + Joliet + Rock Ridge, label config-2."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=4, joliet=3, rock_ridge="1.09", vol_ident="config-2")
    for d in ("openstack", "openstack/latest"):
        iso.add_directory("/" + d.upper(), rr_name=d.rsplit("/", 1)[-1], joliet_path="/" + d)
    data = json.dumps(meta).encode()
    iso.add_fp(io.BytesIO(data), len(data), "/OPENSTACK/LATEST/META_DATA.JSON;1", rr_name="meta_data.json",
               joliet_path="/openstack/latest/meta_data.json")
    iso.write(path)
    iso.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _boot(qemu: str, image: build.TinyImage, workdir: str, root_disk: bool, config_iso: str | None,
          netdev: str = "user,id=n0") -> Iterator[tuple[SerialConsole, int, float]]:
    """Start the guest; yields its console, the host port forwarded to its port 80, and the start time."""
    drives = []
    if root_disk:
        overlay = os.path.join(workdir, "overlay.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", image.qcow2, overlay],
                       check=True)
        drives += ["-drive", f"file={overlay},if=virtio"]
    if config_iso:
        drives += ["-drive", f"file={config_iso},if=virtio,readonly=on,format=raw"]
    port = _free_port()
    argv = [qemu, "-accel", "tcg", "-M", "q35", "-m", "256", "-nographic", "-no-reboot",
            "-kernel", image.vmlinux, "-initrd", image.initrd, *drives,
            "-netdev", f"{netdev},hostfwd=tcp:127.0.0.1:{port}-:80", "-device", "virtio-net-pci,netdev=n0",
            "-append", "console=ttyS0 root=/dev/vda" if root_disk else "console=ttyS0"]
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        yield SerialConsole(proc, proc.stdout.fileno(), proc.stdin.fileno()), port, started
    finally:
        proc.kill()
        proc.wait(10)


def _config_iso(pycdlib: ModuleType, workdir: str) -> str:
    iso = os.path.join(workdir, "config.iso")
    config_drive(pycdlib, iso, META)
    return iso


@pytest.fixture(scope="module")
def booted(qemu: str, pycdlib: ModuleType, tiny_image: build.TinyImage,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SerialConsole, int, float]]:
    """The guest booted once from its root disk; the tests below read and use its console."""
    workdir = str(tmp_path_factory.mktemp("boot"))
    yield from _boot(qemu, tiny_image, workdir, root_disk=True, config_iso=_config_iso(pycdlib, workdir))


def test_outputs(tiny_image: build.TinyImage) -> None:
    with open(tiny_image.vmlinux, "rb") as f:
        assert f.read(4) == b"\x7fELF"
    with gzip.open(tiny_image.initrd) as g:
        assert g.read(6) == b"070701"
    with open(tiny_image.qcow2, "rb") as f:
        assert f.read(4) == b"QFI\xfb"
    with tarfile.open(tiny_image.rootfs_tar) as tar:
        init = tar.getmember("sbin/init")
        assert init.isfile() and init.mode & 0o111 and init.uid == 0
        assert tar.getmember("bin/sh").issym()
        assert any(n.endswith("/modules.dep") for n in tar.getnames())


def test_rebuild_of_same_packages_is_a_no_op(tiny_image: build.TinyImage) -> None:
    before = {p: os.stat(p).st_mtime_ns for p in (tiny_image.vmlinux, tiny_image.qcow2)}
    steps: list[str] = []
    again = build.build(tiny_image.output_dir, os.environ.get("CUMULO_TINY_CACHE", "~/.cache/cumulo/tiny"),
                        progress=steps.append)
    assert again == tiny_image and any(s.startswith("up to date") for s in steps)
    assert {p: os.stat(p).st_mtime_ns for p in before} == before


def test_boots_to_marker_from_its_root_disk(booted: tuple[SerialConsole, int, float]) -> None:
    console, _, started = booted
    console.wait_for(f"{MARKER} tiny-test 10.0.2.15", BOOT_TIMEOUT)
    print(f"\ntiny guest (TCG, root on qcow2 overlay): marker after {time.monotonic() - started:.1f} s")
    assert "staying in the initramfs" not in console.text


def test_serves_http_naming_the_hostname(booted: tuple[SerialConsole, int, float]) -> None:
    console, port, _ = booted
    console.wait_for(MARKER, BOOT_TIMEOUT)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
        assert resp.status == 200 and b"tiny-test" in resp.read()


def test_config_drive_sets_password_and_key(booted: tuple[SerialConsole, int, float]) -> None:
    console, _, _ = booted
    at = console.wait_for("tiny-test login:", BOOT_TIMEOUT)
    console.type("root")
    at = console.wait_for("Password:", 10, at)
    console.type(str(META["admin_pass"]))
    at = console.wait_for("#", 10, at)
    console.type("echo key=$(cat /root/.ssh/authorized_keys) root=$(findmnt -n -o SOURCE / 2>/dev/null"
                 " || awk '$2==\"/\"{print $1}' /proc/mounts | tail -n 1)")
    console.wait_for("key=ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITiny test@cumulo root=/dev/vda", 10, at)


def test_boots_from_the_initramfs_alone(qemu: str, pycdlib: ModuleType, tiny_image: build.TinyImage,
                                       tmp_path: os.PathLike[str]) -> None:
    """No root disk (the config drive is /dev/vda, and is not mistaken for one): the initramfs is the system."""
    for console, _, started in _boot(qemu, tiny_image, str(tmp_path), root_disk=False,
                                     config_iso=_config_iso(pycdlib, str(tmp_path))):
        console.wait_for(f"{MARKER} tiny-test 10.0.2.15", BOOT_TIMEOUT)
        print(f"\ntiny guest (TCG, initramfs only): marker after {time.monotonic() - started:.1f} s")


def test_rootfs_tarball_runs_as_a_container(container_tools: None, tiny_image: build.TinyImage,
                                            tmp_path: os.PathLike[str]) -> None:
    """The LXC rootfs under fresh namespaces, as libvirt's LXC driver runs it: /sbin/init as PID 1, a pty as
    /dev/console, no network but lo and no module loading (CAP_SYS_MODULE dropped)."""
    root = os.path.join(tmp_path, "rootfs")
    with tarfile.open(tiny_image.rootfs_tar) as tar:
        tar.extractall(root)
    for name, minor in (("null", 3), ("zero", 5)):
        os.mknod(os.path.join(root, "dev", name), stat.S_IFCHR | 0o666, os.makedev(1, minor))
    open(os.path.join(root, "dev", "console"), "w").close()  # the mount point of the pty
    master, slave = os.openpty()
    script = (f"mount -t proc proc {root}/proc && mount --bind {os.ttyname(slave)} {root}/dev/console && "
              f"exec setpriv --bounding-set -sys_module chroot {root} /sbin/init")
    proc = subprocess.Popen(["unshare", "--mount", "--uts", "--ipc", "--net", "--pid", "--fork", "--kill-child",
                             "--propagation", "private", "sh", "-c", script],
                            stdin=slave, stdout=slave, stderr=slave)  # init's stdio is the console too
    try:
        console = SerialConsole(proc, read_fd=master, write_fd=master)
        started = time.monotonic()
        at = console.wait_for(f"{MARKER} cumulo-tiny none", 30)
        print(f"\ntiny rootfs as a container: marker after {time.monotonic() - started:.2f} s")
        console.wait_for("cumulo-tiny login:", 10, at)
    finally:
        proc.kill()
        proc.wait(10)
        os.close(master)
        os.close(slave)  # held open until now: a pty whose slave is closed reads EIO


# Answers one HTTP request on stdin/stdout: what QEMU's guestfwd "cmd:" runs for each guest connection.
METADATA_SERVER = r"""
import json, sys
body = json.dumps({"hostname": "meta-test", "public_keys": {"k": "ssh-ed25519 AAAAmeta meta@cumulo"}}).encode()
request = sys.stdin.buffer.readline()
while sys.stdin.buffer.readline() not in (b"\r\n", b"\n", b""):
    pass
if b" /openstack/latest/meta_data.json " not in request:
    body = b""
status = b"200 OK" if body else b"404 Not Found"
sys.stdout.buffer.write(b"HTTP/1.0 %s\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body))
"""


def test_metadata_service_when_there_is_no_config_drive(qemu: str, tiny_image: build.TinyImage,
                                                        tmp_path: os.PathLike[str]) -> None:
    """No config drive: the guest asks http://169.254.169.254 (here QEMU's guestfwd to a one-shot server)."""
    server = os.path.join(tmp_path, "metadata.py")
    with open(server, "w") as f:
        f.write(METADATA_SERVER)
    # The link-local network itself, so the metadata address is inside QEMU's virtual network.
    netdev = (f"user,id=n0,net=169.254.169.0/24,host=169.254.169.2,"
              f"guestfwd=tcp:169.254.169.254:80-cmd:{sys.executable} {server}")
    for console, _, _ in _boot(qemu, tiny_image, str(tmp_path), root_disk=False, config_iso=None, netdev=netdev):
        console.wait_for(f"{MARKER} meta-test 169.254.169.15", BOOT_TIMEOUT)


def test_acpi_power_button_powers_off(qemu: str, tiny_image: build.TinyImage, tmp_path: os.PathLike[str]) -> None:
    """libvirt's graceful shutdown presses the ACPI power button: acpid must power the guest off, promptly."""
    for console, _, _ in _boot(qemu, tiny_image, str(tmp_path), root_disk=True, config_iso=None):
        console.wait_for("login:", BOOT_TIMEOUT)
        pressed = time.monotonic()
        console.monitor("system_powerdown")
        assert console.proc.wait(30) == 0, console.text[-2000:]
        assert "Power down" in console.text
        print(f"\ntiny guest: powered off {time.monotonic() - pressed:.1f} s after the power button")
