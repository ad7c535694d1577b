"""pytest fixtures for the kernel and for plugin authors (entry point ``pytest11: cumulo``).

``cumulo_conf`` and ``cumulo_db`` are here; the shared hubs, clients and
in-process clouds are in :mod:`cumulo.testing.fixtures`, loaded with this plugin.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from oslo_config import cfg

from cumulo.conf import CONF

pytest_plugins = ["cumulo.testing.fixtures"]


class ConfFixture:
    """Overrides on ``CONF`` that are undone after the test."""

    def __init__(self) -> None:
        self._overrides: list[tuple[str, str | None]] = []

    def set(self, name: str, value: Any, group: str | None = None) -> None:
        """Override an option; an area's option is registered first (as the hub does) when it is not yet."""
        try:
            CONF.set_override(name, value, group=group)
        except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
            from cumulo.services import installed_areas

            installed_areas()
            CONF.set_override(name, value, group=group)
        self._overrides.append((name, group))

    def cleanup(self) -> None:
        for name, group in reversed(self._overrides):
            try:
                CONF.clear_override(name, group=group)
            except Exception:  # option unregistered meanwhile: nothing to undo
                pass


def _reset_kernel_state() -> None:
    from cumulo import db, policy

    db.reset()
    policy.reset()
    try:
        from cumulo import messaging

        messaging.reset()
    except (ImportError, AttributeError):
        pass


def _register_area_options() -> None:
    """The installed areas' own options (``[image]``...), as the hub registers them in a real process."""
    import cumulo.services

    cumulo.services.installed_areas()


@pytest.fixture
def cumulo_conf(tmp_path: Any) -> Iterator[ConfFixture]:
    """An isolated configuration: state in a temp dir, defaults otherwise."""
    if CONF._args is None:  # never parsed in this process
        CONF(args=[], project="cumulo", default_config_files=[])
    _register_area_options()
    fixture = ConfFixture()
    state = os.path.join(str(tmp_path), "state")
    os.makedirs(state, exist_ok=True)
    fixture.set("state_path", state)
    fixture.set("host", "test-host")
    _reset_kernel_state()
    yield fixture
    _reset_kernel_state()
    fixture.cleanup()


@pytest.fixture
def cumulo_db(cumulo_conf: ConfFixture) -> Iterator[ConfFixture]:
    """``cumulo_conf`` plus a SQLite database migrated to the latest schema."""
    from cumulo.db import migrate

    migrate.sync()
    yield cumulo_conf
