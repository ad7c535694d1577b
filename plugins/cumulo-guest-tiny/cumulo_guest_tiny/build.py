"""Assemble the tiny guest from the unpacked Debian kernel and busybox-static.

One userland tree (busybox, its applet links, the init and udhcpc scripts, the
modules) becomes four outputs in the output directory:

- ``tiny-vmlinux``: the uncompressed kernel (QEMU boots it through PVH, the fastest path under TCG);
- ``tiny-initrd``: a gzip newc cpio of the tree, with ``/init`` and ``/dev/console``;
- ``tiny.qcow2``: an ext4 root disk of the same tree (``mkfs.ext4 -d``, no root or loop device needed);
- ``tiny-rootfs.tar.gz``: the tree again, for LXC (``/sbin/init`` is the same init).

A build records its inputs (the .deb names, the guest scripts, ``BUILD_FORMAT``) in
``tiny-manifest.json``; when they have not changed and the outputs are there, it does
nothing, so the files keep their checksums and ``--upload`` reuses the images. The
archives are reproducible anyway (fixed permissions and times, sorted members, no
gzip time); the ext4 image is not quite (``mkfs.ext4 -d`` copies each file's ctime).
"""

from __future__ import annotations

import dataclasses
import glob
import gzip
import hashlib
import importlib.resources
import json
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
import uuid
from collections.abc import Callable

from cumulo_guest_tiny import cpio, debs, kernel

#: Modules the guest loads (with their dependencies); ``OPTIONAL_MODULES`` may be missing from a kernel.
MODULES = ("virtio_pci", "virtio_blk", "virtio_net", "crc32c_generic", "isofs", "ext4")
OPTIONAL_MODULES = ("virtio_console", "evdev", "button")  # button+evdev: acpid sees the power button
DISK_SIZE = "64M"
GUEST_SCRIPTS = ("init", "default.script", "power-button")
#: Bump when a change here changes what a build writes from the same packages (invalidates manifests).
BUILD_FORMAT = 1
MANIFEST = "tiny-manifest.json"
OUTPUTS = ("tiny-vmlinux", "tiny-initrd", "tiny.qcow2", "tiny-rootfs.tar.gz")
# Fixed so the ext4 image is the same bytes on every build of the same packages.
_FS_UUID = str(uuid.uuid5(uuid.NAMESPACE_URL, "cumulo-tiny-rootfs"))
_HASH_SEED = str(uuid.uuid5(uuid.NAMESPACE_URL, "cumulo-tiny-hash-seed"))

Progress = Callable[[str], None]


class BuildError(Exception):
    """The build cannot go on; the message names the step and the cause."""


@dataclasses.dataclass(frozen=True)
class TinyImage:
    """What a build produced: the four files and the kernel version they carry."""

    output_dir: str
    kernel_version: str
    vmlinux: str
    initrd: str
    qcow2: str
    rootfs_tar: str


def _tool(name: str) -> str:
    # mkfs.ext4 lives in /sbin, which is not on an ordinary user's PATH.
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        raise BuildError(f"{name} is not installed (package {_PACKAGES.get(name, name)})")
    return path


_PACKAGES = {"mkfs.ext4": "e2fsprogs", "qemu-img": "qemu-utils"}


def _run(argv: list[str], env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False,
                          env={**os.environ, **env} if env else None)
    if proc.returncode:
        raise BuildError(f"{os.path.basename(argv[0])} failed: {(proc.stderr or proc.stdout).strip()[-800:]}")
    return proc.stdout


def _guest_file(name: str) -> bytes:
    return importlib.resources.files("cumulo_guest_tiny").joinpath("guest", name).read_bytes()


def _write(path: str, data: bytes, mode: int = 0o644) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


_ETC = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nwww:x:80:80:httpd:/var/www:/bin/false\n",
    "etc/group": "root:x:0:\nwww:x:80:\n",
    # An empty password lets root log in on the console until the config drive sets admin_pass.
    "etc/shadow": "root::19000:0:99999:7:::\nwww:*:19000:0:99999:7:::\n",
    "etc/hosts": "127.0.0.1 localhost\n",
    "etc/hostname": "cumulo-tiny\n",
    "etc/inittab": "console::respawn:/sbin/getty -L 115200 console vt100\n",  # the init rewrites it
    "etc/resolv.conf": "",
}
_DIRS = ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "run", "mnt", "root",
         "var/www", "var/run", "var/log", "lib/modules")


def make_rootfs(pkgs: str, root: str, version: str) -> None:
    """Lay out the guest's userland under ``root`` from the unpacked packages in ``pkgs``."""
    for d in _DIRS:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    busybox = os.path.join(root, "bin", "busybox")
    shutil.copyfile(os.path.join(pkgs, "bin", "busybox"), busybox)
    os.chmod(busybox, 0o755)
    for applet in _run([busybox, "--list-full"]).split():
        link = os.path.join(root, applet)
        if applet in ("bin/busybox", "sbin/init", "linuxrc") or os.path.lexists(link):
            continue
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(os.path.relpath(busybox, os.path.dirname(link)), link)
    _write(os.path.join(root, "sbin", "init"), _guest_file("init"), 0o755)
    _write(os.path.join(root, "etc", "udhcpc", "default.script"), _guest_file("default.script"), 0o755)
    _write(os.path.join(root, "etc", "acpi", "PWRF", "00000080"), _guest_file("power-button"), 0o755)
    for rel, text in _ETC.items():
        _write(os.path.join(root, rel), text.encode(), 0o600 if rel == "etc/shadow" else 0o644)
    _write(os.path.join(root, "etc", "cumulo-tiny-release"), f"cumulo-tiny kernel {version}\n".encode())
    src = os.path.join(pkgs, "lib", "modules", version)
    dest = os.path.join(root, "lib", "modules", version)
    kernel.copy_modules(src, dest, kernel.module_closure(src, MODULES, OPTIONAL_MODULES))
    _run([busybox, "depmod", "-b", root, version])


def normalize(root: str, epoch: int) -> None:
    """Give every path under ``root`` fixed permissions and times, whatever the builder's umask and clock."""
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if not stat.S_ISLNK(st.st_mode):
                if stat.S_ISDIR(st.st_mode):
                    mode = 0o1777 if os.path.relpath(path, root) == "tmp" else 0o755
                elif os.path.relpath(path, root) == "etc/shadow":
                    mode = 0o600
                else:
                    mode = 0o755 if st.st_mode & 0o111 else 0o644
                os.chmod(path, mode)
            os.utime(path, (epoch, epoch), follow_symlinks=False)
    os.chmod(root, 0o755)
    os.utime(root, (epoch, epoch))


def write_initrd(root: str, path: str, epoch: int) -> None:
    """The initramfs: the tree plus ``/init``, ``/dev/console`` and the stage-1 flag file."""
    extra = [cpio.symlink("init", "sbin/init"), cpio.char_device("dev/console", 5, 1),
             cpio.file("etc/cumulo-initramfs", b"")]
    cpio.write_gzip(path, [*cpio.tree_entries(root, mtime=epoch), *extra])


def write_qcow2(root: str, path: str, workdir: str, epoch: int) -> None:
    """An ext4 filesystem of the tree (no partition table: the guest mounts ``/dev/vda``), as qcow2."""
    raw = os.path.join(workdir, "rootfs.raw")
    _run([_tool("mkfs.ext4"), "-q", "-F", "-t", "ext4", "-L", "cumulo-tiny", "-U", _FS_UUID,
          "-E", f"hash_seed={_HASH_SEED},root_owner=0:0", "-d", root, raw, DISK_SIZE],
         env={"E2FSPROGS_FAKE_TIME": str(epoch)})
    tmp = path + ".tmp"
    _run([_tool("qemu-img"), "convert", "-q", "-f", "raw", "-O", "qcow2", raw, tmp])
    os.replace(tmp, path)


def write_rootfs_tar(root: str, path: str, epoch: int) -> None:
    """The tree as a gzip tarball for LXC, owned by root whoever built it."""
    def owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = epoch
        return info

    tmp = path + ".tmp"
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for entry in sorted(os.listdir(root)):
            tar.add(os.path.join(root, entry), arcname=entry, filter=owner)
    os.replace(tmp, path)


def _inputs(deb_paths: list[str]) -> dict[str, object]:
    scripts = hashlib.sha256(b"".join(_guest_file(n) for n in GUEST_SCRIPTS)).hexdigest()
    return {"format": BUILD_FORMAT, "debs": [os.path.basename(p) for p in deb_paths], "guest_scripts": scripts}


def _up_to_date(output_dir: str, inputs: dict[str, object]) -> str | None:
    """The kernel version of the existing build when it was made from ``inputs`` and is all there."""
    try:
        with open(os.path.join(output_dir, MANIFEST)) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    sizes = manifest.get("sizes", {})
    if manifest.get("inputs") != inputs or any(
            not os.path.exists(p := os.path.join(output_dir, n)) or os.path.getsize(p) != sizes.get(n)
            for n in OUTPUTS):
        return None
    return str(manifest["kernel_version"])


def _write_manifest(out: TinyImage, inputs: dict[str, object]) -> None:
    sizes = {n: os.path.getsize(os.path.join(out.output_dir, n)) for n in OUTPUTS}
    data = json.dumps({"inputs": inputs, "kernel_version": out.kernel_version, "sizes": sizes}, indent=1)
    _write(os.path.join(out.output_dir, MANIFEST + ".tmp"), data.encode())
    os.replace(os.path.join(out.output_dir, MANIFEST + ".tmp"), os.path.join(out.output_dir, MANIFEST))


def build(output_dir: str, cache_dir: str = debs.DEFAULT_CACHE, progress: Progress = lambda _m: None,
          force: bool = False) -> TinyImage:
    """Build the four outputs into ``output_dir``; downloads only what ``cache_dir`` lacks.

    Does nothing when ``output_dir`` holds a complete build of the same inputs, unless ``force``.

    :raises BuildError: a tool or package is missing, or a step failed (the message says which).
    """
    output_dir = os.path.abspath(os.path.expanduser(output_dir))
    os.makedirs(output_dir, exist_ok=True)
    try:
        progress("resolving the kernel package")
        kpkg = debs.kernel_package()
        unpacked: list[str] = []
        for pkg in (kpkg, debs.BUSYBOX):
            cached = debs.cached_deb(os.path.expanduser(cache_dir), pkg)
            progress(f"using cached {os.path.basename(cached)}" if cached else f"downloading {pkg}")
            unpacked.append(debs.fetch(cache_dir, pkg))
        inputs = _inputs(unpacked)
        if not force and (version := _up_to_date(output_dir, inputs)) is not None:
            progress(f"up to date: {output_dir} (--force rebuilds)")
            return TinyImage(output_dir, version, *(os.path.join(output_dir, n) for n in OUTPUTS))
        with tempfile.TemporaryDirectory(prefix="tiny-build-", dir=output_dir) as work:
            pkgs, root = os.path.join(work, "pkgs"), os.path.join(work, "rootfs")
            progress("unpacking the packages")
            for deb in unpacked:
                debs.unpack(deb, pkgs)
            vmlinuz = sorted(glob.glob(os.path.join(pkgs, "boot", "vmlinuz-*")))
            if not vmlinuz:
                raise BuildError(f"{kpkg} holds no /boot/vmlinuz-*")
            version = os.path.basename(vmlinuz[-1])[len("vmlinuz-"):]
            epoch = int(os.stat(vmlinuz[-1]).st_mtime)
            progress(f"extracting vmlinux from vmlinuz-{version}")
            with open(vmlinuz[-1], "rb") as f:
                elf = kernel.extract_vmlinux(f.read())
            out = TinyImage(output_dir, version, *(os.path.join(output_dir, n) for n in OUTPUTS))
            _write(out.vmlinux + ".tmp", elf)
            os.replace(out.vmlinux + ".tmp", out.vmlinux)
            progress("laying out the root filesystem (busybox, init, modules, depmod)")
            make_rootfs(pkgs, root, version)
            normalize(root, epoch)
            progress("writing tiny-initrd (gzip cpio)")
            write_initrd(root, out.initrd, epoch)
            progress("writing tiny.qcow2 (mkfs.ext4 -d, qemu-img convert)")
            write_qcow2(root, out.qcow2, work, epoch)
            progress("writing tiny-rootfs.tar.gz")
            write_rootfs_tar(root, out.rootfs_tar, epoch)
            _write_manifest(out, inputs)
    except (debs.PackageError, kernel.KernelError, OSError) as err:
        raise BuildError(str(err)) from err
    progress(f"done: {output_dir}")
    return out
