"""SQL identity backend: users, groups, memberships.

Revision ID: auth_sql_0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "auth_sql_0001"
down_revision = None
branch_labels = ("cumulo_auth_sql",)
depends_on = "0001_services"


def upgrade() -> None:
    op.create_table(
        "auth_sql_users",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("domain_id", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("email", sa.String(255)),
        sa.Column("description", sa.Text),
        sa.Column("default_project_id", sa.String(64)),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("password_expires_at", sa.DateTime),
        sa.Column("extra", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
        sa.UniqueConstraint("domain_id", "name", name="uq_auth_sql_users_domain_name"),
    )
    op.create_table(
        "auth_sql_groups",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("domain_id", sa.String(64), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("extra", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
        sa.UniqueConstraint("domain_id", "name", name="uq_auth_sql_groups_domain_name"),
    )
    op.create_table(
        "auth_sql_memberships",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("group_id", sa.String(64), primary_key=True),
    )
    op.create_index("ix_auth_sql_memberships_group_id", "auth_sql_memberships", ["group_id"])
