"""Schema migrations (alembic), the kernel's and every plugin's.

The kernel's revisions live in ``cumulo/db/migrations/versions`` on the
``cumulo`` branch. A plugin with tables of its own ships a versions folder and
names it in the ``cumulo.db.migrations`` entry-point group
(``name = package.subpackage``); its first revision sets ``branch_labels`` to
its name and ``depends_on`` the kernel revision it needs. ``cumulo db sync``
upgrades every branch to its head.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from cumulo import db

MIGRATIONS_GROUP = "cumulo.db.migrations"
_HERE = os.path.dirname(__file__)


def version_locations() -> list[str]:
    locations = [os.path.join(_HERE, "migrations", "versions")]
    for ep in sorted(importlib.metadata.entry_points(group=MIGRATIONS_GROUP), key=lambda e: e.name):
        module = importlib.import_module(ep.value)
        locations.append(os.path.dirname(module.__file__ or ""))
    return locations


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", os.path.join(_HERE, "migrations"))
    cfg.set_main_option("version_locations", " ".join(version_locations()))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes["url"] = url or db.connection_url()
    return cfg


def sync(url: str | None = None, revision: str = "heads") -> None:
    """Upgrade the schema (every branch) to ``revision``; idempotent."""
    engine = db.get_engine() if url is None else db.create_engine(url)
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current(url: str | None = None) -> set[str]:
    engine = db.get_engine() if url is None else db.create_engine(url)
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def heads() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def pending(url: str | None = None) -> set[str]:
    """Heads not yet applied (a head counts as applied when a later revision depends on it)."""
    script = ScriptDirectory.from_config(alembic_config(url))
    applied: set[str] = set()
    stack = list(current(url))
    while stack:
        rev = script.get_revision(stack.pop())
        if rev is None or rev.revision in applied:
            continue
        applied.add(rev.revision)
        stack.extend(rev._all_down_revisions)  # down revisions and depends_on
    return set(script.get_heads()) - applied
