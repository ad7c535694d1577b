"""Tables of the SQL identity backend (created by its own migrations)."""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from cumulo.db import Base
from cumulo.db.models.base import ModelMixin


class User(ModelMixin, Base):
    __tablename__ = "auth_sql_users"
    __table_args__ = (sa.UniqueConstraint("domain_id", "name", name="uq_auth_sql_users_domain_name"),)

    id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    domain_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    enabled: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=True)
    email: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    default_project_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    password_hash: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    password_expires_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)
    extra: orm.Mapped[str | None] = orm.mapped_column(sa.Text)


class Group(ModelMixin, Base):
    __tablename__ = "auth_sql_groups"
    __table_args__ = (sa.UniqueConstraint("domain_id", "name", name="uq_auth_sql_groups_domain_name"),)

    id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    domain_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    extra: orm.Mapped[str | None] = orm.mapped_column(sa.Text)


class Membership(Base):
    __tablename__ = "auth_sql_memberships"

    user_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    group_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True, index=True)
