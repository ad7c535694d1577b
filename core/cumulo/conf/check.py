"""Deprecated alias of the ``cumulo config check`` logic, which lives in :mod:`cumulo.cmd.config`.

Nothing in :mod:`cumulo.conf` imports this module (the configuration never
imports the services, the database or messaging it checks); it only forwards,
at call time, for callers written before the move (``cumulo.policy.list_rules``
calls :func:`_import_areas`). Import :mod:`cumulo.cmd.config` instead; this
module goes once no caller is left.
"""

from __future__ import annotations

from typing import Any

from oslo_config import cfg


def _import_areas() -> None:
    """See :func:`cumulo.cmd.config.import_areas`."""
    from cumulo.cmd.config import import_areas

    import_areas()


def run(conf: cfg.ConfigOpts, check_database: bool = True) -> list[str]:
    """See :func:`cumulo.cmd.config.run_checks`."""
    from cumulo.cmd.config import run_checks

    return run_checks(conf, check_database=check_database)


def __getattr__(name: str) -> Any:
    """``PLUGIN_OPTIONS``, ``check_plugins``, ``check_db``...: the CLI's."""
    import cumulo.cmd.config

    try:
        return getattr(cumulo.cmd.config, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
