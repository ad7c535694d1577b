"""Volume backups in Object Storage: volume_backups.

Revision ID: volume_0002
Revises: volume_0001
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "volume_0002"
down_revision = "volume_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "volume_backups",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("volume_id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64)),
        sa.Column("name", sa.String(255)),
        sa.Column("description", sa.Text),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("object_count", sa.Integer, nullable=False),
        sa.Column("container", sa.String(255), nullable=False),
        sa.Column("object_prefix", sa.String(255), nullable=False),
        sa.Column("parent_id", sa.String(36)),
        sa.Column("host", sa.String(255)),
        sa.Column("availability_zone", sa.String(255)),
        sa.Column("fail_reason", sa.Text),
        sa.Column("data_timestamp", sa.DateTime),
        sa.Column("restore_volume_id", sa.String(36)),
        sa.Column("metadata_json", sa.Text),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("deleted_at", sa.DateTime),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
    )
    op.create_index("ix_volume_backups_volume_id", "volume_backups", ["volume_id"])
    op.create_index("ix_volume_backups_project_id", "volume_backups", ["project_id"])
    op.create_index("ix_volume_backups_status", "volume_backups", ["status"])
    op.create_index("ix_volume_backups_parent_id", "volume_backups", ["parent_id"])
    op.create_index("ix_volume_backups_deleted", "volume_backups", ["deleted"])
