"""User messages (Cinder 3.3): why an asynchronous request failed, for the project that made it.

Revision ID: volume_0005
Revises: volume_0004
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "volume_0005"
down_revision = "volume_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "volume_messages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("request_id", sa.String(255), nullable=False),
        sa.Column("resource_type", sa.String(255)),
        sa.Column("resource_uuid", sa.String(36)),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("message_level", sa.String(255), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
    )
