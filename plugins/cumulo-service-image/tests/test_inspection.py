"""Uploads are inspected (as Glance does): the data must be of the declared disk format and safe.

Images are made by the real ``qemu-img``; the ISO is built here (no ISO tool on the test hosts).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cumulo_service_image.inspection import ImageFormatRefused

from cumulo.context import RequestContext
from cumulo.testing.fixtures import unavailable

MiB = 1024 * 1024


def ctx() -> RequestContext:
    return RequestContext(user_id="u1", project_id="p1", roles=["member", "reader"])


@pytest.fixture
def qemu_img() -> str:
    path = shutil.which("qemu-img")
    if path is None:
        unavailable("qemu-img is not installed")
    return str(path)


def make(qemu_img: str, path: Path, fmt: str, size: str = "1M", *options: str) -> bytes:
    subprocess.run([qemu_img, "create", "-q", "-f", fmt, *options, str(path), size], check=True,
                   capture_output=True)
    return path.read_bytes()


def virtual_size(qemu_img: str, path: Path, fmt: str) -> int:
    out = subprocess.run([qemu_img, "info", "--output=json", "-f", fmt, str(path)], check=True,
                         capture_output=True, text=True).stdout
    return int(json.loads(out)["virtual-size"])


def iso_image(blocks: int = 64) -> bytes:
    """A minimal ISO 9660 volume: system area, a primary volume descriptor, the set terminator."""
    pvd = bytearray(2048)
    pvd[0:7] = b"\x01CD001\x01"
    pvd[80:88] = struct.pack("<I", blocks) + struct.pack(">I", blocks)
    pvd[128:132] = struct.pack("<H", 2048) + struct.pack(">H", 2048)
    terminator = bytearray(2048)
    terminator[0:7] = b"\xffCD001\x01"
    data = bytes(16 * 2048) + bytes(pvd) + bytes(terminator)
    return data + bytes(blocks * 2048 - len(data))


def chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


def create(images, disk_format: str, container_format: str = "bare") -> str:
    return str(images.create(ctx(), {"disk_format": disk_format, "container_format": container_format})["id"])


def stored(hub) -> list[str]:
    return sorted(os.listdir(hub.image.store().datadir))


@pytest.mark.parametrize("qfmt, disk_format, options", [
    ("raw", "raw", ()),
    ("qcow2", "qcow2", ()),
    ("qcow2", "qcow2", ("-o", "compat=0.10")),
    ("vmdk", "vmdk", ()),
    ("vmdk", "vmdk", ("-o", "subformat=streamOptimized")),
    ("vpc", "vhd", ()),
    ("vpc", "vhd", ("-o", "subformat=fixed")),
    ("vhdx", "vhdx", ()),
    ("vdi", "vdi", ()),
])
def test_matching_formats_become_active_with_their_virtual_size(images, qemu_img, tmp_path, qfmt, disk_format,
                                                                  options):
    path = tmp_path / f"disk.{qfmt}"
    data = make(qemu_img, path, qfmt, "3M", *options)
    image_id = create(images, disk_format)
    image = images.upload(ctx(), image_id, chunks(data))
    assert image["status"] == "active" and image["size"] == len(data)
    assert image["virtual_size"] == virtual_size(qemu_img, path, qfmt)


def test_iso(images):
    data = iso_image()
    image = images.upload(ctx(), create(images, "iso"), chunks(data))
    assert image["status"] == "active" and image["virtual_size"] == 64 * 2048
    refused = create(images, "raw")
    with pytest.raises(ImageFormatRefused, match="iso"):
        images.upload(ctx(), refused, chunks(data))
    assert images.get(ctx(), refused)["status"] == "queued"


@pytest.mark.parametrize("qfmt, declared", [
    ("raw", "qcow2"),  # the Tempest case: raw bytes declared qcow2
    ("qcow2", "raw"),  # a qcow2 smuggled in as raw (the host would read it as a disk header)
    ("vmdk", "qcow2"),
    ("qcow2", "vmdk"),
    ("vpc", "vhdx"),
    ("vhdx", "vhd"),
    ("raw", "vhd"),
    ("qcow2", "ami"),  # formats without an inspector still refuse a recognized other format
    ("qcow2", "iso"),
])
def test_mismatch_is_400_and_the_image_stays_queued(images, hub, qemu_img, tmp_path, qfmt, declared):
    data = make(qemu_img, tmp_path / "disk", qfmt)
    image_id = create(images, declared)
    with pytest.raises(ImageFormatRefused) as err:
        images.upload(ctx(), image_id, chunks(data))
    assert err.value.code == 400 and declared in str(err.value)
    image = images.get(ctx(), image_id)
    assert (image["status"], image["size"], image["checksum"]) == ("queued", None, None)
    assert stored(hub) == []
    # Queued: the owner can fix the declared format and upload again.
    images.update(ctx(), image_id, {"disk_format": {"vpc": "vhd"}.get(qfmt, qfmt)})
    assert images.upload(ctx(), image_id, chunks(data))["status"] == "active"


def test_random_bytes_as_qcow2_are_refused_before_the_end(images, hub):
    fed = []

    def endless() -> Iterator[bytes]:
        for i in range(1000):  # 64 MiB if it were all read
            fed.append(i)
            yield os.urandom(64 * 1024)

    image_id = create(images, "qcow2")
    with pytest.raises(ImageFormatRefused):
        images.upload(ctx(), image_id, endless())
    assert len(fed) < 5, "the upload went on after the header showed it is no qcow2"
    assert images.get(ctx(), image_id)["status"] == "queued" and stored(hub) == []


@pytest.mark.parametrize("kind", ["backing_file", "data_file"])
def test_unsafe_qcow2_is_refused(images, hub, qemu_img, tmp_path, kind):
    if kind == "backing_file":
        make(qemu_img, tmp_path / "base.qcow2", "qcow2")
        data = make(qemu_img, tmp_path / "top.qcow2", "qcow2", "1M", "-b", str(tmp_path / "base.qcow2"),
                    "-F", "qcow2")
    else:
        data = make(qemu_img, tmp_path / "top.qcow2", "qcow2", "1M", "-o", f"data_file={tmp_path / 'ext.raw'}")
    image_id = create(images, "qcow2")
    with pytest.raises(ImageFormatRefused, match=f"not safe.*{kind}"):
        images.upload(ctx(), image_id, chunks(data))
    assert images.get(ctx(), image_id)["status"] == "queued" and stored(hub) == []


def test_vmdk_naming_other_files_is_refused(images, qemu_img, tmp_path):
    """A monolithicFlat VMDK is a descriptor pointing at another file (the host's, once opened)."""
    data = make(qemu_img, tmp_path / "flat.vmdk", "vmdk", "1M", "-o", "subformat=monolithicFlat")
    assert b"createType=\"monolithicFlat\"" in data
    image_id = create(images, "vmdk")
    with pytest.raises(ImageFormatRefused):
        images.upload(ctx(), image_id, chunks(data))
    assert images.get(ctx(), image_id)["status"] == "queued"


def test_wrapping_containers_are_not_inspected(images, qemu_img, tmp_path):
    image = images.upload(ctx(), create(images, "qcow2", "ova"), chunks(os.urandom(100_000)))
    assert image["status"] == "active" and image["virtual_size"] is None


def test_format_match_can_be_turned_off_but_not_the_safety_checks(images, cumulo_db, qemu_img, tmp_path):
    cumulo_db.set("require_image_format_match", False, group="image")
    lying = images.upload(ctx(), create(images, "qcow2"), chunks(b"not a qcow2" * 1000))
    assert lying["status"] == "active"
    make(qemu_img, tmp_path / "base.qcow2", "qcow2")
    data = make(qemu_img, tmp_path / "top.qcow2", "qcow2", "1M", "-b", str(tmp_path / "base.qcow2"), "-F", "qcow2")
    image_id = create(images, "raw")
    with pytest.raises(ImageFormatRefused, match="backing_file"):
        images.upload(ctx(), image_id, chunks(data))
    assert images.get(ctx(), image_id)["status"] == "queued"
