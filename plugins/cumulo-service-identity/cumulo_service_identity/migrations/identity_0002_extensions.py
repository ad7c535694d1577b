"""Identity: OS-EP-FILTER associations and endpoint groups, domain configurations, policy blobs,
OAuth1 consumers.

Revision ID: identity_0002
Revises: identity_0001
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0002"
down_revision = "identity_0001"
branch_labels = None
depends_on = None


def _times() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime, nullable=False), sa.Column("updated_at", sa.DateTime)]


def upgrade() -> None:
    op.create_table(
        "identity_project_endpoints",
        sa.Column("endpoint_id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(64), primary_key=True),
    )
    op.create_index("ix_identity_project_endpoints_project_id", "identity_project_endpoints", ["project_id"])
    op.create_table(
        "identity_endpoint_groups",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("filters", sa.Text, nullable=False),
        *_times(),
    )
    op.create_table(
        "identity_project_endpoint_groups",
        sa.Column("endpoint_group_id", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(64), primary_key=True),
    )
    op.create_index("ix_identity_project_endpoint_groups_project_id", "identity_project_endpoint_groups",
                    ["project_id"])
    op.create_table(
        "identity_domain_config",
        sa.Column("domain_id", sa.String(64), primary_key=True),
        sa.Column("group", sa.String(255), primary_key=True),
        sa.Column("option", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("sensitive", sa.Boolean, nullable=False),
    )
    op.create_table(
        "identity_policies",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("blob", sa.Text, nullable=False),
        sa.Column("extra", sa.Text),
        *_times(),
    )
    op.create_table(
        "identity_oauth_consumers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("description", sa.Text),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("extra", sa.Text),
        *_times(),
    )

