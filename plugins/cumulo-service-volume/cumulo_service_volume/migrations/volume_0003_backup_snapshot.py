"""The snapshot a backup was made from: volume_backups.snapshot_id.

Revision ID: volume_0003
Revises: volume_0002
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "volume_0003"
down_revision = "volume_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("volume_backups", sa.Column("snapshot_id", sa.String(36)))
