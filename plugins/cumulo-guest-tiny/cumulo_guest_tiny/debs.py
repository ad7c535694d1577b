"""Debian packages for the tiny guest: find the kernel's name, download once into a cache, unpack.

``apt-get download`` works as any user and needs no root; the ``.deb`` files are kept in
the cache directory (default ``~/.cache/cumulo/tiny``) so a rebuild is offline. ``dpkg -x``
unpacks without installing anything.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess

#: The meta-package whose dependency names the current Debian 12 kernel.
KERNEL_META = "linux-image-amd64"
BUSYBOX = "busybox-static"
DEFAULT_CACHE = os.path.join("~", ".cache", "cumulo", "tiny")


class PackageError(Exception):
    """A package cannot be found, downloaded or unpacked; the message says which and why."""


def _run(argv: list[str], cwd: str | None = None) -> str:
    if shutil.which(argv[0]) is None:
        raise PackageError(f"{argv[0]} is not installed (the tiny guest is built from Debian packages)")
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise PackageError(f"{' '.join(argv)} failed: {(proc.stderr or proc.stdout).strip()[-800:]}")
    return proc.stdout


def kernel_package() -> str:
    """The versioned kernel package (``linux-image-6.1.0-N-amd64``) that ``linux-image-amd64`` depends on."""
    out = _run(["apt-cache", "depends", KERNEL_META])
    names = re.findall(r"Depends:\s*(linux-image-[0-9][^\s]*-amd64)", out)
    if not names:
        raise PackageError(f"apt-cache depends {KERNEL_META} names no linux-image-*-amd64 package")
    return names[0]


def cached_deb(cache_dir: str, package: str) -> str | None:
    """The newest cached ``.deb`` of ``package`` in ``cache_dir``, if any."""
    found = sorted(glob.glob(os.path.join(cache_dir, f"{package}_*.deb")))
    return found[-1] if found else None


def fetch(cache_dir: str, package: str) -> str:
    """Path of ``package``'s ``.deb`` in ``cache_dir``, downloaded with ``apt-get download`` unless cached.

    When the download fails for lack of package lists, says so (``apt-get update`` needs root).
    """
    cache_dir = os.path.expanduser(cache_dir)
    if (deb := cached_deb(cache_dir, package)) is not None:
        return deb
    os.makedirs(cache_dir, exist_ok=True)
    try:
        _run(["apt-get", "download", "-q", package], cwd=cache_dir)
    except PackageError as err:
        hint = " (run apt-get update as root first)" if "Unable to locate" in str(err) else ""
        raise PackageError(f"{err}{hint}") from None
    if (deb := cached_deb(cache_dir, package)) is None:
        raise PackageError(f"apt-get download {package} left no {package}_*.deb in {cache_dir}")
    return deb


def unpack(deb: str, dest: str) -> None:
    """Unpack ``deb``'s files into ``dest`` (``dpkg -x``: no scripts run, nothing installed)."""
    os.makedirs(dest, exist_ok=True)
    _run(["dpkg", "-x", deb, dest])
