"""Tests of :mod:`cumulo_hypervisor_libvirt.disks`: the image cache and the qcow2 files, with the real qemu-img.

Tests that need qemu-img skip when it is absent, and fail instead when ``CI`` is set.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from cumulo_hypervisor_libvirt import disks

from cumulo.interfaces.hypervisor import HypervisorError, ImageMeta, ImageVerificationError, StreamImageReader
from cumulo.testing.fixtures import unavailable

MiB = 1024 ** 2
GiB = 1024 ** 3


@pytest.fixture
def qemu_img() -> None:
    """Skip (or, under CI, fail) when qemu-img is not installed."""
    if shutil.which("qemu-img") is None:
        unavailable("qemu-img is not installed (Debian: apt-get install qemu-utils)")


needs_qemu_img = pytest.mark.usefixtures("qemu_img")


def pattern(size: int = MiB) -> bytes:
    """Bytes that differ from block to block, so a misplaced block shows."""
    return b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(size // 32))


def meta(image_id: str, data: bytes, disk_format: str = "raw", **properties: str) -> ImageMeta:
    return ImageMeta(id=image_id, disk_format=disk_format, size=len(data),
                     checksum=hashlib.md5(data, usedforsecurity=False).hexdigest(), properties=properties)


def reader(image_id: str, data: bytes, disk_format: str = "raw") -> StreamImageReader:
    return StreamImageReader.from_bytes(meta(image_id, data, disk_format), data)


def image_bytes(tmp_path: Any, fmt: str, raw: bytes, *extra: str) -> bytes:
    """``raw`` converted by qemu-img to ``fmt``, as an image file's bytes."""
    src, out = tmp_path / "src.raw", tmp_path / f"img.{fmt}"
    src.write_bytes(raw)
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", fmt, *extra, str(src), str(out)], check=True)
    return out.read_bytes()


def read_raw(path: str) -> bytes:
    """The guest-visible bytes of any image, through a raw flatten."""
    out = path + ".read.raw"
    disks.flatten(path, out, "raw")
    try:
        with open(out, "rb") as f:
            return f.read()
    finally:
        os.unlink(out)


def cached_files(cache: disks.ImageCache) -> list[str]:
    return sorted(name for name in os.listdir(cache.base_dir) if name != ".locks")


@pytest.fixture
def cache(tmp_path: Any) -> disks.ImageCache:
    return disks.ImageCache(str(tmp_path / "cache" / "base"))


@needs_qemu_img
def test_raw_base_and_overlay_backed_by_it(cache: disks.ImageCache, tmp_path: Any) -> None:
    data = pattern()
    base = cache.base_image(reader("img-raw", data))
    assert (base.format, base.virtual_size) == ("raw", len(data))
    assert open(base.path, "rb").read() == data
    assert stat.S_IMODE(os.stat(cache.base_dir).st_mode) == 0o700

    overlay = str(tmp_path / "inst" / "disk")
    disks.create_overlay(base, overlay, 0)
    info = disks.disk_info(overlay)
    assert info["format"] == "qcow2"
    assert info["backing-filename"] == os.path.abspath(base.path)
    assert info["backing-filename-format"] == "raw"
    assert info["virtual-size"] == len(data)
    assert read_raw(overlay) == data
    assert not os.path.exists(overlay + ".part")


@needs_qemu_img
def test_overlay_grows_to_the_flavor_size(cache: disks.ImageCache, tmp_path: Any) -> None:
    data = pattern()
    base = cache.base_image(reader("img-q", image_bytes(tmp_path, "qcow2", data), "qcow2"))
    assert (base.format, base.virtual_size) == ("qcow2", len(data))
    overlay = str(tmp_path / "disk")
    disks.create_overlay(base, overlay, 1)
    info = disks.disk_info(overlay)
    assert (info["virtual-size"], info["backing-filename-format"]) == (GiB, "qcow2")


@needs_qemu_img
def test_overlay_smaller_than_the_image_is_refused(cache: disks.ImageCache, tmp_path: Any) -> None:
    big = tmp_path / "big.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(big), "2G"], check=True)
    base = cache.base_image(reader("img-big", big.read_bytes(), "qcow2"))
    with pytest.raises(HypervisorError, match="smaller than the image"):
        disks.create_overlay(base, str(tmp_path / "disk"), 1)
    assert not os.path.exists(tmp_path / "disk")


@needs_qemu_img
def test_resize_grows_and_refuses_to_shrink(tmp_path: Any) -> None:
    path = str(tmp_path / "eph" / "disk.eph0")
    disks.create_blank(path, 1)
    assert disks.disk_info(path)["virtual-size"] == GiB
    disks.resize(path, 1)  # the same size: nothing to do
    disks.resize(path, 3)
    assert disks.disk_info(path)["virtual-size"] == 3 * GiB
    with pytest.raises(HypervisorError, match="cannot shrink"):
        disks.resize(path, 2)
    assert disks.disk_info(path)["virtual-size"] == 3 * GiB


@needs_qemu_img
def test_blank_raw_disk(tmp_path: Any) -> None:
    path = str(tmp_path / "swap")
    disks.create_blank(path, 1, fmt="raw")
    assert disks.disk_info(path)["format"] == "raw"
    assert os.path.getsize(path) == GiB


@needs_qemu_img
@pytest.mark.parametrize("fmt", ["vmdk", "vdi"])
def test_other_formats_are_converted_to_qcow2_once(cache: disks.ImageCache, tmp_path: Any, fmt: str) -> None:
    data = pattern()
    base = cache.base_image(reader(f"img-{fmt}", image_bytes(tmp_path, fmt, data), fmt))
    assert base.format == "qcow2" and base.path.endswith(".qcow2")
    assert disks.disk_info(base.path)["format"] == "qcow2"
    assert base.virtual_size == len(data)
    assert read_raw(base.path) == data
    assert cached_files(cache) == [f"img-{fmt}.qcow2"]  # the download is gone


@needs_qemu_img
def test_flatten_makes_a_standalone_image_with_the_same_bytes(cache: disks.ImageCache, tmp_path: Any) -> None:
    data = pattern()
    base = cache.base_image(reader("img-flat", data))
    overlay = str(tmp_path / "disk")
    disks.create_overlay(base, overlay, 0)
    written = b"\xab" * 4096
    if shutil.which("qemu-io"):  # the guest's own writes are part of the snapshot
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -q -P 0xab 0 4k", overlay], check=True)
        expected = written + data[4096:]
    else:
        expected = data
    snap = str(tmp_path / "snap.qcow2")
    disks.flatten(overlay, snap)
    info = disks.disk_info(snap)
    assert info["format"] == "qcow2" and "backing-filename" not in info
    os.unlink(base.path)  # standalone: it reads back without its former backing file
    assert read_raw(snap) == expected


@needs_qemu_img
def test_concurrent_base_image_calls_download_once(tmp_path: Any) -> None:
    # Two caches over one directory stand for two processes: their threads meet on the lock file.
    base_dir = str(tmp_path / "base")
    caches = [disks.ImageCache(base_dir), disks.ImageCache(base_dir)]
    data = pattern()
    opened: list[int] = []

    def stream() -> Iterator[bytes]:
        opened.append(1)
        for i in range(0, len(data), 4096):
            yield data[i:i + 4096]

    image = StreamImageReader(meta("img-once", data), stream)
    results: list[disks.BaseImage] = []
    errors: list[BaseException] = []

    def spawn(cache: disks.ImageCache) -> None:
        try:
            results.append(cache.base_image(image))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=spawn, args=(caches[i % 2],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(opened) == 1
    assert len(results) == 6 and len(set(results)) == 1
    assert cached_files(caches[0]) == ["img-once.raw"]


def test_a_bad_checksum_leaves_nothing_cached(cache: disks.ImageCache) -> None:
    data = pattern()
    # The image service recorded the checksum of other bytes.
    bad = StreamImageReader.from_bytes(ImageMeta(id="img-bad", disk_format="raw", checksum="0" * 32), data)
    with pytest.raises(ImageVerificationError):
        cache.base_image(bad)
    assert cached_files(cache) == []


@needs_qemu_img
def test_content_other_than_declared_is_refused(cache: disks.ImageCache, tmp_path: Any) -> None:
    qcow = image_bytes(tmp_path, "qcow2", pattern())
    with pytest.raises(HypervisorError, match="declared raw but its content is qcow2"):
        cache.base_image(reader("img-liar", qcow, "raw"))
    assert cached_files(cache) == []


@needs_qemu_img
def test_an_image_naming_a_backing_file_is_refused(cache: disks.ImageCache, tmp_path: Any) -> None:
    secret = tmp_path / "host-file"
    secret.write_bytes(b"host secret" * 100)
    evil = tmp_path / "evil.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(secret), "-F", "raw", str(evil)],
                   check=True)
    with pytest.raises(HypervisorError, match="backing file"):
        cache.base_image(reader("img-evil", evil.read_bytes(), "qcow2"))
    assert cached_files(cache) == []


def test_unsupported_disk_format(cache: disks.ImageCache) -> None:
    with pytest.raises(HypervisorError, match="ploop"):
        cache.base_image(reader("img-ploop", b"x", "ploop"))


def test_kernel_files_through_related(cache: disks.ImageCache) -> None:
    kernel, ramdisk = b"\x7fELF kernel" * 50, b"\x1f\x8b ramdisk" * 40
    related = {"aki-1": reader("aki-1", kernel, "aki"), "ari-1": reader("ari-1", ramdisk, "ari")}
    asked: list[str] = []

    def open_related(image_id: str) -> StreamImageReader:
        asked.append(image_id)
        return related[image_id]

    machine = StreamImageReader(meta("ami-1", b"disk", "ami", kernel_id="aki-1", ramdisk_id="ari-1"),
                                lambda: [b"disk"], open_related=open_related)
    kernel_path, ramdisk_path = cache.kernel_files(machine)
    assert open(kernel_path, "rb").read() == kernel
    assert ramdisk_path is not None and open(ramdisk_path, "rb").read() == ramdisk
    assert cache.kernel_files(machine) == (kernel_path, ramdisk_path)
    assert sorted(asked) == ["aki-1", "aki-1", "ari-1", "ari-1"]

    no_ramdisk = StreamImageReader(meta("ami-2", b"d", "ami", kernel_id="aki-1"), lambda: [b"d"],
                                   open_related=open_related)
    assert cache.kernel_files(no_ramdisk) == (kernel_path, None)


def test_kernel_files_errors(cache: disks.ImageCache) -> None:
    with pytest.raises(HypervisorError, match="names no kernel"):
        cache.kernel_files(reader("ami-3", b"d", "ami"))
    unreadable = StreamImageReader(meta("ami-4", b"d", "ami", kernel_id="aki-gone"), lambda: [b"d"])
    with pytest.raises(ImageVerificationError):
        cache.kernel_files(unreadable)


def test_image_ids_that_are_not_file_names_are_hashed(cache: disks.ImageCache) -> None:
    related = StreamImageReader(meta("../../etc/passwd", b"k", "aki"), lambda: [b"k"])
    machine = StreamImageReader(meta("ami-5", b"d", "ami", kernel_id="../../etc/passwd"), lambda: [b"d"],
                                open_related=lambda _id: related)
    kernel_path, _ = cache.kernel_files(machine)
    assert os.path.dirname(kernel_path) == cache.base_dir
    assert os.path.basename(kernel_path) == hashlib.sha256(b"../../etc/passwd").hexdigest() + ".raw"


@needs_qemu_img
def test_disk_info_of_a_missing_file(tmp_path: Any) -> None:
    with pytest.raises(HypervisorError, match="qemu-img info failed"):
        disks.disk_info(str(tmp_path / "nothing"))


def test_missing_qemu_img_is_a_hypervisor_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setattr(disks.shutil, "which", lambda _name: None)
    with pytest.raises(HypervisorError, match="qemu-img is not installed"):
        disks.create_blank(str(tmp_path / "disk"), 1)
    assert os.listdir(tmp_path) == []
