"""``cumulo plugin new``: the skeleton it writes installs and is discovered with no kernel change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib

import pytest
from cumulo_devtools import scaffold
from packaging.requirements import Requirement
from packaging.version import Version

import cumulo
from cumulo import registry


def cumulo_cli(tmp_path, *args, env=None):
    """Run ``cumulo`` as an operator does, with a configuration of its own under ``tmp_path``."""
    conf = tmp_path / "cumulo.conf"
    if not conf.exists():
        conf.write_text(f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\n")
    return subprocess.run([sys.executable, "-m", "cumulo.cmd.main", "--config-file", str(conf), *args],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("kind", ["hypervisor", "image", "scheduler.filters"])
def test_plugin_new_scaffold_is_discovered_without_kernel_change(tmp_path, kind):
    path = tmp_path / "myplugin"
    proc = cumulo_cli(tmp_path, "plugin", "new", kind, "mine", "--path", str(path))
    assert proc.returncode == 0, proc.stderr
    target = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                          "--target", str(target), str(path)], capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr
    env = {"PYTHONPATH": str(target)}
    proc = cumulo_cli(tmp_path, "plugin", "show", kind, "mine", "-f", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["distribution"] == f"cumulo-{kind.replace('.', '-')}-mine"
    kernel_version = registry.get_kind(kind).interface_class().INTERFACE_VERSION
    assert shown["interface_version"] == shown["kernel_interface_version"] == kernel_version
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(path)], capture_output=True,
                          text=True)
    assert lint.returncode == 0, lint.stdout


def test_a_new_plugin_declares_this_kernel_series(tmp_path):
    path = scaffold.new_plugin("hypervisor", "mine", str(tmp_path / "mine"))
    with open(os.path.join(path, "pyproject.toml"), "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    assert deps == [scaffold.kernel_requirement()]
    assert Version(cumulo.__version__) in Requirement(deps[0]).specifier
    assert scaffold.kernel_requirement("0.1.0") == "cumulo>=0.1,<0.2"
    assert scaffold.kernel_requirement("1.4.2") == "cumulo>=1.4,<2"


def test_plugin_new_is_a_devtools_command_not_a_kernel_one(tmp_path):
    proc = cumulo_cli(tmp_path, "plugin", "list", "--kind", "cli", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["Name"]: r for r in json.loads(proc.stdout)}
    assert rows["plugin_new"]["Distribution"] == "cumulo-devtools"
    assert rows["plugin_list"]["Distribution"] == "cumulo"
