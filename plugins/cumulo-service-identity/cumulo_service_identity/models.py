"""Kernel identity tables: domains, projects, roles, assignments, catalog,
credentials, application credentials and token revocation events.

Users and groups belong to the identity backend plugin (SQL or LDAP), so
assignments store actor ids without foreign keys. Ids are 32-hex uuids except
the ``default`` domain and region names chosen by the operator.
"""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from cumulo.db import Base
from cumulo.db.models.base import ModelMixin

#: Role and project names are unique per domain; global roles use this domain id.
NO_DOMAIN = "<<null>>"


class Domain(ModelMixin, Base):
    __tablename__ = "identity_domains"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, unique=True)
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    enabled: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=True)
    extra: orm.Mapped[str | None] = orm.mapped_column(sa.Text)  # JSON


class Project(ModelMixin, Base):
    __tablename__ = "identity_projects"
    __table_args__ = (sa.UniqueConstraint("domain_id", "name", name="uq_identity_projects_domain_name"),)

    id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    domain_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False, index=True)
    parent_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64), index=True)
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    enabled: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=True)
    tags: orm.Mapped[str | None] = orm.mapped_column(sa.Text)  # JSON list
    extra: orm.Mapped[str | None] = orm.mapped_column(sa.Text)  # JSON


class Role(ModelMixin, Base):
    __tablename__ = "identity_roles"
    __table_args__ = (sa.UniqueConstraint("domain_id", "name", name="uq_identity_roles_domain_name"),)

    id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    domain_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False, default=NO_DOMAIN)
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    extra: orm.Mapped[str | None] = orm.mapped_column(sa.Text)


class ImpliedRole(Base):
    __tablename__ = "identity_implied_roles"

    prior_role_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    implied_role_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)


class Assignment(Base):
    """One role on one target for one actor. ``type``: UserProject, GroupProject,
    UserDomain, GroupDomain, UserSystem, GroupSystem (target_id ``all``)."""

    __tablename__ = "identity_assignments"

    type: orm.Mapped[str] = orm.mapped_column(sa.String(16), primary_key=True)
    actor_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    target_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    role_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    inherited: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, primary_key=True, default=False)


class Region(ModelMixin, Base):
    __tablename__ = "identity_regions"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(255), primary_key=True)
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    parent_region_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    extra: orm.Mapped[str | None] = orm.mapped_column(sa.Text)


class CatalogService(ModelMixin, Base):
    __tablename__ = "identity_catalog_services"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    type: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    name: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    enabled: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=True)
    extra: orm.Mapped[str | None] = orm.mapped_column(sa.Text)


class Endpoint(ModelMixin, Base):
    __tablename__ = "identity_endpoints"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    service_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False, index=True)
    interface: orm.Mapped[str] = orm.mapped_column(sa.String(8), nullable=False)
    url: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False)
    region_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    enabled: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=True)
    extra: orm.Mapped[str | None] = orm.mapped_column(sa.Text)


class Credential(ModelMixin, Base):
    """Generic credentials; EC2 ones have ``type='ec2'`` and ``access`` set for lookup."""

    __tablename__ = "identity_credentials"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    user_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False, index=True)
    project_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    type: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    access: orm.Mapped[str | None] = orm.mapped_column(sa.String(64), unique=True)
    blob: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False)
    extra: orm.Mapped[str | None] = orm.mapped_column(sa.Text)


class ApplicationCredential(ModelMixin, Base):
    __tablename__ = "identity_application_credentials"
    __table_args__ = (sa.UniqueConstraint("user_id", "name", name="uq_identity_app_creds_user_name"),)

    id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    user_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    secret_hash: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    expires_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)
    unrestricted: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    roles: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False)  # JSON list of role ids


class RevocationEvent(Base):
    """A token is revoked when it matches every non-null field of an event and
    was issued at or before ``issued_before`` (microseconds since the epoch)."""

    __tablename__ = "identity_revocation_events"

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    user_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    project_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    audit_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(32))
    app_cred_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    issued_before: orm.Mapped[int] = orm.mapped_column(sa.BigInteger, nullable=False)
    revoked_at: orm.Mapped[int] = orm.mapped_column(sa.BigInteger, nullable=False, index=True)
