"""Fixtures of the file driver's tests: a driver on a fresh directory, real qemu tools."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest
from cumulo_volume_file.driver import FileDriver

from cumulo.interfaces.base import PluginContext
from cumulo.testing.conformance.image import make_conf
from cumulo.testing.fixtures import unavailable

TOOLS = ("qemu-img", "qemu-io", "qemu-storage-daemon")


@pytest.fixture
def qemu_tools() -> None:
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        unavailable(f"{', '.join(missing)} not installed (tools/system-packages.sh installs qemu-utils)")


@pytest.fixture
def host() -> str:
    return f"volhost-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def file_driver(tmp_path, qemu_tools, host) -> Iterator[FileDriver]:
    conf = make_conf({"DEFAULT": {"state_path": str(tmp_path)}}, plugins=(FileDriver,))
    driver = FileDriver(PluginContext(conf, kind="volume", name="file", host=host))
    yield driver
    # stop any NBD daemon a failed test left running
    exports = driver.exports
    if os.path.isdir(exports.directory):
        for name in os.listdir(exports.directory):
            if name.endswith(".json"):
                exports.stop(exports.load(name[:-5]))
