"""Identity: OS-TRUST trusts.

Revision ID: identity_0003
Revises: identity_0002
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0003"
down_revision = "identity_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_trusts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("trustor_user_id", sa.String(64), nullable=False),
        sa.Column("trustee_user_id", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(64)),
        sa.Column("impersonation", sa.Boolean, nullable=False),
        sa.Column("expires_at", sa.DateTime),
        sa.Column("remaining_uses", sa.Integer),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("extra", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
    )
    op.create_index("ix_identity_trusts_trustor_user_id", "identity_trusts", ["trustor_user_id"])
    op.create_index("ix_identity_trusts_trustee_user_id", "identity_trusts", ["trustee_user_id"])
