"""Files of the libvirt driver's instances: the QEMU user (DAC label), an LXC root filesystem, small state files."""

from __future__ import annotations

import contextlib
import json
import os
import tarfile
from typing import Any

from cumulo.interfaces.hypervisor import HypervisorError, ImageReader


def dac_label(setting: str, instances_path: str) -> str:
    """``[libvirt] qemu_dac_label`` as a libvirt DAC label ("+0:+0"), "" for libvirt's default user."""
    if setting == "libvirt":
        return ""
    if setting != "owner":
        return setting
    probe = instances_path
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    st = os.stat(probe)
    return f"+{st.st_uid}:+{st.st_gid}"


def unpack_rootfs(image: ImageReader, dest: str) -> None:
    """Extract a root-filesystem tarball image into ``dest`` (an lxc container's root)."""
    tarball = dest + ".tar"
    try:
        image.save_to(tarball)
        os.makedirs(dest, exist_ok=True)
        with tarfile.open(tarball, "r:*") as tar:
            tar.extractall(dest, filter="tar")  # keeps devices and modes, refuses paths outside dest
    except tarfile.TarError as err:
        raise HypervisorError(f"image {image.meta.id} is not a root-filesystem tarball: {err}") from err
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tarball)


def write_atomically(path: str, data: bytes) -> None:
    with open(path + ".part", "wb") as f:
        f.write(data)
    os.replace(path + ".part", path)


def read_json(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
