"""Put a built tiny guest into the Image service through the standard client (openstacksdk).

Four images, as a CirrOS user would register them:

- ``tiny-kernel``: ``aki``/``aki``, the uncompressed ``vmlinux``;
- ``tiny-ramdisk``: ``ari``/``ari``, the gzip cpio initramfs;
- ``tiny``: ``qcow2``/``bare``, the ext4 root disk, with ``kernel_id``, ``ramdisk_id`` and
  ``os_command_line`` so a driver boots it directly (AKI/ARI style, the fast path under TCG);
- ``tiny-lxc``: the root filesystem tarball. Glance has no "tarball" disk format; its
  ``compressed`` container format is the one meant for archives (the bytes are a
  gzip/tar archive, not a disk), with ``disk_format=raw`` since the payload is not a
  disk image of any kind Glance names; ``hypervisor_type=lxc`` (Nova's
  ImagePropertiesFilter property) keeps it off QEMU hosts.

Idempotent: an active image of the same name and MD5 checksum (Glance's ``checksum``)
is reused, so an unchanged (reproducible) rebuild uploads nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Any

from cumulo_guest_tiny.build import Progress, TinyImage

#: The kernel command line of the ``tiny`` image (root on the first virtio disk, serial console).
COMMAND_LINE = "root=/dev/vda console=ttyS0 quiet"


class UploadError(Exception):
    """The Image service refused an image or could not be reached; the message says which."""


@dataclasses.dataclass(frozen=True)
class Uploaded:
    """One image in the Image service: its name, id, and whether an existing one was reused."""

    name: str
    id: str
    reused: bool


def md5sum(path: str) -> str:
    """The hex MD5 of a file (what Glance reports as ``checksum``)."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def connect(cloud: str, clouds_yaml: str | None = None, fallback: str | None = None) -> Any:
    """An openstacksdk connection to ``cloud``, from ``clouds_yaml`` when given, else the standard places,
    else ``fallback`` (``<state_path>/clouds.yaml``, all ``cumulo up --no-user-clouds-yaml`` writes).

    :raises UploadError: no such cloud, or its configuration is unreadable.
    """
    import openstack
    import openstack.exceptions
    from openstack.config import loader

    # None: openstacksdk's own search ($OS_CLIENT_CONFIG_FILE, ./, ~/.config/openstack, /etc/openstack).
    candidates: list[list[str] | None] = [[clouds_yaml]] if clouds_yaml else [None]
    if fallback and not clouds_yaml:
        candidates.append([fallback])
    error: Exception | None = None
    for files in candidates:
        try:
            region = loader.OpenStackConfig(config_files=files).get_one(cloud=cloud)
        except openstack.exceptions.ConfigException as err:
            error = error or err
            continue
        return openstack.connection.Connection(config=region)
    raise UploadError(f"cloud {cloud!r}: {error}")


def ensure_image(conn: Any, name: str, path: str, disk_format: str, container_format: str,
                 properties: dict[str, str] | None = None, visibility: str = "public") -> Uploaded:
    """The active image named ``name`` whose checksum is ``path``'s, creating (and uploading) it if none is."""
    checksum = md5sum(path)
    for image in conn.image.images(name=name):
        if image.checksum == checksum and image.status == "active":
            return Uploaded(name, image.id, True)
    image = conn.image.create_image(name=name, filename=path, disk_format=disk_format,
                                    container_format=container_format, visibility=visibility,
                                    allow_duplicates=True, wait=True, **(properties or {}))
    return Uploaded(name, image.id, False)


def upload(conn: Any, image: TinyImage, visibility: str = "public",
           progress: Progress = lambda _m: None) -> list[Uploaded]:
    """Upload (or reuse) ``tiny-kernel``, ``tiny-ramdisk``, ``tiny`` and ``tiny-lxc``, in that order.

    :raises UploadError: the cloud answered with an error (the SDK's message is kept).
    """
    import keystoneauth1.exceptions
    import openstack.exceptions

    def one(name: str, path: str, disk: str, container: str, props: dict[str, str] | None = None) -> Uploaded:
        progress(f"uploading {name} ({os.path.getsize(path) // 1024} KiB)")
        result = ensure_image(conn, name, path, disk, container, props, visibility)
        if result.reused:
            progress(f"{name}: same checksum as image {result.id}, reused")
        return result

    try:
        kernel = one("tiny-kernel", image.vmlinux, "aki", "aki")
        ramdisk = one("tiny-ramdisk", image.initrd, "ari", "ari")
        disk = one("tiny", image.qcow2, "qcow2", "bare",
                   {"kernel_id": kernel.id, "ramdisk_id": ramdisk.id, "os_command_line": COMMAND_LINE})
        lxc = one("tiny-lxc", image.rootfs_tar, "raw", "compressed", {"hypervisor_type": "lxc"})
    except (openstack.exceptions.SDKException, keystoneauth1.exceptions.ClientException) as err:
        raise UploadError(f"Image service: {err}") from err
    return [kernel, ramdisk, disk, lxc]
