"""The layering of kernel and plugins, as import-linter contracts generated from the tree.

Three contracts, over every ``cumulo_*`` package found in ``plugins*/<dist>/``
(so a new plugin is covered the day its folder appears):

* **kernel imports no plugin** (forbidden): no module of ``cumulo``, directly
  or through a chain, imports a plugin package. The kernel reaches plugins
  through ``cumulo.registry`` only. (``test_kernel_isolation.py`` checks the
  same at run time.)
* **plugins are independent** (independence): no import, direct or indirect,
  crosses from one plugin package to another.
* **plugins import only the kernel, not area services** (forbidden): frontends
  (``cumulo_api_*``) and drivers import the kernel (interfaces, conf, db, wsgi,
  ``cumulo.services.ServiceHub``...), never ``cumulo.services.<area>``, which
  is leaving the kernel. Frontends call ``hub.<area>``. Today's imports are
  listed, each with its reason, in :data:`SERVICE_INTERNALS_ALLOWED`; any
  other import of an area's modules breaks the contract, and an entry that no
  longer matches an import breaks it too (delete it when the import goes).

The contracts are written to a temporary config and checked by ``lint-imports``
in a subprocess. ``python tests/unit/test_layering.py`` prints the config and
checks the tree from the command line.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]

KERNEL_CONTRACT = "Kernel imports no plugin"
INDEPENDENCE_CONTRACT = "Plugins are independent of each other"
SERVICES_CONTRACT = "Plugins import only the kernel, not area services"

#: Imports of area-service modules (``cumulo.services.<area>...``) by plugins that
#: exist today, as ``"importer -> imported"`` (import-linter's ``ignore_imports``)
#: with what each one uses. They go when the area moves out of the kernel and
#: what they use moves behind ``hub.<area>`` or into the kernel proper. Do not
#: add to this list: give the service a method, or move the helper into the
#: kernel (``cumulo.wsgi``, ``cumulo.interfaces``...).
SERVICE_INTERNALS_ALLOWED: tuple[tuple[str, str], ...] = (
)


def plugin_packages(root: Path) -> dict[str, Path]:
    """Every plugin import package under ``root/plugins*/<dist>/``, with the folder that holds it."""
    found: dict[str, Path] = {}
    for init in sorted(glob.glob(os.path.join(root, "plugins*", "*", "cumulo_*", "__init__.py"))):
        package = Path(init).parent
        found[package.name] = package.parent
    return found


def _lines(items: list[str]) -> str:
    return "".join(f"\n    {item}" for item in items)


def layering_config(kernel: str, plugins: list[str], allowed: list[str]) -> str:
    """import-linter's INI config for the three contracts (see the module docstring)."""
    plugins = sorted(plugins)
    return "\n".join([
        "[importlinter]",
        f"root_packages ={_lines([kernel, *plugins])}",
        "",
        "[importlinter:contract:kernel-imports-no-plugin]",
        f"name = {KERNEL_CONTRACT}",
        "type = forbidden",
        f"source_modules = {kernel}",
        f"forbidden_modules ={_lines(plugins)}",
        f"broken_contract_guidance = The kernel reaches plugins through {kernel}.registry only (entry points).",
        "",
        "[importlinter:contract:plugins-independent]",
        f"name = {INDEPENDENCE_CONTRACT}",
        "type = independence",
        f"modules ={_lines(plugins)}",
        "broken_contract_guidance = A plugin depends on the kernel, never on another plugin:"
        " move what both need into the kernel.",
        "",
        "[importlinter:contract:plugins-import-only-the-kernel]",
        "# Direct imports only: a plugin importing a kernel module that imports an area service",
        "# is the kernel's business (see the allow-list in tests/unit/test_layering.py).",
        f"name = {SERVICES_CONTRACT}",
        "type = forbidden",
        f"source_modules ={_lines(plugins)}",
        f"forbidden_modules = {kernel}.services.*",
        "allow_indirect_imports = true",
        f"ignore_imports ={_lines(allowed)}",
        "broken_contract_guidance = Call the area through hub.<area> (a method on its Service) or use a kernel"
        " module; tests/unit/test_layering.py lists the imports allowed today. An allow-list entry that"
        " matches no import must be deleted.",
        "",
    ])


@dataclasses.dataclass
class Result:
    returncode: int
    output: str
    contracts: dict[str, str]  # contract name -> "KEPT" or "BROKEN"

    @property
    def broken(self) -> set[str]:
        return {name for name, status in self.contracts.items() if status == "BROKEN"}


def check_layering(root: Path, kernel: str = "cumulo",
                   allowed: tuple[tuple[str, str], ...] = SERVICE_INTERNALS_ALLOWED) -> Result:
    """Generate the contracts for the tree at ``root`` and check them with lint-imports.

    The kernel package is ``root/core/<kernel>``; the packages are found from
    the tree's own folders (put first on ``PYTHONPATH``), not from whatever is
    installed.
    """
    plugins = plugin_packages(root)
    assert plugins, f"no plugin packages under {root}/plugins*/"
    config = layering_config(kernel, list(plugins), [expr for expr, _ in allowed])
    paths = [str(root / "core"), *sorted({str(p) for p in plugins.values()})]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    with tempfile.TemporaryDirectory() as tmp:
        config_file = os.path.join(tmp, "layering.ini")
        with open(config_file, "w") as f:
            f.write(config)
        proc = subprocess.run(
            [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
             "--no-cache", "--no-logo", config_file],
            capture_output=True, text=True, cwd=tmp, env=env, timeout=300)
    output = proc.stdout + proc.stderr
    contracts = dict(re.findall(r"^(.+?) (KEPT|BROKEN)\b", output, re.MULTILINE))
    return Result(proc.returncode, output, contracts)


# -- the tree ------------------------------------------------------------------------------------


def test_the_tree_keeps_the_layering():
    result = check_layering(ROOT)
    assert result.returncode == 0, result.output[-8000:]
    assert result.contracts == {KERNEL_CONTRACT: "KEPT", INDEPENDENCE_CONTRACT: "KEPT", SERVICES_CONTRACT: "KEPT"}


def test_the_contracts_cover_frontends_and_drivers_of_both_plugin_folders():
    plugins = plugin_packages(ROOT)
    assert {"cumulo_api_compute", "cumulo_hypervisor_fake", "cumulo_scheduler_hostname"} <= set(plugins)
    assert not [name for name in plugins if name.endswith(".egg-info")]


def test_every_allowed_import_says_why_and_is_a_plugin_reaching_a_service():
    plugins = plugin_packages(ROOT)
    for expr, why in SERVICE_INTERNALS_ALLOWED:
        importer, imported = (part.strip() for part in expr.split("->"))
        assert importer.split(".")[0] in plugins, expr
        assert imported.startswith("cumulo.services."), expr
        assert why.strip(), expr


# -- plugins declare the kernel releases they support -------------------------------------------


def kernel_version() -> str:
    with open(ROOT / "core" / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["version"]


def test_the_kernel_has_one_version():
    import cumulo

    assert cumulo.__version__ == kernel_version()


def test_every_plugin_declares_a_kernel_range_that_holds_this_kernel():
    version = Version(kernel_version())
    next_series = Version(f"{version.major}.{version.minor + 1}" if version.major == 0 else f"{version.major + 1}")
    for pyproject in sorted(glob.glob(os.path.join(ROOT, "plugins*", "*", "pyproject.toml"))):
        with open(pyproject, "rb") as f:
            deps = [Requirement(d) for d in tomllib.load(f)["project"]["dependencies"]]
        kernel = [r for r in deps if r.name == "cumulo"]
        assert len(kernel) == 1, f"{pyproject}: depends on the kernel once"
        spec = kernel[0].specifier
        assert version in spec, f"{pyproject}: {spec} excludes this kernel {version}"
        assert next_series not in spec, f"{pyproject}: {spec} has no upper bound below {next_series}"


# -- the contracts break on a violation: a small tree checked by the same function -------------

PROBE_KERNEL = "layerprobe_kernel"
FRONTEND = "cumulo_api_layerprobe"
DRIVER = "cumulo_hypervisor_layerprobe"


def make_tree(root: Path, extra: dict[str, str] | None = None) -> Path:
    """A kernel with one area service, one frontend and one driver, all layered properly."""
    files = {
        f"core/{PROBE_KERNEL}/__init__.py": "",
        f"core/{PROBE_KERNEL}/registry.py": "import importlib\n",
        f"core/{PROBE_KERNEL}/interfaces.py": "class Driver:\n    pass\n",
        f"core/{PROBE_KERNEL}/services/__init__.py": "class ServiceHub:\n    pass\n",
        f"core/{PROBE_KERNEL}/services/compute/__init__.py": "",
        f"core/{PROBE_KERNEL}/services/compute/manager.py": "def helper():\n    pass\n",
        f"plugins/cumulo-api-layerprobe/{FRONTEND}/__init__.py": "",
        f"plugins/cumulo-api-layerprobe/{FRONTEND}/app.py":
            f"from {PROBE_KERNEL} import interfaces\nfrom {PROBE_KERNEL}.services import ServiceHub\n",
        f"plugins-contrib/cumulo-hypervisor-layerprobe/{DRIVER}/__init__.py": "",
        f"plugins-contrib/cumulo-hypervisor-layerprobe/{DRIVER}/driver.py":
            f"from {PROBE_KERNEL}.interfaces import Driver\n",
        **(extra or {}),
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_a_layered_tree_keeps_every_contract(tmp_path):
    result = check_layering(make_tree(tmp_path), kernel=PROBE_KERNEL, allowed=())
    assert result.returncode == 0, result.output
    assert set(result.contracts.values()) == {"KEPT"} and len(result.contracts) == 3, result.output


SERVICE_IMPORT = f"from {PROBE_KERNEL}.services.compute.manager import helper\n"


@pytest.mark.parametrize(("violation", "broken"), [
    pytest.param({f"core/{PROBE_KERNEL}/registry.py": f"import {DRIVER}.driver\n"},
                 KERNEL_CONTRACT, id="kernel-imports-a-plugin"),
    pytest.param({f"core/{PROBE_KERNEL}/cmd.py": f"def main():\n    from {FRONTEND} import app\n"},
                 KERNEL_CONTRACT, id="kernel-imports-a-plugin-in-a-function"),
    pytest.param({f"plugins-contrib/cumulo-hypervisor-layerprobe/{DRIVER}/driver.py": f"from {FRONTEND} import app\n"},
                 INDEPENDENCE_CONTRACT, id="driver-imports-a-frontend"),
    pytest.param({f"plugins/cumulo-api-layerprobe/{FRONTEND}/app.py": f"import {DRIVER}.driver\n"},
                 INDEPENDENCE_CONTRACT, id="frontend-imports-a-driver"),
    pytest.param({f"plugins/cumulo-api-layerprobe/{FRONTEND}/app.py": SERVICE_IMPORT},
                 SERVICES_CONTRACT, id="frontend-imports-service-internals"),
    pytest.param({f"plugins/cumulo-api-layerprobe/{FRONTEND}/views.py": f"import {PROBE_KERNEL}.services.compute\n"},
                 SERVICES_CONTRACT, id="frontend-imports-an-area-package"),
    pytest.param({f"plugins-contrib/cumulo-hypervisor-layerprobe/{DRIVER}/driver.py":
                  f"from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    {SERVICE_IMPORT}"},
                 SERVICES_CONTRACT, id="driver-imports-service-internals-for-typing"),
])
def test_a_violation_breaks_its_contract(tmp_path, violation, broken):
    result = check_layering(make_tree(tmp_path, violation), kernel=PROBE_KERNEL, allowed=())
    assert result.returncode != 0, result.output
    assert result.broken == {broken}, result.output


def test_an_allowed_service_import_passes_and_any_other_still_breaks(tmp_path):
    allowed = ((f"{FRONTEND}.app -> {PROBE_KERNEL}.services.compute.manager", "helper()"),)
    tree = make_tree(tmp_path, {f"plugins/cumulo-api-layerprobe/{FRONTEND}/app.py": SERVICE_IMPORT})
    assert check_layering(tree, kernel=PROBE_KERNEL, allowed=allowed).returncode == 0

    (tree / f"plugins/cumulo-api-layerprobe/{FRONTEND}/views.py").write_text(SERVICE_IMPORT)
    result = check_layering(tree, kernel=PROBE_KERNEL, allowed=allowed)
    assert result.broken == {SERVICES_CONTRACT}, result.output
    assert f"{FRONTEND}.views -> {PROBE_KERNEL}.services.compute.manager" in result.output


def test_an_allow_list_entry_that_matches_no_import_fails(tmp_path):
    """When a frontend stops reaching into a service, its entry must go, so the import cannot come back."""
    allowed = ((f"{FRONTEND}.app -> {PROBE_KERNEL}.services.compute.manager", "no longer imported"),)
    result = check_layering(make_tree(tmp_path), kernel=PROBE_KERNEL, allowed=allowed)
    assert result.returncode != 0, result.output
    assert "No matches for ignored import" in result.output, result.output


if __name__ == "__main__":
    print(layering_config("cumulo", list(plugin_packages(ROOT)), [e for e, _ in SERVICE_INTERNALS_ALLOWED]))
    outcome = check_layering(ROOT)
    print(outcome.output)
    sys.exit(outcome.returncode)
