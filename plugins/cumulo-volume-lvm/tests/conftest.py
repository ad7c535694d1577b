"""Fixtures of the lvm driver's tests: a volume group on a loop device, a real thin pool in it.

The volume group is ``lvmtest-<random>`` on a sparse file attached with
``losetup``; every LVM command runs with a devices filter that accepts only
that loop device (so no test reads or changes the host's own volume groups)
and without udev (a container has no udevd). Everything is torn down after
the test: the thin pool and volumes (``vgremove -f``), the PV label, the loop
device and the file.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator

import pytest
from cumulo_volume_lvm.driver import LvmDriver

from cumulo.interfaces.base import PluginContext
from cumulo.testing.conformance.image import make_conf
from cumulo.testing.fixtures import unavailable

TOOLS = {"lvm": "lvm2", "losetup": "util-linux", "qemu-img": "qemu-utils"}
NO_UDEV = "activation { udev_sync=0 udev_rules=0 }"
ENV = {**os.environ, "LVM_SUPPRESS_FD_WARNINGS": "1"}


def missing_device_mapper() -> str | None:
    """Why this kernel cannot hold logical volumes, or None when it can (device-mapper is there).

    A kernel built without device-mapper (CONFIG_BLK_DEV_DM) lists no
    ``device-mapper`` misc device and has no ``dm_mod`` module: LVM can then
    write PV and VG metadata but cannot activate any LV. No package fixes that.
    """
    with open("/proc/misc", encoding="ascii") as f:
        misc = {line.split()[-1] for line in f if line.strip()}
    if "device-mapper" in misc or os.path.isdir("/sys/module/dm_mod"):
        return None
    return ("this kernel has no device-mapper (no 'device-mapper' in /proc/misc, no /sys/module/dm_mod, "
            "no /dev/mapper/control): LVM logical volumes and thin pools (dm-thin-pool) cannot be activated")


@dataclasses.dataclass(frozen=True)
class LoopVg:
    """A test volume group ``name`` on loop device ``device``; ``config`` is the --config every command needs."""

    name: str
    device: str
    config: str

    def lvm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = ["lvm", args[0], "--config", self.config, *args[1:]]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=ENV, check=False)
        if check and proc.returncode != 0:
            pytest.fail(f"{' '.join(argv)} failed: {proc.stderr.strip()}")
        return proc


@pytest.fixture
def lvm_tools() -> None:
    missing = [f"{tool} ({package})" for tool, package in TOOLS.items() if not shutil.which(tool)]
    if missing:
        unavailable(f"{', '.join(missing)} not installed (tools/system-packages.sh installs them)")


@pytest.fixture
def loop_vg(tmp_path, lvm_tools) -> Iterator[LoopVg]:
    backing = tmp_path / "lvm-pv.img"
    with open(backing, "wb") as f:
        f.truncate(2 * 1024 ** 3)  # sparse: only what the tests write takes room
    proc = subprocess.run(["losetup", "-f", "--show", str(backing)], capture_output=True, text=True, timeout=30,
                          check=False)
    if proc.returncode != 0:
        unavailable(f"losetup cannot attach a loop device here: {proc.stderr.strip()}")
    device = proc.stdout.strip()
    vg = LoopVg(name=f"lvmtest-{uuid.uuid4().hex[:8]}", device=device,
                config=f'devices {{ filter=["a|^{device}$|","r|.*|"] }} {NO_UDEV}')
    try:
        vg.lvm("pvcreate", "--yes", device)
        vg.lvm("vgcreate", vg.name, device)
        yield vg
    finally:
        vg.lvm("vgremove", "--force", "--yes", vg.name, check=False)
        vg.lvm("pvremove", "--yes", device, check=False)
        subprocess.run(["losetup", "-d", device], timeout=30, check=False)


@pytest.fixture
def thin_pool(loop_vg) -> str:
    """A 1.5 GiB thin pool ``pool`` in the loop volume group (skipped on a kernel without device-mapper)."""
    reason = missing_device_mapper()
    if reason:
        # not unavailable(): no package or service provides a kernel feature, so CI skips it too
        pytest.skip(reason)
    loop_vg.lvm("lvcreate", "--type", "thin-pool", "--size", "1536m", "--name", "pool", loop_vg.name)
    return "pool"


@pytest.fixture
def make_lvm_driver(tmp_path) -> Callable[[LoopVg, str, str], LvmDriver]:
    """A driver on volume group ``vg``'s thin pool ``pool`` serving ``host``."""

    def make(vg: LoopVg, pool: str, host: str) -> LvmDriver:
        conf = make_conf({"DEFAULT": {"state_path": str(tmp_path)},
                          "volume_lvm": {"volume_group": vg.name, "thin_pool": pool, "lvm_config": vg.config}},
                         plugins=(LvmDriver,))
        return LvmDriver(PluginContext(conf, kind="volume", name="lvm", host=host))

    return make


@pytest.fixture
def lvm_driver(make_lvm_driver, loop_vg, thin_pool) -> LvmDriver:
    return make_lvm_driver(loop_vg, thin_pool, f"lvmhost-{uuid.uuid4().hex[:8]}")
