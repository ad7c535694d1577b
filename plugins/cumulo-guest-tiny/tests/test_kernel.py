"""vmlinux extraction from a bzImage and module selection from ``.modinfo``, on synthetic inputs."""

from __future__ import annotations

import gzip
import lzma
import os
import struct

import pytest
from cumulo_guest_tiny import kernel

ELF = b"\x7fELF\x02\x01\x01" + b"\0" * 57 + b"kernel body" * 100


def bzimage(payload: bytes, version: int = 0x20F, setup_sects: int = 2, payload_offset: int = 0x40) -> bytes:
    """A bzImage-shaped blob: setup sectors with the 'HdrS' header, then the protected-mode part."""
    setup = bytearray((setup_sects + 1) * 512)
    setup[0x1F1] = setup_sects
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, version)
    struct.pack_into("<II", setup, 0x248, payload_offset, len(payload))
    return bytes(setup) + b"\x90" * payload_offset + payload + b"trailing size word"


@pytest.mark.parametrize("compress", [
    lambda d: lzma.compress(d, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32),
    lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE),
    lambda d: gzip.compress(d),
], ids=["xz", "lzma", "gzip"])
def test_extract_vmlinux(compress: object) -> None:
    assert kernel.extract_vmlinux(bzimage(compress(ELF))) == ELF  # type: ignore[operator]


@pytest.mark.parametrize(("blob", "message"), [
    (b"MZ" + b"\0" * 0x300, "not an x86 bzImage"),
    (bzimage(lzma.compress(ELF), version=0x206), "predates payload_offset"),
    (bzimage(b"\x28\xb5\x2f\xfd" + b"zstd"), "not supported"),
    (bzimage(lzma.compress(b"not an elf")), "not an ELF"),
    (bzimage(b"\xfd7zXZ\x00garbage"), "does not decompress"),
])
def test_extract_vmlinux_refuses(blob: bytes, message: str) -> None:
    with pytest.raises(kernel.KernelError, match=message):
        kernel.extract_vmlinux(blob)


def fake_ko(info: dict[str, str]) -> bytes:
    """An ELF64 LE object with a null section, ``.modinfo`` and ``.shstrtab`` (all modinfo() reads)."""
    modinfo = b"".join(f"{k}={v}".encode() + b"\0" for k, v in info.items())
    shstrtab = b"\0.modinfo\0.shstrtab\0"
    body_off = 64
    mod_off, str_off = body_off, body_off + len(modinfo)
    shoff = str_off + len(shstrtab)
    header = bytearray(64)
    header[0:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", header, 0x28, shoff)
    struct.pack_into("<HHH", header, 0x3A, 64, 3, 2)
    sections = bytes(64)
    sections += struct.pack("<IIQQQQIIQQ", 1, 1, 0, 0, mod_off, len(modinfo), 0, 0, 1, 0)
    sections += struct.pack("<IIQQQQIIQQ", 10, 3, 0, 0, str_off, len(shstrtab), 0, 0, 1, 0)
    return bytes(header) + modinfo + shstrtab + sections


def test_modinfo_reads_the_section() -> None:
    info = kernel.modinfo(fake_ko({"license": "GPL", "depends": "jbd2,mbcache", "alias": "fs-ext4"}))
    assert info["depends"] == ["jbd2,mbcache"] and info["license"] == ["GPL"]
    with pytest.raises(kernel.KernelError):
        kernel.modinfo(b"\x7fELF\x01\x01" + b"\0" * 60)


def _modules_dir(tmp: str, modules: dict[str, str], builtin: tuple[str, ...] = ()) -> str:
    root = os.path.join(tmp, "lib", "modules", "6.1.0-test")
    for rel, deps in modules.items():
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        with open(os.path.join(root, rel), "wb") as f:
            f.write(fake_ko({"depends": deps}))
    with open(os.path.join(root, "modules.builtin"), "w") as f:
        f.writelines(f"kernel/{b}.ko\n" for b in builtin)
    return root


def test_module_closure_follows_dependencies(tmp_path: os.PathLike[str]) -> None:
    root = _modules_dir(str(tmp_path), {
        "kernel/fs/ext4/ext4.ko": "jbd2,mbcache,crc16",
        "kernel/fs/jbd2/jbd2.ko": "",
        "kernel/fs/mbcache.ko": "",
        "kernel/drivers/block/virtio_blk.ko": "virtio,virtio_ring",
        "kernel/drivers/virtio/virtio_ring.ko": "",
        "kernel/drivers/net/virtio-net.ko": "virtio",
    }, builtin=("lib/crc16", "drivers/virtio/virtio"))
    assert kernel.module_closure(root, ["ext4", "virtio_blk"], ["virtio_console", "virtio_net"]) == [
        "kernel/drivers/block/virtio_blk.ko", "kernel/drivers/net/virtio-net.ko",
        "kernel/drivers/virtio/virtio_ring.ko", "kernel/fs/ext4/ext4.ko", "kernel/fs/jbd2/jbd2.ko",
        "kernel/fs/mbcache.ko"]
    with pytest.raises(kernel.KernelError, match="isofs"):
        kernel.module_closure(root, ["isofs"])
    dest = os.path.join(str(tmp_path), "copy")
    kernel.copy_modules(root, dest, ["kernel/fs/mbcache.ko"])
    assert sorted(os.listdir(dest)) == ["kernel", "modules.builtin"]
