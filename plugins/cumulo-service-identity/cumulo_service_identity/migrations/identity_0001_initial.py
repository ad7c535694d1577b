"""Identity: domains, projects, roles, assignments, catalog, credentials, revocation events.

Revision ID: identity_0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0001"
down_revision = None
branch_labels = ("cumulo_identity",)
depends_on = "0001_services"


def _times() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime, nullable=False), sa.Column("updated_at", sa.DateTime)]


def upgrade() -> None:
    op.create_table(
        "identity_domains",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("extra", sa.Text),
        *_times(),
        sa.UniqueConstraint("name", name="uq_identity_domains_name"),
    )
    op.create_table(
        "identity_projects",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("domain_id", sa.String(64), nullable=False),
        sa.Column("parent_id", sa.String(64)),
        sa.Column("description", sa.Text),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("tags", sa.Text),
        sa.Column("extra", sa.Text),
        *_times(),
        sa.UniqueConstraint("domain_id", "name", name="uq_identity_projects_domain_name"),
    )
    op.create_index("ix_identity_projects_domain_id", "identity_projects", ["domain_id"])
    op.create_index("ix_identity_projects_parent_id", "identity_projects", ["parent_id"])
    op.create_table(
        "identity_roles",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("domain_id", sa.String(64), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("extra", sa.Text),
        *_times(),
        sa.UniqueConstraint("domain_id", "name", name="uq_identity_roles_domain_name"),
    )
    op.create_table(
        "identity_implied_roles",
        sa.Column("prior_role_id", sa.String(64), primary_key=True),
        sa.Column("implied_role_id", sa.String(64), primary_key=True),
    )
    op.create_table(
        "identity_assignments",
        sa.Column("type", sa.String(16), primary_key=True),
        sa.Column("actor_id", sa.String(64), primary_key=True),
        sa.Column("target_id", sa.String(64), primary_key=True),
        sa.Column("role_id", sa.String(64), primary_key=True),
        sa.Column("inherited", sa.Boolean, primary_key=True),
    )
    op.create_index("ix_identity_assignments_target", "identity_assignments", ["target_id"])
    op.create_index("ix_identity_assignments_role", "identity_assignments", ["role_id"])
    op.create_table(
        "identity_regions",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("description", sa.Text),
        sa.Column("parent_region_id", sa.String(255)),
        sa.Column("extra", sa.Text),
        *_times(),
    )
    op.create_table(
        "identity_catalog_services",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("description", sa.Text),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("extra", sa.Text),
        *_times(),
    )
    op.create_table(
        "identity_endpoints",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("interface", sa.String(8), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("region_id", sa.String(255)),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("extra", sa.Text),
        *_times(),
    )
    op.create_index("ix_identity_endpoints_service_id", "identity_endpoints", ["service_id"])
    op.create_table(
        "identity_credentials",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(64)),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("access", sa.String(64)),
        sa.Column("blob", sa.Text, nullable=False),
        sa.Column("extra", sa.Text),
        *_times(),
        sa.UniqueConstraint("access", name="uq_identity_credentials_access"),
    )
    op.create_index("ix_identity_credentials_user_id", "identity_credentials", ["user_id"])
    op.create_table(
        "identity_application_credentials",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("secret_hash", sa.String(255), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("expires_at", sa.DateTime),
        sa.Column("unrestricted", sa.Boolean, nullable=False),
        sa.Column("roles", sa.Text, nullable=False),
        *_times(),
        sa.UniqueConstraint("user_id", "name", name="uq_identity_app_creds_user_name"),
    )
    op.create_table(
        "identity_revocation_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(64)),
        sa.Column("project_id", sa.String(64)),
        sa.Column("audit_id", sa.String(32)),
        sa.Column("app_cred_id", sa.String(64)),
        sa.Column("issued_before", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_identity_revocation_events_revoked_at", "identity_revocation_events", ["revoked_at"])
