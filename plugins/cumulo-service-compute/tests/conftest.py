"""Fixtures: a migrated database and the compute hosts of the fake driver, in process (cumulo.testing.fixtures)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cumulo.context import RequestContext
from cumulo.testing.fixtures import FakeHub, context, wait_for


@pytest.fixture
def compute_hub(cumulo_compute_hub: FakeHub) -> FakeHub:
    """A hub with 3 fake hosts started (fake-1..fake-3), no network or image service."""
    return cumulo_compute_hub


@pytest.fixture
def ctx() -> RequestContext:
    return context("u1:p1:member,reader")


@pytest.fixture
def admin_ctx() -> RequestContext:
    return context("admin:padmin:admin,member,reader")


@pytest.fixture
def waiter() -> Callable[..., Any]:
    return wait_for
