"""``cumulo image build-tiny --upload`` against a real cloud (``cumulo up`` in a subprocess), twice.

The images are checked with openstacksdk, as a user would: formats, the kernel/ramdisk
links of ``tiny``, the LXC tarball's formats; the second run must reuse all four.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from cumulo_guest_tiny import build, debs, upload

from cumulo.testing.cloud import CumuloCloud


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    c = CumuloCloud(tmp_path_factory.mktemp("cloud"))
    c.start()
    yield c
    c.stop()


def _build_tiny(cloud: CumuloCloud, image: build.TinyImage, env: dict[str, str] | None = None) -> Any:
    cache = os.environ.get("CUMULO_TINY_CACHE", debs.DEFAULT_CACHE)  # the cache the session's build used
    proc = cloud.run("cumulo", "--config-file", cloud.config_path, "image", "build-tiny", "--output",
                     image.output_dir, "--cache-dir", os.path.expanduser(cache), "--upload", "--os-cloud", "cumulo",
                     "-f", "value", "-c", "image", "-c", "image id", env=env)
    assert "build-tiny: up to date" in proc.stderr
    return dict(line.split() for line in proc.stdout.splitlines()), proc.stderr


def test_upload_registers_four_images_then_reuses_them(cloud: CumuloCloud, tiny_image: build.TinyImage) -> None:
    ids, _ = _build_tiny(cloud, tiny_image)
    assert set(ids) == {"tiny-kernel", "tiny-ramdisk", "tiny", "tiny-lxc"}
    conn = cloud.connect()
    kernel, ramdisk = conn.image.get_image(ids["tiny-kernel"]), conn.image.get_image(ids["tiny-ramdisk"])
    assert (kernel.disk_format, kernel.container_format) == ("aki", "aki")
    assert (ramdisk.disk_format, ramdisk.container_format) == ("ari", "ari")
    assert kernel.checksum == upload.md5sum(tiny_image.vmlinux) and kernel.status == "active"
    disk = conn.image.get_image(ids["tiny"])
    assert (disk.disk_format, disk.container_format) == ("qcow2", "bare")
    assert (disk.kernel_id, disk.ramdisk_id) == (kernel.id, ramdisk.id)  # the SDK's named image properties
    assert disk.os_command_line == upload.COMMAND_LINE
    lxc = conn.image.get_image(ids["tiny-lxc"])
    assert (lxc.disk_format, lxc.container_format) == ("raw", "compressed")
    assert lxc.hypervisor_type == "lxc"

    # Again, finding the cloud only in <state_path>/clouds.yaml (no $OS_CLIENT_CONFIG_FILE, an empty HOME).
    home = os.path.join(cloud.workdir, "home")
    os.makedirs(home, exist_ok=True)
    again, stderr = _build_tiny(cloud, tiny_image, env={"OS_CLIENT_CONFIG_FILE": "", "HOME": home})
    assert again == ids and stderr.count("reused") == 4
    assert len(list(conn.image.images(name="tiny"))) == 1
