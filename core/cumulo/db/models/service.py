"""Service records: every service process registers its binary and host and heartbeats."""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from cumulo.db import Base
from cumulo.db.models.base import ModelMixin


class Service(ModelMixin, Base):
    __tablename__ = "services"
    __table_args__ = (sa.UniqueConstraint("host", "binary", name="uq_services_host_binary"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36), nullable=False, unique=True)
    host: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    binary: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    topic: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    availability_zone: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, default="nova")
    disabled: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    disabled_reason: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    forced_down: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    last_seen_up: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)
    report_count: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)
