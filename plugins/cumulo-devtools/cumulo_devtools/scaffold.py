"""The plugin scaffold behind ``cumulo plugin new``: a new distribution the registry discovers unchanged."""

from __future__ import annotations

import inspect
import keyword
import os
import re
import textwrap
from collections.abc import Callable

import cumulo
from cumulo import exception, registry
from cumulo.interfaces.base import Plugin

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def kernel_requirement(version: str = cumulo.__version__) -> str:
    """The kernel range a new plugin declares: this kernel's release series.

    Before 1.0 a minor release may break plugins (``0.1.x`` -> ``cumulo>=0.1,<0.2``);
    from 1.0 on only a major release does (``1.4.2`` -> ``cumulo>=1.4,<2``).
    """
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None:
        raise ValueError(f"kernel version {version!r} is not MAJOR.MINOR[...]")
    major, minor = int(match[1]), int(match[2])
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f"cumulo>={major}.{minor},<{upper}"


def _method_stub(name: str, fn: Callable[..., object]) -> str:
    sig = _signature(inspect.signature(fn))
    doc = (inspect.getdoc(fn) or "").split("\n")[0]
    return (f"    def {name}{sig}:\n"
            f"        # Contract: {doc or 'see the interface docstring'}\n"
            f"        raise NotImplementedError({name!r})\n")


def _signature(sig: inspect.Signature) -> str:
    """The signature as source, annotations unquoted (they are strings under PEP 563)."""
    parts = []
    for p in sig.parameters.values():
        text = p.name if p.kind is not p.VAR_KEYWORD else f"**{p.name}"
        text = f"*{p.name}" if p.kind is p.VAR_POSITIONAL else text
        if p.annotation is not p.empty:
            text += f": {p.annotation if isinstance(p.annotation, str) else p.annotation.__name__}"
        if p.default is not p.empty:
            text += f" = {p.default!r}"
        parts.append(text)
    ret = sig.return_annotation
    ret_text = "" if ret is sig.empty else f" -> {ret if isinstance(ret, str) else ret.__name__}"
    return f"({', '.join(parts)}){ret_text}"


def new_plugin(kind: str, name: str, path: str) -> str:
    """Write the distribution under ``path``; returns the directory. Refuses to overwrite."""
    k = registry.get_kind(kind)
    if not _NAME.match(name):
        raise exception.Invalid(reason=f"plugin name '{name}' must be lowercase letters, digits, '_' or '-'")
    iface = k.interface_class()
    slug = name.replace("-", "_")
    pkg = f"cumulo_{kind.replace('.', '_')}_{slug}"
    if keyword.iskeyword(slug):
        raise exception.Invalid(reason=f"plugin name '{name}' is a Python keyword")
    dist = pkg.replace("_", "-")
    root = os.path.abspath(path)
    if os.path.exists(os.path.join(root, "pyproject.toml")):
        raise exception.Conflict(reason=f"{root} already holds a distribution; choose another --path")
    cls_name = "".join(p.capitalize() for p in slug.split("_")) + iface.__name__
    methods = "\n".join(_method_stub(m, getattr(iface, m)) for m in sorted(iface.__abstractmethods__))
    conformance = f"cumulo.testing.conformance.{kind.split('.')[0]}"
    files = {
        "pyproject.toml": f'''\
            [build-system]
            requires = ["setuptools>=64"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{dist}"
            version = "0.1.0"
            description = "A Cumulo {kind} plugin"
            requires-python = ">=3.11"
            dependencies = ["{kernel_requirement()}"]

            [project.entry-points."{k.namespace}"]
            {name} = "{pkg}.plugin:{cls_name}"

            [project.entry-points."oslo.config.opts"]
            {pkg} = "{pkg}.plugin:list_opts"

            [tool.setuptools.packages.find]
            include = ["{pkg}*"]
            ''',
        f"{pkg}/__init__.py": f'"""{dist}: a Cumulo {kind} plugin."""\n',
        f"{pkg}/plugin.py": _plugin_module(name, kind, iface, cls_name, methods),
        "tests/test_plugin.py": f'''\
            """Registry discovery and the kernel's conformance suite for this plugin."""

            from cumulo import registry


            def test_discovered_and_accepted():
                cls = registry.load_class("{kind}", "{name}")
                assert cls.__name__ == "{cls_name}"

            # Run the kernel's conformance suite for {kind} plugins: subclass the suite
            # in {conformance} and provide your instance through its fixture.
            ''',
        "README.rst": f"{dist}\n{'=' * len(dist)}\n\nA Cumulo {kind} plugin. Install: ``pip install -e .``\n",
    }
    for rel, text in files.items():
        target = os.path.join(root, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as f:
            f.write(textwrap.dedent(text))
    return root


def _isort_key(name: str) -> tuple[int, str]:
    """isort's (and ruff's) order-by-type: CONSTANTS, then Classes, then functions and modules."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def _imports(iface: type[Plugin], methods: str) -> str:
    """Import lines for the names the generated signatures use, from where the interface has them."""
    module = inspect.getmodule(iface)
    if module is None:  # an interface class always comes from an imported module
        raise exception.CumuloError(f"cannot find the module of {iface.__qualname__}")
    signatures = "\n".join(line for line in methods.splitlines() if line.lstrip().startswith("def "))
    used = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", signatures))
    by_origin: dict[str, set[str]] = {}
    for name in sorted(used):
        obj = getattr(module, name, None)
        if name == "ServiceHub":
            by_origin.setdefault("cumulo.services", set()).add(name)
            continue
        if obj is None or inspect.ismodule(obj) or name in dir(__builtins__) or name == iface.__name__:
            continue  # (a parameter named like a submodule, ``image``, is not an import)
        is_alias = not (inspect.isclass(obj) or inspect.isfunction(obj)) or type(obj).__name__ == "GenericAlias"
        exported = name in getattr(module, "__all__", ())  # a package's public name: import it from there
        origin = module.__name__ if (is_alias and name != "Any") or exported else (
            getattr(obj, "__module__", None) or module.__name__)
        if origin in ("builtins", "typing", "collections.abc") or name in ("Any",):
            origin = "typing" if name == "Any" else ("collections.abc" if origin != "builtins" else origin)
        if origin == "builtins":
            continue
        by_origin.setdefault(origin, set()).add(name)
    by_origin.setdefault(module.__name__, set()).add(iface.__name__)
    by_origin.setdefault("oslo_config", set()).add("cfg")
    def section(mod: str) -> int:  # isort's order: stdlib, third party, first party
        return 2 if mod.startswith("cumulo") else (1 if mod == "oslo_config" else 0)

    blocks: dict[int, list[str]] = {}
    for mod, names in sorted(by_origin.items()):
        listed = sorted(names, key=_isort_key)
        line = f"from {mod} import {', '.join(listed)}"
        if len(line) > 120:  # ruff's line length: one name per line, in parentheses
            line = f"from {mod} import (\n" + "".join(f"    {n},\n" for n in listed) + ")"
        blocks.setdefault(section(mod), []).append(line)
    return "\n\n".join("\n".join(blocks[k]) for k in sorted(blocks))


def _plugin_module(name: str, kind: str, iface: type[Plugin], cls_name: str, methods: str) -> str:
    group = f"{kind.replace('.', '_')}_{name.replace('-', '_')}"
    return (
        f'"""The {name} {kind} plugin."""\n\n'
        "from __future__ import annotations\n\n"
        f"{_imports(iface, methods)}\n\n\n"
        f"class {cls_name}({iface.__name__}):\n"
        '    """TODO: one line saying what this plugin does."""\n\n'
        f'    interface_version = "{iface.INTERFACE_VERSION}"\n\n'
        "    @classmethod\n"
        "    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:\n"
        f'        return [("{group}", [])]\n\n'
        f"{methods}\n\n"
        "def list_opts() -> list[tuple[str, list[cfg.Opt]]]:\n"
        f"    return {cls_name}.list_opts()\n"
    )
