"""Image tables: images, image_properties, image_tags, image_members.

Revision ID: image_0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "image_0001"
down_revision = None
branch_labels = ("cumulo_image",)
depends_on = "0001_services"


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255)),
        sa.Column("owner", sa.String(64)),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("visibility", sa.String(20), nullable=False),
        sa.Column("protected", sa.Boolean, nullable=False),
        sa.Column("os_hidden", sa.Boolean, nullable=False),
        sa.Column("disk_format", sa.String(20)),
        sa.Column("container_format", sa.String(20)),
        sa.Column("size", sa.BigInteger),
        sa.Column("virtual_size", sa.BigInteger),
        sa.Column("checksum", sa.String(32)),
        sa.Column("os_hash_algo", sa.String(64)),
        sa.Column("os_hash_value", sa.String(128)),
        sa.Column("min_disk", sa.Integer, nullable=False),
        sa.Column("min_ram", sa.Integer, nullable=False),
        sa.Column("store", sa.String(64)),
        sa.Column("location", sa.Text),
        sa.Column("upload_host", sa.String(255)),
        sa.Column("upload_heartbeat", sa.DateTime),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("deleted_at", sa.DateTime),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
    )
    op.create_index("ix_images_owner", "images", ["owner"])
    op.create_index("ix_images_status", "images", ["status"])
    op.create_table(
        "image_properties",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("image_id", sa.String(36), sa.ForeignKey("images.id", name="fk_image_properties_image_id_images"),
                  nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.UniqueConstraint("image_id", "name", name="uq_image_properties_image_id_name"),
    )
    op.create_table(
        "image_tags",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("image_id", sa.String(36), sa.ForeignKey("images.id", name="fk_image_tags_image_id_images"),
                  nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.UniqueConstraint("image_id", "value", name="uq_image_tags_image_id_value"),
    )
    op.create_table(
        "image_members",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("image_id", sa.String(36), sa.ForeignKey("images.id", name="fk_image_members_image_id_images"),
                  nullable=False),
        sa.Column("member", sa.String(255), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
        sa.UniqueConstraint("image_id", "member", name="uq_image_members_image_id_member"),
    )
    op.create_index("ix_image_members_member", "image_members", ["member"])

