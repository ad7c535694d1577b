"""Compute: migration records (resizes, cold and live migrations, evacuations).

Revision ID: compute_0003
Revises: compute_0002
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "compute_0003"
down_revision = "compute_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compute_migrations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("instance_uuid", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(64)),
        sa.Column("user_id", sa.String(64)),
        sa.Column("migration_type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("source_compute", sa.String(255)),
        sa.Column("dest_compute", sa.String(255)),
        sa.Column("dest_host", sa.String(255)),
        sa.Column("old_flavor_id", sa.String(255)),
        sa.Column("new_flavor_id", sa.String(255)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
    )
    op.create_index("ix_compute_migrations_instance", "compute_migrations", ["instance_uuid"])


def downgrade() -> None:
    op.drop_table("compute_migrations")
