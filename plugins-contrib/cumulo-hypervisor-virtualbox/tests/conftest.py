"""Fixtures of the VirtualBox driver's tests: the VBoxManage simulator on the configured path, drivers using it.

Each test gets its own ``VBOX_USER_HOME`` (the simulator's registry), machine folder and image cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid as uuidlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cumulo_hypervisor_virtualbox import opts
from cumulo_hypervisor_virtualbox.driver import VirtualBoxDriver
from oslo_config import cfg

from cumulo import conf as cumulo_conf
from cumulo.interfaces.base import PluginContext

SIMULATOR = Path(__file__).with_name("vboxmanage_sim.py")


def install_simulator(bin_dir: Path) -> Path:
    """``bin_dir/VBoxManage``: the simulator run by this interpreter's real binary, isolated (-IS: no site
    packages, nothing from the environment), as a program on its own path would be."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    program = bin_dir / "VBoxManage"
    source = SIMULATOR.read_text().split("\n", 1)[1]
    program.write_text(f"#!{os.path.realpath(sys.executable)} -IS\n{source}")
    program.chmod(0o755)
    return program


class Sim:
    """The simulator of one test: run its commands, read its registry, inject faults."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "vbox-home"
        self.machines = root / "machines"
        self.images = root / "images"
        self.home.mkdir(parents=True, exist_ok=True)
        self.program = install_simulator(root / "bin")

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.program), *args], capture_output=True, text=True, check=check,
                              env={**os.environ, "VBOX_USER_HOME": str(self.home)})

    def vms(self) -> list[str]:
        return [line for line in self("list", "vms").stdout.splitlines() if line]

    def hdd_locations(self) -> list[str]:
        return [line.split(":", 1)[1].strip() for line in self("list", "hdds").stdout.splitlines()
                if line.startswith("Location:")]

    def fail(self, command: str, times: int | None = None, **fields: Any) -> None:
        """Make ``command`` (``storageattach``, ``controlvm poweroff``) fail as VirtualBox would."""
        path = self.home / "simulator-faults.json"
        faults = json.loads(path.read_text()) if path.exists() else {"fail": []}
        faults["fail"].append({"command": command, **({"times": times} if times is not None else {}), **fields})
        path.write_text(json.dumps(faults))

    def set(self, **fields: Any) -> None:
        path = self.home / "simulator-faults.json"
        faults = json.loads(path.read_text()) if path.exists() else {"fail": []}
        path.write_text(json.dumps({**faults, **fields}))


def make_conf(sim: Sim, **overrides: Any) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    cumulo_conf.register(conf)
    conf.set_override("state_path", str(sim.root / "state"))
    opts.register_opts(conf)
    settings: dict[str, Any] = {"vboxmanage_path": str(sim.program), "user_home": str(sim.home),
                                "machine_folder": str(sim.machines), "images_path": str(sim.images),
                                "nic_mode": "hostonly", "shutdown_timeout": 2}
    settings.update(overrides)
    for name, value in settings.items():
        conf.set_override(name, value, group="virtualbox")
    return conf


@pytest.fixture
def sim(tmp_path: Path) -> Sim:
    return Sim(tmp_path)


@pytest.fixture
def make_driver(sim: Sim) -> Callable[..., VirtualBoxDriver]:
    def make(host: str | None = None, **overrides: Any) -> VirtualBoxDriver:
        return VirtualBoxDriver(PluginContext(make_conf(sim, **overrides), kind="hypervisor", name="virtualbox",
                                              host=host or f"node-{uuidlib.uuid4().hex[:8]}"))
    return make
