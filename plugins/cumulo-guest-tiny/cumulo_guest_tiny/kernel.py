"""The kernel side of the tiny guest: ``vmlinux`` out of a Debian ``vmlinuz``, and the modules it needs.

QEMU boots an uncompressed ELF ``vmlinux`` through its PVH entry point, which skips
SeaBIOS's real-mode loader and the in-guest XZ decompression: under TCG that is about
6 s to the guest's marker instead of 15 (see HOST-NOTES). Module dependencies are read
from each ``.ko``'s ``.modinfo`` section, so no ``modinfo``/``depmod`` of the host is needed.
"""

from __future__ import annotations

import lzma
import os
import shutil
import struct
import zlib
from collections.abc import Iterable

_ELF_MAGIC = b"\x7fELF"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_GZIP_MAGIC = b"\x1f\x8b\x08"
_LZMA_MAGIC = b"\x5d\x00\x00"


class KernelError(Exception):
    """The kernel package is not what the build expects (not a bzImage, unknown compression, missing module)."""


def extract_vmlinux(bzimage: bytes) -> bytes:
    """Return the uncompressed ELF kernel inside an x86 ``bzImage`` (boot protocol 2.08+, xz/lzma/gzip payload).

    :raises KernelError: not a bzImage, or a compression Python's standard library does not read.
    """
    if len(bzimage) < 0x250 or bzimage[0x202:0x206] != b"HdrS":
        raise KernelError("not an x86 bzImage (no 'HdrS' setup header)")
    (version,) = struct.unpack_from("<H", bzimage, 0x206)
    if version < 0x208:
        raise KernelError(f"boot protocol {version >> 8}.{version & 0xff} predates payload_offset (2.08)")
    setup_sects = bzimage[0x1F1] or 4
    payload_offset, payload_length = struct.unpack_from("<II", bzimage, 0x248)
    start = (setup_sects + 1) * 512 + payload_offset
    payload = bzimage[start:start + payload_length]
    try:
        if payload.startswith(_XZ_MAGIC):
            elf = lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(payload)
        elif payload.startswith(_LZMA_MAGIC):
            elf = lzma.LZMADecompressor(lzma.FORMAT_ALONE).decompress(payload)
        elif payload.startswith(_GZIP_MAGIC):
            elf = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(payload)
        else:
            raise KernelError(f"kernel payload compression not supported (magic {payload[:6].hex()}); "
                              "Debian's amd64 kernels are xz")
    except (lzma.LZMAError, zlib.error) as err:
        raise KernelError(f"kernel payload does not decompress: {err}") from None
    if not elf.startswith(_ELF_MAGIC):
        raise KernelError("decompressed kernel payload is not an ELF image")
    return elf


def modinfo(ko: bytes) -> dict[str, list[str]]:
    """The ``key=value`` strings of a kernel module's ``.modinfo`` section (ELF64 little-endian), by key."""
    if not ko.startswith(_ELF_MAGIC) or ko[4] != 2 or ko[5] != 1:
        raise KernelError("not a 64-bit little-endian ELF kernel module")
    shoff, = struct.unpack_from("<Q", ko, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ko, 0x3A)

    def section(i: int) -> tuple[int, int, int]:
        name, _type, _flags, _addr, offset, size = struct.unpack_from("<IIQQQQ", ko, shoff + i * shentsize)
        return name, offset, size

    _, str_off, _ = section(shstrndx)
    info: dict[str, list[str]] = {}
    for i in range(shnum):
        name, offset, size = section(i)
        if ko[str_off + name:ko.index(b"\0", str_off + name)] == b".modinfo":
            for item in ko[offset:offset + size].split(b"\0"):
                key, sep, value = item.decode(errors="replace").partition("=")
                if sep:
                    info.setdefault(key, []).append(value)
    return info


def _canonical(name: str) -> str:
    return name.replace("-", "_")


def module_index(modules_dir: str) -> dict[str, str]:
    """Module name -> path relative to ``modules_dir`` (``/lib/modules/<version>``) for every ``.ko`` in it."""
    index = {}
    for dirpath, _dirs, files in os.walk(os.path.join(modules_dir, "kernel")):
        for f in files:
            if f.endswith(".ko"):
                index[_canonical(f[:-3])] = os.path.relpath(os.path.join(dirpath, f), modules_dir)
    return index


def builtin_modules(modules_dir: str) -> set[str]:
    """Names of the modules compiled into the kernel (listed in ``modules.builtin``)."""
    path = os.path.join(modules_dir, "modules.builtin")
    if not os.path.exists(path):
        return set()
    with open(path) as f:
        return {_canonical(os.path.basename(line.strip())[:-3]) for line in f if line.strip().endswith(".ko")}


def module_closure(modules_dir: str, wanted: Iterable[str], optional: Iterable[str] = ()) -> list[str]:
    """Relative paths of ``wanted`` modules and everything they depend on (``optional`` ones may be absent).

    Built-in modules need no file and are skipped.

    :raises KernelError: a wanted module, or a dependency, is neither a file nor built in.
    """
    index, builtin = module_index(modules_dir), builtin_modules(modules_dir)
    chosen: dict[str, str] = {}
    todo = [(_canonical(m), True) for m in wanted] + [(_canonical(m), False) for m in optional]
    while todo:
        name, required = todo.pop()
        if name in chosen or name in builtin:
            continue
        if name not in index:
            if required:
                raise KernelError(f"kernel module {name} is neither in {modules_dir} nor built in")
            continue
        chosen[name] = index[name]
        with open(os.path.join(modules_dir, index[name]), "rb") as f:
            deps = modinfo(f.read()).get("depends", [""])[0]
        todo.extend((_canonical(d), True) for d in deps.split(",") if d)
    return sorted(chosen.values())


def copy_modules(modules_dir: str, dest_dir: str, relpaths: Iterable[str]) -> None:
    """Copy the chosen modules, and the ``modules.order``/``modules.builtin`` lists, into ``dest_dir``."""
    for rel in [*relpaths, "modules.order", "modules.builtin"]:
        src = os.path.join(modules_dir, rel)
        if os.path.exists(src):
            os.makedirs(os.path.dirname(os.path.join(dest_dir, rel)), exist_ok=True)
            shutil.copyfile(src, os.path.join(dest_dir, rel))
