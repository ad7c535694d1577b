"""No import cycles between modules of the kernel or of a plugin.

The graph is built by grimp over the kernel package ``cumulo`` and every plugin
package found in ``plugins*/<dist>/cumulo_*/`` (one graph, so a cycle that
crossed packages would show as well). A cycle is a strongly connected
component of more than one module. The rules, chosen to keep the circles the
kernel redesign removed from coming back:

* **Every import counts**: module-level, function-level and ``if
  TYPE_CHECKING:`` imports alike. A function-level import is still a
  dependency (it is the usual way a circle is hidden, not removed), and a
  type-only one still couples the two modules; give the part a protocol or
  move the shared piece into a leaf module instead.
* **``from package import name`` imports the package**, even when ``name`` is a
  submodule (grimp itself records only the submodule): the statement runs the
  package's ``__init__`` and reads ``name`` from the package object. So a
  module of a package whose ``__init__`` imports its modules, writing
  ``from package import common``, depends on the package, whose ``__init__``
  imports that module back: a cycle. Name the module itself
  (``import cumulo_service_network.common as c``, ``from
  cumulo_service_network.common import random_mac``). Relative imports
  follow the same rule (``from . import x`` reads the package).
* Plain ``import a.b.c`` depends on ``a.b.c`` only (as grimp records it).

Cycles that remain are listed in :data:`ALLOWED`, each with its reason. A new
cycle, or a listed one that grew, fails; so does an entry that no longer
matches a cycle (delete it when the cycle goes).
"""

from __future__ import annotations

import ast
import glob
import itertools
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
KERNEL = "cumulo"

#: Cycles left today: frozenset of the modules of the cycle -> why it is still there. None: the four
#: area cycles (compute, identity, image, object <-> their own modules) went when those modules
#: started importing their siblings by full name.
ALLOWED: dict[frozenset[str], str] = {}

#: Cycles that must never come back (each was one of the four circles the redesign removed).
GONE: tuple[frozenset[str], ...] = (
    frozenset({"cumulo.conf", "cumulo.conf.check"}),
    frozenset({"cumulo.messaging", "cumulo.messaging.rpc"}),
    frozenset({"cumulo_service_network.manager", "cumulo_service_network.ports"}),  # was the package <-> core
    frozenset({"cumulo_object_ring.node", "cumulo_object_ring.daemons"}),
)


# -- the graph ---------------------------------------------------------------------------------


def package_roots(root: Path = ROOT) -> dict[str, Path]:
    """The kernel and every plugin import package, each with the folder that holds it."""
    found = {KERNEL: root / "core"}
    for init in sorted(glob.glob(os.path.join(root, "plugins*", "*", "cumulo_*", "__init__.py"))):
        package = Path(init).parent
        found[package.name] = package.parent
    return found


def module_files(name: str, parent: Path) -> dict[str, Path]:
    """Module name -> source file of every module of the package ``name`` under ``parent``."""
    out: dict[str, Path] = {}
    for path in sorted((parent / name).rglob("*.py")):
        parts = list(path.relative_to(parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _from_targets(module: str, path: Path) -> Iterable[str]:
    """What each ``from X import ...`` statement of the module names as X (relative ones resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            yield f"{base}.{node.module}" if node.module else base
        elif node.module:
            yield node.module


def import_graph(roots: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules it imports, by the rules of this module's docstring."""
    saved = list(sys.path)
    sys.path[:0] = [str(p) for p in dict.fromkeys(roots.values())]
    try:
        graph = grimp.build_graph(*roots, include_external_packages=False, cache_dir=None)
    finally:
        sys.path[:] = saved
    modules = set(graph.modules)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) & modules for m in modules}
    packages = {m.rpartition(".")[0] for m in modules} & modules
    for name, parent in roots.items():
        for module, path in module_files(name, parent).items():
            if module not in modules:
                continue
            for target in _from_targets(module, path):
                if target in packages and target != module:
                    edges[module].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = itertools.count()
    for start in sorted(edges):
        if start in index:
            continue
        index[start] = low[start] = next(counter)
        stack.append(start)
        on_stack.add(start)
        work = [(start, iter(sorted(edges[start])))]
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = next(counter)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def _describe(component: frozenset[str], edges: dict[str, set[str]]) -> str:
    inner = [f"  {m} -> {', '.join(sorted(edges[m] & component))}" for m in sorted(component)]
    return "\n".join([f"cycle of {len(component)} modules:", *inner])


# -- the tree ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tree_edges() -> dict[str, set[str]]:
    return import_graph(package_roots())


def test_the_graph_covers_the_kernel_and_every_plugin(tree_edges):
    roots = package_roots()
    assert {KERNEL, "cumulo_object_ring", "cumulo_api_network", "cumulo_scheduler_hostname"} <= set(roots)
    for name in roots:
        assert name in tree_edges, name
    assert {"cumulo.conf", "cumulo.messaging.rpc", "cumulo_service_network.ports",
            "cumulo_object_ring.daemons"} <= set(tree_edges)


def test_no_import_cycle_but_the_allowed_ones(tree_edges):
    found = cycles(tree_edges)
    new = [c for c in found if c not in ALLOWED]
    assert not new, "import cycles (see the rules in tests/unit/test_import_cycles.py):\n" + "\n".join(
        _describe(c, tree_edges) for c in new)


def test_every_allowed_cycle_still_exists_and_says_why(tree_edges):
    found = set(cycles(tree_edges))
    stale = [sorted(c) for c in ALLOWED if c not in found]
    assert not stale, f"these cycles are gone: delete them from ALLOWED: {stale}"
    assert all(why.strip() for why in ALLOWED.values())


@pytest.mark.parametrize("pair", GONE, ids=lambda p: " <-> ".join(sorted(p)))
def test_the_circles_the_redesign_removed_stay_gone(tree_edges, pair):
    assert not any(pair <= c for c in cycles(tree_edges))


def test_list_opts_entry_point_modules_import_no_service(tree_edges):
    """cumulo.conf reaches no service, database or messaging module, even through a chain."""
    seen, todo = set(), ["cumulo.conf"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(tree_edges[module])
    assert seen <= {"cumulo"} | {m for m in tree_edges if m == "cumulo.conf" or m.startswith("cumulo.conf.")}
    assert "cumulo.conf.check" not in seen


# -- the rules, on a small tree ----------------------------------------------------------------


def _probe(tmp_path: Path, files: dict[str, str]) -> list[frozenset[str]]:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    name = next(iter(files)).split("/")[0]
    return cycles(import_graph({name: tmp_path}))


def test_a_module_reading_its_package_back_is_a_cycle(tmp_path):
    found = _probe(tmp_path, {
        "cycprobe_a/__init__.py": "from cycprobe_a.core import Core\n",
        "cycprobe_a/core.py": "from cycprobe_a import helpers\n",
        "cycprobe_a/helpers.py": "",
    })
    assert found == [frozenset({"cycprobe_a", "cycprobe_a.core"})]


def test_naming_the_module_itself_is_no_cycle(tmp_path):
    assert _probe(tmp_path, {
        "cycprobe_b/__init__.py": "from cycprobe_b.core import Core\n",
        "cycprobe_b/core.py": "import cycprobe_b.helpers as helpers\nfrom cycprobe_b.views import view\n",
        "cycprobe_b/helpers.py": "",
        "cycprobe_b/views.py": "def view(): pass\n",
    }) == []


def test_function_level_and_type_checking_imports_count(tmp_path):
    found = _probe(tmp_path, {
        "cycprobe_c/__init__.py": "",
        "cycprobe_c/node.py": "import cycprobe_c.daemons\n",
        "cycprobe_c/daemons.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                  "    from cycprobe_c.node import Node\n"),
        "cycprobe_c/conf.py": "def list_opts():\n    from cycprobe_c import check\n",
        "cycprobe_c/check.py": "import cycprobe_c.conf\n",
    })
    assert sorted(map(sorted, found)) == [["cycprobe_c.check", "cycprobe_c.conf"],
                                          ["cycprobe_c.daemons", "cycprobe_c.node"]]


def test_relative_imports_follow_the_same_rule(tmp_path):
    found = _probe(tmp_path, {
        "cycprobe_d/__init__.py": "from .core import Core\n",
        "cycprobe_d/core.py": "from . import helpers\n",
        "cycprobe_d/helpers.py": "",
    })
    assert found == [frozenset({"cycprobe_d", "cycprobe_d.core"})]
