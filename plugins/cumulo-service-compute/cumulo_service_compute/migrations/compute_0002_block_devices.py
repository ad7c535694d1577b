"""Compute: the block-device mappings of servers (their volumes).

Revision ID: compute_0002
Revises: compute_0001
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "compute_0002"
down_revision = "compute_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compute_block_device_mappings",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("instance_uuid", sa.String(36), nullable=False),
        sa.Column("source_type", sa.String(16), nullable=False),
        sa.Column("destination_type", sa.String(16), nullable=False),
        sa.Column("image_id", sa.String(36)),
        sa.Column("volume_id", sa.String(36)),
        sa.Column("volume_size", sa.Integer),
        sa.Column("volume_type", sa.String(255)),
        sa.Column("boot_index", sa.Integer),
        sa.Column("device_name", sa.String(255)),
        sa.Column("disk_bus", sa.String(32)),
        sa.Column("device_type", sa.String(32)),
        sa.Column("delete_on_termination", sa.Boolean, nullable=False),
        sa.Column("tag", sa.String(60)),
        sa.Column("attachment_id", sa.String(36)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("connection_info_json", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
    )
    op.create_index("ix_compute_bdm_instance", "compute_block_device_mappings", ["instance_uuid"])
    op.create_index("ix_compute_bdm_volume", "compute_block_device_mappings", ["volume_id"])


def downgrade() -> None:
    op.drop_table("compute_block_device_mappings")
