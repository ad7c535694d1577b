"""Volume tables: volume_types (extra specs, projects), volumes (metadata, attachments), snapshots, volume_quotas.

Revision ID: volume_0001
Revises:
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "volume_0001"
down_revision = None
branch_labels = ("cumulo_volume",)
depends_on = "0001_services"


def _times() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime, nullable=False), sa.Column("updated_at", sa.DateTime)]


def upgrade() -> None:
    op.create_table(
        "volume_types",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("is_public", sa.Boolean, nullable=False),
        *_times(),
        sa.UniqueConstraint("name", name="uq_volume_types_name"),
    )
    op.create_table(
        "volume_type_extra_specs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("volume_type_id", sa.String(36),
                  sa.ForeignKey("volume_types.id", name="fk_volume_type_extra_specs_volume_type_id_volume_types"),
                  nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.UniqueConstraint("volume_type_id", "key", name="uq_volume_type_extra_specs_volume_type_id_key"),
    )
    op.create_table(
        "volume_type_projects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("volume_type_id", sa.String(36),
                  sa.ForeignKey("volume_types.id", name="fk_volume_type_projects_volume_type_id_volume_types"),
                  nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.UniqueConstraint("volume_type_id", "project_id",
                            name="uq_volume_type_projects_volume_type_id_project_id"),
    )
    op.create_table(
        "volumes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64)),
        sa.Column("name", sa.String(255)),
        sa.Column("description", sa.Text),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("host", sa.String(255)),
        sa.Column("availability_zone", sa.String(255), nullable=False),
        sa.Column("volume_type_id", sa.String(36),
                  sa.ForeignKey("volume_types.id", name="fk_volumes_volume_type_id_volume_types")),
        sa.Column("snapshot_id", sa.String(36)),
        sa.Column("source_volid", sa.String(36)),
        sa.Column("image_id", sa.String(36)),
        sa.Column("bootable", sa.Boolean, nullable=False),
        sa.Column("readonly", sa.Boolean, nullable=False),
        sa.Column("multiattach", sa.Boolean, nullable=False),
        sa.Column("provider_location", sa.Text),
        sa.Column("image_metadata", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("deleted_at", sa.DateTime),
        *_times(),
    )
    op.create_index("ix_volumes_project_id", "volumes", ["project_id"])
    op.create_index("ix_volumes_status", "volumes", ["status"])
    op.create_index("ix_volumes_deleted", "volumes", ["deleted"])
    op.create_table(
        "volume_metadata",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("volume_id", sa.String(36), sa.ForeignKey("volumes.id", name="fk_volume_metadata_volume_id_volumes"),
                  nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.UniqueConstraint("volume_id", "key", name="uq_volume_metadata_volume_id_key"),
    )
    op.create_table(
        "volume_attachments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("volume_id", sa.String(36),
                  sa.ForeignKey("volumes.id", name="fk_volume_attachments_volume_id_volumes"), nullable=False),
        sa.Column("instance_uuid", sa.String(36)),
        sa.Column("attached_host", sa.String(255)),
        sa.Column("mountpoint", sa.String(255)),
        sa.Column("attach_mode", sa.String(2), nullable=False),
        sa.Column("attach_status", sa.String(20), nullable=False),
        sa.Column("attached_at", sa.DateTime),
        sa.Column("connector", sa.Text),
        sa.Column("connection_info", sa.Text),
        *_times(),
    )
    op.create_index("ix_volume_attachments_volume_id", "volume_attachments", ["volume_id"])
    op.create_table(
        "snapshots",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("volume_id", sa.String(36), sa.ForeignKey("volumes.id", name="fk_snapshots_volume_id_volumes"),
                  nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64)),
        sa.Column("name", sa.String(255)),
        sa.Column("description", sa.Text),
        sa.Column("volume_size", sa.Integer, nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("progress", sa.String(10), nullable=False),
        sa.Column("host", sa.String(255)),
        sa.Column("provider_location", sa.Text),
        sa.Column("metadata_json", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("deleted_at", sa.DateTime),
        *_times(),
    )
    op.create_index("ix_snapshots_volume_id", "snapshots", ["volume_id"])
    op.create_index("ix_snapshots_project_id", "snapshots", ["project_id"])
    op.create_index("ix_snapshots_status", "snapshots", ["status"])
    op.create_index("ix_snapshots_deleted", "snapshots", ["deleted"])
    op.create_table(
        "volume_quotas",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(255), nullable=False),
        sa.Column("hard_limit", sa.Integer, nullable=False),
        sa.UniqueConstraint("project_id", "resource", name="uq_volume_quotas_project_id_resource"),
    )
