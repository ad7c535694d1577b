"""The kernel never imports a plugin package: statically, and when it is imported and run.

The static rule is one of the layering contracts of ``test_layering.py``
(import-linter, with plugins independent of each other and reaching area
services only through the hub); the check here is the run-time half, plus a
plain AST scan that needs no tool.
"""

from __future__ import annotations

import ast
import glob
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def plugin_packages() -> set[str]:
    names = set()
    for pyproject in glob.glob(os.path.join(ROOT, "plugins*", "*", "pyproject.toml")):
        for entry in os.listdir(os.path.dirname(pyproject)):
            if entry.startswith("cumulo_") and os.path.isfile(os.path.join(os.path.dirname(pyproject), entry, "__init__.py")):
                names.add(entry)
    return names


def test_no_kernel_module_imports_a_plugin_package():
    plugins = plugin_packages()
    offenders = []
    for path in glob.glob(os.path.join(ROOT, "core", "cumulo", "**", "*.py"), recursive=True):
        tree = ast.parse(open(path).read(), path)
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{os.path.relpath(path, ROOT)}: {n}" for n in names if n.split(".")[0] in plugins]
    assert offenders == []


SCRIPT = r"""
import importlib, pkgutil, sys, json
import cumulo
for mod in pkgutil.walk_packages(cumulo.__path__, "cumulo."):
    if ".migrations." in mod.name or mod.name.endswith(".migrations.env"):
        continue
    importlib.import_module(mod.name)
from cumulo.cmd.main import main
conf = sys.argv[1]
for argv in (["service", "list"], ["plugin", "list"], ["plugin", "list", "--kind", "hypervisor"]):
    assert main(["--config-file", conf] + argv) == 0
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_and_running_the_kernel_imports_no_plugin(tmp_path):
    """Every kernel module imported, kernel commands run: no plugin package loaded.

    (Plugins are loaded only when the registry is asked for one; ``db sync``
    finds plugin migrations through the ``cumulo.db.migrations`` entry points.)
    """
    plugins = plugin_packages()
    conf = tmp_path / "c.conf"
    conf.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\n")
    sync = subprocess.run([sys.executable, "-m", "cumulo.cmd.main", "--config-file", str(conf), "db", "sync"],
                          capture_output=True, text=True, timeout=120)
    assert sync.returncode == 0, sync.stderr
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(conf)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    import json

    loaded = {m.split(".")[0] for m in json.loads(proc.stdout.strip().splitlines()[-1])}
    assert plugins, "no plugin packages found to check against"
    assert loaded & plugins == set()
