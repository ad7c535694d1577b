"""Sphinx configuration for the Cumulo documentation.

Part of the reference section (``reference/``) is written from the code when
the build starts (``builder-inited``), so that it follows the tree as plugin
kinds, interfaces and contracts are added:

* ``reference/interfaces/`` — one page per interface module of
  ``cumulo.interfaces`` (with its submodules, for a package), headed by the
  plugin kinds of :data:`cumulo.registry.KINDS` it defines;
* ``reference/contracts.rst`` — every module under ``cumulo.contracts``;
* ``reference/plugins.rst`` — the installed plugins of every namespace in
  ``KINDS`` (``stevedore.sphinxext``);
* ``reference/interface-versions.rst`` — ``releasenotes/interface-versions.json``
  (and its earlier states in git), with the reno notes it names.

Those files are not committed (``reference/.gitignore``); a file is rewritten
only when its text changes, so incremental builds stay incremental.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import pkgutil
import subprocess
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REFERENCE = os.path.join(HERE, "reference")

project = "Cumulo"
copyright = "2026, the Cumulo authors"
extensions = [
    "oslo_config.sphinxext",
    "oslo_policy.sphinxext",
    "cliff.sphinxext",
    "sphinx.ext.autodoc",
    "stevedore.sphinxext",
]
templates_path: list[str] = []
exclude_patterns: list[str] = []
html_theme = "alabaster"
autodoc_member_order = "bysource"


# -- generated reference pages ------------------------------------------------------------------


def _title(text: str, char: str = "=") -> list[str]:
    return [text, char * len(text), ""]


def _write(path: str, lines: list[str]) -> str:
    """Write ``path`` when its text differs; return the path."""
    text = "\n".join(lines).rstrip("\n") + "\n"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return path
    except FileNotFoundError:
        pass
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def _automodule(module: str, *options: str) -> list[str]:
    return [f".. automodule:: {module}", "   :members:", "   :show-inheritance:",
            *(f"   :{o}:" for o in options), ""]


def _submodules(package: Any) -> list[str]:
    path = getattr(package, "__path__", None)
    if path is None:
        return []
    return [f"{package.__name__}.{m.name}" for m in sorted(pkgutil.iter_modules(path), key=lambda m: m.name)
            if not m.name.startswith("_")]


def _interface_pages() -> None:
    """``reference/interfaces/``: an index and one page per module of ``cumulo.interfaces``."""
    import cumulo.interfaces
    from cumulo import registry

    folder = os.path.join(REFERENCE, "interfaces")
    modules = [m.name for m in sorted(pkgutil.iter_modules(cumulo.interfaces.__path__), key=lambda m: m.name)
               if not m.name.startswith("_")]
    kinds_of: dict[str, list[Any]] = {}
    for kind in registry.KINDS.values():
        module = kind.interface.partition(":")[0]
        kinds_of.setdefault(module.rsplit(".", 1)[-1], []).append(kind)
    # base first, then the modules in the order of KINDS, then any other module
    order = ["base"] if "base" in modules else []
    order += [m for m in kinds_of if m in modules and m not in order]
    order += [m for m in modules if m not in order]

    written: set[str] = set()
    index = [*_title("Interfaces"),
             "Each plugin kind has one interface, an abstract class in a module of",
             ":mod:`cumulo.interfaces`; its docstrings are the contract. The table is",
             ":data:`cumulo.registry.KINDS`: the kind, the entry-point namespace its plugins",
             "register in, and the interface with the version the kernel implements.", "",
             ".. list-table::", "   :header-rows: 1", "",
             "   * - kind", "     - namespace", "     - interface", "     - version"]
    for kind in registry.KINDS.values():
        cls = kind.interface_class()
        index += [f"   * - ``{kind.name}``", f"     - ``{kind.namespace}``",
                  f"     - :class:`{cls.__module__}.{cls.__qualname__}`", f"     - {cls.INTERFACE_VERSION}"]
    index += ["", ".. toctree::", "   :maxdepth: 1", ""] + [f"   {m}" for m in order]
    written.add(_write(os.path.join(folder, "index.rst"), index))

    for name in order:
        module = f"cumulo.interfaces.{name}"
        kinds = kinds_of.get(name, [])
        if kinds:
            heading = ", ".join(k.description for k in kinds)
            heading = heading[0].upper() + heading[1:]
        elif name == "base":
            heading = "What every plugin shares"
        else:
            heading = f"Interface module {name}"
        lines = _title(f"{heading} (``{module}``)")
        if kinds:
            lines += ["Plugin kinds defined here:", ""]
            for kind in kinds:
                cls = kind.interface_class()
                lines.append(f"* ``{kind.name}``: entry points ``{kind.namespace}``, "
                             f":class:`{cls.__module__}.{cls.__qualname__}` {cls.INTERFACE_VERSION}"
                             f" (installed: :ref:`plugins-{kind.name.replace('.', '-')}`)")
            lines.append("")
        elif name == "base":
            lines += ["The base class, construction context, errors and version rules that every",
                      "interface below builds on.", ""]
        # Members imported from a submodule are documented with their submodule only.
        lines += _automodule(module, "ignore-module-all")
        for sub in _submodules(importlib.import_module(module)):
            lines += _title(f"``{sub}``", "-") + _automodule(sub, "ignore-module-all")
        written.add(_write(os.path.join(folder, f"{name}.rst"), lines))
    for stale in os.listdir(folder):
        path = os.path.join(folder, stale)
        if path not in written and stale.endswith(".rst"):
            os.unlink(path)


def _contracts_page() -> None:
    """``reference/contracts.rst``: every module under ``cumulo.contracts``, as it is in the tree."""
    import cumulo.contracts

    lines = [".. This page is written by doc/source/conf.py from the modules under cumulo.contracts.", "",
             *_title("Contracts"),
             "A contract module holds what an area service and the plugins that reach it",
             "(frontends, drivers) share: constants and error types, so that neither imports",
             "the other. Each declares a ``CONTRACT_VERSION``; a plugin names the contracts it",
             "uses in ``contracts`` (``{\"image\": \"1.0\"}``) and the registry checks them at load",
             "as it checks ``interface_version`` (:doc:`interface-versions`).", "",
             ".. automodule:: cumulo.contracts", ""]
    modules = sorted(m.name for m in pkgutil.iter_modules(cumulo.contracts.__path__) if not m.name.startswith("_"))
    for name in modules:
        module = importlib.import_module(f"cumulo.contracts.{name}")
        version = getattr(module, "CONTRACT_VERSION", None)
        lines += _title(f"``{module.__name__}``" + (f" {version}" if version else ""), "-")
        lines += _automodule(module.__name__)
    if not modules:
        lines += ["No contract module is defined yet.", ""]
    _write(os.path.join(REFERENCE, "contracts.rst"), lines)


def _plugins_page() -> None:
    """``reference/plugins.rst``: the installed plugins of every kind (``.. list-plugins::``)."""
    from cumulo import registry

    lines = [".. This page is written by doc/source/conf.py from cumulo.registry.KINDS.", "",
             *_title("Installed plugins"),
             "The plugins installed in the environment that built this documentation, by",
             "namespace, each with its class docstring (``cumulo plugin list`` shows the",
             "same for an installation, ``cumulo plugin show KIND NAME`` one plugin's options).", ""]
    for kind in registry.KINDS.values():
        cls = kind.interface_class()
        lines += [f".. _plugins-{kind.name.replace('.', '-')}:", ""]
        lines += _title(f"``{kind.namespace}``", "-")
        lines += [f"Kind ``{kind.name}``, {kind.description}; interface "
                  f":class:`{cls.__module__}.{cls.__qualname__}`.", ""]
        if importlib.metadata.entry_points(group=kind.namespace):
            lines += [".. list-plugins:: " + kind.namespace, "   :detailed:", "   :underline-style: ~", ""]
        else:
            lines += ["None installed.", ""]
    _write(os.path.join(REFERENCE, "plugins.rst"), lines)


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def _version_history(rel: str) -> list[tuple[str, str, str, str]]:
    """``(key, version, note, since)`` for every version the record has held, oldest first.

    Earlier states come from git (when the tree is a git checkout); the file as
    it is now comes last (``since`` is empty when that state is not committed).
    """
    states: list[tuple[str, dict[str, dict[str, str]]]] = []
    for row in (_git("log", "--reverse", "--format=%H %cs", "--", rel) or "").splitlines():
        commit, _, date = row.partition(" ")
        text = _git("show", f"{commit}:{rel}")
        try:
            states.append((date, json.loads(text or "")))
        except ValueError:
            continue
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        current = json.load(f)
    if not states or states[-1][1] != current:
        states.append(("", current))
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    for date, record in states:
        for key, entry in record.items():
            if isinstance(entry, dict) and "version" in entry:
                seen.setdefault((key, str(entry["version"])), (str(entry.get("note", "")), date))
    return [(key, version, note, since) for (key, version), (note, since) in seen.items()]


def _version_key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return ()


def _note_label(note: str) -> str:
    return "interface-note-" + os.path.splitext(os.path.basename(note))[0]


def _versions_page() -> None:
    """``reference/interface-versions.rst``: the interface and contract versions and their reno notes."""
    import yaml

    rel = "releasenotes/interface-versions.json"
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        current = json.load(f)
    history = _version_history(rel)
    with open(os.path.join(ROOT, "releasenotes", "config.yaml"), encoding="utf-8") as f:
        section_titles = {s[0]: s[1] for s in yaml.safe_load(f).get("sections", [])}

    lines = [f".. This page is written by doc/source/conf.py from {rel}.", "",
             *_title("Interface and contract versions"),
             "Every plugin interface carries an ``INTERFACE_VERSION`` and every kernel contract a",
             "``CONTRACT_VERSION`` (``MAJOR.MINOR``). A plugin declares the ``interface_version``",
             "it was written for and the ``contracts`` it uses; the registry accepts equal majors",
             "with a minor not newer than the kernel's. Each version is recorded in",
             f"``{rel}`` with the release note that introduced it and names it",
             "(``tests/unit/test_release_notes.py`` keeps the record, the code and the notes in",
             "agreement).", "",
             "Every version each interface and contract has had, from the record and its history",
             "in git (the date a version was first recorded; none for a change not yet committed);",
             "the current one is in bold.", "",
             ".. list-table::", "   :header-rows: 1", "",
             "   * - interface or contract", "     - version", "     - recorded", "     - release note"]
    for key, version, note, since in sorted(history, key=lambda r: (r[0], _version_key(r[1]))):
        exists = os.path.isfile(os.path.join(ROOT, note))
        ref = f":ref:`{os.path.basename(note)} <{_note_label(note)}>`" if exists else f"``{note}`` (removed)"
        shown = f"**{version}**" if current.get(key, {}).get("version") == version else version
        lines += [f"   * - ``{key}``", f"     - {shown}", f"     - {since or '—'}", f"     - {ref}"]
    lines += ["", *_title("The release notes", "-")]
    for note in sorted({n for _, _, n, _ in history if os.path.isfile(os.path.join(ROOT, n))}):
        with open(os.path.join(ROOT, note), encoding="utf-8") as f:
            content = yaml.safe_load(f)
        if not isinstance(content, dict):
            content = {}
        names = sorted(f"``{k}`` {v}" for k, v, n, _ in history if n == note)
        lines += [f".. _{_note_label(note)}:", "", *_title(f"``{os.path.basename(note)}``", "~"),
                  "Records " + ", ".join(names) + ".", ""]
        for section in ["prelude", *section_titles]:
            items = content.get(section)
            if not items:
                continue
            lines += [f".. rubric:: {section_titles.get(section, 'Prelude')}", ""]
            for item in [items] if isinstance(items, str) else items:
                body = str(item).strip("\n").splitlines()
                if not body:
                    continue
                if section == "prelude":
                    lines += [*body, ""]
                else:
                    lines += ["* " + body[0], *(("  " + b) if b.strip() else "" for b in body[1:]), ""]
    _write(os.path.join(REFERENCE, "interface-versions.rst"), lines)


def generate_reference(app: Any = None) -> None:
    """Write the generated pages of ``reference/`` from the tree."""
    _interface_pages()
    _contracts_page()
    _plugins_page()
    _versions_page()


def generate_feature_matrix(app: Any = None) -> None:
    """``data/feature-matrix.inc``: the feature matrix's tables, from the map and the recorded results."""
    import runpy

    runpy.run_path(os.path.join(ROOT, "tools", "feature_matrix.py"))["write_rendered"]()


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", generate_reference)
    app.connect("builder-inited", generate_feature_matrix)
    return {"parallel_read_safe": True}
