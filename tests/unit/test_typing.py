"""The kernel's types reach driver authors (py.typed), and mypy.ini keeps its strict modules strict."""

from __future__ import annotations

import configparser
import os
import tomllib

import cumulo

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STRICT_SECTIONS = ("mypy-cumulo.interfaces", "mypy-cumulo.interfaces.*", "mypy-cumulo.contracts",
                   "mypy-cumulo.contracts.*", "mypy-cumulo.registry")
# What --strict turns on, less the two global-only flags set in [mypy].
STRICT_FLAGS = ("disallow_any_generics", "disallow_subclassing_any", "disallow_untyped_calls",
                "disallow_untyped_defs", "disallow_incomplete_defs", "check_untyped_defs",
                "disallow_untyped_decorators", "warn_return_any", "no_implicit_reexport", "strict_equality",
                "extra_checks")


def _mypy_ini() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    assert parser.read(os.path.join(ROOT, "mypy.ini"))
    return parser


def test_kernel_ships_py_typed() -> None:
    assert os.path.isfile(os.path.join(os.path.dirname(cumulo.__file__), "py.typed"))
    with open(os.path.join(ROOT, "core", "pyproject.toml"), "rb") as f:
        package_data = tomllib.load(f)["tool"]["setuptools"]["package-data"]
    assert "py.typed" in package_data.get("cumulo", [])


def test_strict_sections_spell_out_strict_mode() -> None:
    ini = _mypy_ini()
    assert ini.getboolean("mypy", "warn_unused_ignores") and ini.getboolean("mypy", "warn_redundant_casts")
    for section in STRICT_SECTIONS:
        for flag in STRICT_FLAGS:
            assert ini.getboolean(section, flag, fallback=False), f"[{section}] lacks {flag} = True"


def test_no_per_module_strict_switch() -> None:
    # mypy applies `strict = True` found in any section to every module: it would
    # make the whole tree strict instead of the sections that say it.
    ini = _mypy_ini()
    leaking = [name for name in ini.sections() if name.startswith("mypy-") and ini.has_option(name, "strict")]
    assert not leaking, f"`strict` in per-module sections {leaking}: list the flags instead"
