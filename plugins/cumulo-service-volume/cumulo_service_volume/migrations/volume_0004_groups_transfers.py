"""Generic volume groups, group types and group snapshots; volume transfers; service states; QoS specs;
quota classes; Cinder's visible admin metadata of a volume (``readonly``).

Revision ID: volume_0004
Revises: volume_0003
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "volume_0004"
down_revision = "volume_0003"
branch_labels = None
depends_on = None


def _times() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime, nullable=False), sa.Column("updated_at", sa.DateTime)]


def upgrade() -> None:
    op.add_column("volumes", sa.Column("group_id", sa.String(36)))
    op.add_column("volumes", sa.Column("admin_metadata", sa.Text))
    op.add_column("snapshots", sa.Column("group_snapshot_id", sa.String(36)))
    op.add_column("volume_types", sa.Column("qos_specs_id", sa.String(36)))
    op.create_index("ix_volumes_group_id", "volumes", ["group_id"])
    op.create_table(
        "volume_group_types",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("description", sa.Text),
        sa.Column("is_public", sa.Boolean, nullable=False),
        *_times(),
    )
    op.create_table(
        "volume_group_type_specs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("group_type_id", sa.String(36), sa.ForeignKey("volume_group_types.id"), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.UniqueConstraint("group_type_id", "key"),
    )
    op.create_table(
        "volume_groups",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("user_id", sa.String(64)),
        sa.Column("name", sa.String(255)),
        sa.Column("description", sa.Text),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("group_type_id", sa.String(36), nullable=False),
        sa.Column("volume_type_ids", sa.Text, nullable=False),
        sa.Column("availability_zone", sa.String(255)),
        sa.Column("host", sa.String(255)),
        sa.Column("group_snapshot_id", sa.String(36)),
        sa.Column("source_group_id", sa.String(36)),
        sa.Column("deleted", sa.Boolean, nullable=False, index=True),
        sa.Column("deleted_at", sa.DateTime),
        *_times(),
    )
    op.create_table(
        "volume_group_snapshots",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("group_id", sa.String(36), nullable=False, index=True),
        sa.Column("project_id", sa.String(64), nullable=False, index=True),
        sa.Column("user_id", sa.String(64)),
        sa.Column("name", sa.String(255)),
        sa.Column("description", sa.Text),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("group_type_id", sa.String(36), nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False, index=True),
        sa.Column("deleted_at", sa.DateTime),
        *_times(),
    )
    op.create_table(
        "volume_transfers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("volume_id", sa.String(36), nullable=False, index=True),
        sa.Column("source_project_id", sa.String(64), nullable=False, index=True),
        sa.Column("destination_project_id", sa.String(64)),
        sa.Column("name", sa.String(255)),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("crypt_hash", sa.String(255), nullable=False),
        sa.Column("no_snapshots", sa.Boolean, nullable=False),
        sa.Column("accepted", sa.Boolean, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False, index=True),
        sa.Column("deleted_at", sa.DateTime),
        *_times(),
    )
    op.create_table(
        "volume_service_states",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("binary", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("disabled_reason", sa.String(255)),
        sa.Column("frozen", sa.Boolean, nullable=False),
        sa.UniqueConstraint("binary", "host"),
        *_times(),
    )
    op.create_table(
        "volume_qos_specs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("consumer", sa.String(20), nullable=False),
        sa.Column("specs", sa.Text, nullable=False),
        *_times(),
    )
    op.create_table(
        "volume_quota_classes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("class_name", sa.String(255), nullable=False),
        sa.Column("resource", sa.String(255), nullable=False),
        sa.Column("hard_limit", sa.Integer, nullable=False),
        sa.UniqueConstraint("class_name", "resource"),
    )
