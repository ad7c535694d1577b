"""Identity: application credential access rules.

Revision ID: identity_0004
Revises: identity_0003
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0004"
down_revision = "identity_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_access_rules",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("path", sa.String(128), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
        sa.UniqueConstraint("user_id", "service", "path", "method", name="uq_identity_access_rules_user_rule"),
    )
    op.create_index("ix_identity_access_rules_user_id", "identity_access_rules", ["user_id"])
    op.create_table(
        "identity_app_cred_access_rules",
        sa.Column("app_cred_id", sa.String(64), primary_key=True),
        sa.Column("access_rule_id", sa.String(64), primary_key=True),
    )
    op.create_index("ix_identity_app_cred_access_rules_access_rule_id", "identity_app_cred_access_rules",
                    ["access_rule_id"])


def downgrade() -> None:
    op.drop_table("identity_app_cred_access_rules")
    op.drop_table("identity_access_rules")
