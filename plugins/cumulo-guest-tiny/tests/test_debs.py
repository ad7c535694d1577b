"""Finding, caching and unpacking the Debian packages (the real apt tools where a test needs them)."""

from __future__ import annotations

import os
import shutil

import pytest
from cumulo_guest_tiny import debs


def test_cached_deb_is_used_without_apt(tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch) -> None:
    cache = str(tmp_path)
    for name in ("busybox-static_1%3a1.35.0-4_amd64.deb", "busybox-static_1%3a1.36.0-1_amd64.deb",
                 "busybox_1%3a1.36.0-1_amd64.deb"):
        open(os.path.join(cache, name), "wb").close()
    monkeypatch.setenv("PATH", "")  # no apt-get: the cache alone must answer
    assert debs.fetch(cache, "busybox-static") == os.path.join(cache, "busybox-static_1%3a1.36.0-1_amd64.deb")


def test_missing_tool_is_named(tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(debs.PackageError, match="apt-get is not installed"):
        debs.fetch(str(tmp_path), "busybox-static")


@pytest.mark.skipif(shutil.which("apt-cache") is None, reason="apt-cache is not installed (not a Debian host)")
def test_kernel_package_is_the_versioned_one() -> None:
    name = debs.kernel_package()
    assert name.startswith("linux-image-") and name.endswith("-amd64") and name != debs.KERNEL_META


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="apt-get is not installed (not a Debian host)")
def test_unknown_package_fails_with_apt_message(tmp_path: os.PathLike[str]) -> None:
    with pytest.raises(debs.PackageError, match="apt-get download -q no-such-package-cumulo failed"):
        debs.fetch(str(tmp_path), "no-such-package-cumulo")
    assert os.listdir(tmp_path) == []
