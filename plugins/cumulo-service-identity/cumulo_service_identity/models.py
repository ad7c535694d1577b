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
    #: The blob's text encrypted (a Fernet token) when ``key_hash`` is set (identity_0005), else the text.
    blob: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False)
    extra: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    #: SHA-256 of the credential key that encrypted ``blob`` (:mod:`cumulo_service_identity.credential_keys`).
    key_hash: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))


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


# -- identity_0002: Keystone's OS-EP-FILTER, domain configurations, policy blobs, OAuth1 consumers --
class ProjectEndpoint(Base):
    """An endpoint associated with a project (OS-EP-FILTER): the project's catalog then lists only
    its associated endpoints."""

    __tablename__ = "identity_project_endpoints"

    endpoint_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True, index=True)


class EndpointGroup(ModelMixin, Base):
    """Endpoints chosen by ``filters`` (JSON: interface, service_id, region_id)."""

    __tablename__ = "identity_endpoint_groups"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    filters: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False)


class ProjectEndpointGroup(Base):
    __tablename__ = "identity_project_endpoint_groups"

    endpoint_group_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True, index=True)


class DomainConfigOption(Base):
    """One option of a domain's configuration (``value`` is JSON); sensitive ones are never shown."""

    __tablename__ = "identity_domain_config"

    domain_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    group: orm.Mapped[str] = orm.mapped_column(sa.String(255), primary_key=True)
    option: orm.Mapped[str] = orm.mapped_column(sa.String(255), primary_key=True)
    value: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False)
    sensitive: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)


class PolicyBlob(ModelMixin, Base):
    """Keystone's ``/v3/policies``: opaque policy documents stored for other services."""

    __tablename__ = "identity_policies"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    type: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    blob: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False)
    extra: orm.Mapped[str | None] = orm.mapped_column(sa.Text)


class OAuthConsumer(ModelMixin, Base):
    """An OS-OAUTH1 consumer: an id, a description and a secret."""

    __tablename__ = "identity_oauth_consumers"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    secret: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    extra: orm.Mapped[str | None] = orm.mapped_column(sa.Text)


class Trust(ModelMixin, Base):
    """An OS-TRUST trust: the trustor delegates ``roles`` (JSON list of role ids) on ``project_id``
    to the trustee, until ``expires_at`` or for ``remaining_uses`` token issues."""

    __tablename__ = "identity_trusts"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    trustor_user_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False, index=True)
    trustee_user_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False, index=True)
    project_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    impersonation: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False)
    expires_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)
    remaining_uses: orm.Mapped[int | None] = orm.mapped_column(sa.Integer)
    roles: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False)
    extra: orm.Mapped[str | None] = orm.mapped_column(sa.Text)


class AccessRule(ModelMixin, Base):
    """A user's access rule (Keystone's): which API calls an application credential may make.

    ``service`` is a catalog service type, ``path`` a glob over the request path (``*`` one
    segment, ``**`` any number), ``method`` an HTTP method. A user's identical rules are one row,
    shared by the credentials that name it.
    """

    __tablename__ = "identity_access_rules"
    __table_args__ = (sa.UniqueConstraint("user_id", "service", "path", "method",
                                          name="uq_identity_access_rules_user_rule"),)

    id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    user_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False, index=True)
    service: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    path: orm.Mapped[str] = orm.mapped_column(sa.String(128), nullable=False)
    method: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False)


class AppCredAccessRule(Base):
    """An application credential limited by an access rule."""

    __tablename__ = "identity_app_cred_access_rules"

    app_cred_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)
    access_rule_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True, index=True)
