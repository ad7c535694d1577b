"""What the resource mixins share: the identity cache, inserting a row, a cached get by id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from cumulo import db, exception
from cumulo_service_identity.util import MISS, TTLCache, not_found


def duplicate(err: sa.exc.IntegrityError, what: str) -> exception.Conflict:
    """The 409 for a unique-name clash storing ``what``; any other integrity error is raised again."""
    if db.is_duplicate(err):
        return exception.Conflict(reason=f"Conflict occurred attempting to store {what}: "
                                         "an entity with that name already exists.")
    raise err


class RowStore:
    """Needs ``self._cache`` (a TTLCache, set by the Service); ``_invalidate()`` is the Service's."""

    _cache: TTLCache

    def _invalidate(self) -> None:  # overridden by the Service
        pass

    def _insert(self, row: Any, render: Callable[[Any], dict[str, Any]], label: str) -> dict[str, Any]:
        """Add ``row``; a unique-name clash is a 409 naming ``label``."""
        try:
            with db.transaction() as s:
                s.add(row)
                s.flush()
                return render(row)
        except sa.exc.IntegrityError as err:
            raise duplicate(err, label) from None

    def _cached_get(self, kind: str, model: Any, ident: str,
                    render: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        """A row by id, through the short identity cache (hot: every token validation)."""
        key = (kind, ident)
        hit = self._cache.get(key)
        if hit is not MISS:
            return hit
        with db.reader() as s:
            row = s.get(model, ident)
            if row is None:
                raise not_found(kind, ident)
            out = render(row)
        self._cache.put(key, out)
        return out
