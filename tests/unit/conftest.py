"""Fixtures for kernel unit tests."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cumulo import registry


@pytest.fixture
def fake_distribution(tmp_path: Any) -> Iterator[Callable[..., str]]:
    """Install a throwaway distribution (dist-info + modules) on sys.path for one test.

    ``make(name, entry_points={"cumulo.hypervisor": {"x": "mod:Cls"}}, modules={"mod": "source"})``
    """
    added: list[str] = []

    def make(name: str, entry_points: dict[str, dict[str, str]], modules: dict[str, str],
             version: str = "0.1", requires: tuple[str, ...] = ()) -> str:
        root = tmp_path / f"site-{name}"
        info = root / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        requires_dist = "".join(f"Requires-Dist: {r}\n" for r in requires)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{requires_dist}")
        lines = []
        for group, eps in entry_points.items():
            lines.append(f"[{group}]")
            lines += [f"{k} = {v}" for k, v in eps.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for mod, source in modules.items():
            (root / f"{mod}.py").write_text(textwrap.dedent(source))
        sys.path.insert(0, str(root))
        added.append(str(root))
        registry.refresh()
        return str(root)

    yield make
    for path in added:
        sys.path.remove(path)
        for mod in [m for m, v in sys.modules.items() if (getattr(v, "__file__", "") or "").startswith(path)]:
            del sys.modules[mod]
    registry.refresh()
    os.environ.pop("CUMULO_TEST_DUMMY", None)
