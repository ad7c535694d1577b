"""Shared fixtures: one real tiny-guest build per session (from the cached Debian packages).

Without the tools a build needs (apt-get, dpkg, mkfs.ext4, qemu-img) or the packages,
dependent tests skip with the reason; with ``CI`` set they fail instead.
"""

from __future__ import annotations

import os
import shutil
import sys
from types import ModuleType

import pytest
from cumulo_guest_tiny import build, debs

from cumulo.testing.fixtures import unavailable


@pytest.fixture(scope="session")
def tiny_image(tmp_path_factory: pytest.TempPathFactory) -> build.TinyImage:
    """The tiny guest, built once into a temporary directory; the .debs stay in the user's cache."""
    for tool in ("apt-get", "apt-cache", "dpkg"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed: the tiny guest is built from Debian packages")
    for tool in ("mkfs.ext4", "qemu-img"):
        if shutil.which(tool) is None and shutil.which(tool, path="/usr/sbin:/sbin") is None:
            unavailable(f"{tool} is not installed")
    out = str(tmp_path_factory.mktemp("tiny"))
    try:
        return build.build(out, os.environ.get("CUMULO_TINY_CACHE", debs.DEFAULT_CACHE),
                           progress=lambda m: print(f"build-tiny: {m}", file=sys.stderr))
    except build.BuildError as err:
        if "apt-get download" in str(err) or "apt-cache" in str(err):
            unavailable(f"the Debian packages cannot be fetched: {err}")
        raise


@pytest.fixture(scope="session")
def qemu() -> str:
    """Path of qemu-system-x86_64."""
    path = shutil.which("qemu-system-x86_64")
    if path is None:
        unavailable("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
    return path


@pytest.fixture(scope="session")
def pycdlib() -> ModuleType:
    """pycdlib, which the tests use to write config drives as Nova does."""
    try:
        import pycdlib
    except ImportError:
        unavailable("pycdlib is not installed (pip install pycdlib): the tests write config drives with it")
    return pycdlib


@pytest.fixture(scope="session")
def container_tools() -> None:
    """Root and util-linux's unshare and setpriv: what running the rootfs as a container takes."""
    if os.geteuid() != 0:
        unavailable("running the rootfs as a container needs root (namespaces, chroot, mknod)")
    for tool in ("unshare", "setpriv"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed (util-linux)")
