"""Column helpers shared by every model."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm


def utcnow() -> datetime.datetime:
    # Naive UTC: stored the same way on SQLite, PostgreSQL and MySQL.
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def new_id() -> str:
    return str(uuid.uuid4())


class ModelMixin:
    """created_at/updated_at and a dict view."""

    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(sa.DateTime, default=utcnow, nullable=False)
    updated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime, onupdate=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {c.key: getattr(self, c.key) for c in sa.inspect(self).mapper.column_attrs}


class SoftDeleteMixin:
    """Rows kept after delete (instances, for auditing and ``--deleted`` lists)."""

    deleted_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)
    deleted: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, default=False, nullable=False)
