"""Functional tests: the standard clients against a real ``cumulo up`` in a subprocess.

``cloud`` is shared by every test of a worker (session scope); tests that stop,
crash or reconfigure a cloud make their own with ``make_cloud``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cumulo.testing.cloud import CumuloCloud


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    c = CumuloCloud(tmp_path_factory.mktemp("cloud"))
    c.start()
    yield c
    c.stop()


@pytest.fixture
def make_cloud(tmp_path: Any) -> Iterator[Callable[..., CumuloCloud]]:
    made: list[CumuloCloud] = []

    def make(config: dict[str, dict[str, Any]] | None = None, name: str = "cloud", **kwargs: Any) -> CumuloCloud:
        c = CumuloCloud(tmp_path / name, config=config, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()
