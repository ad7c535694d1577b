"""Metadata definition tables (namespaces, objects, properties, tags, resource types and associations),
and the resource types Glance's own definitions describe.

Revision ID: image_0002
Revises: image_0001
Create Date: 2026-12-03
"""

import datetime

import sqlalchemy as sa
from alembic import op

revision = "image_0002"
down_revision = "image_0001"
branch_labels = None
depends_on = None

#: The resource types of the definitions Glance ships (etc/metadefs), as a cloud starts with them.
RESOURCE_TYPES = ("OS::Glance::Image", "OS::Glance::Snapshot", "OS::Cinder::Volume", "OS::Nova::Flavor",
                  "OS::Nova::Aggregate", "OS::Nova::Server", "OS::Nova::Instance", "OS::Trove::Instance")


def _times() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime, nullable=False), sa.Column("updated_at", sa.DateTime)]


def upgrade() -> None:
    op.create_table(
        "metadef_namespaces",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("namespace", sa.String(80), nullable=False),
        sa.Column("display_name", sa.String(80)),
        sa.Column("description", sa.Text),
        sa.Column("visibility", sa.String(32), nullable=False),
        sa.Column("protected", sa.Boolean, nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        *_times(),
        sa.UniqueConstraint("namespace", name="uq_metadef_namespaces_namespace"),
    )
    op.create_index("ix_metadef_namespaces_owner", "metadef_namespaces", ["owner"])
    for table, name_length, extra in (
            ("metadef_objects", 80, [sa.Column("description", sa.Text), sa.Column("required", sa.Text),
                                     sa.Column("json_schema", sa.Text, nullable=False)]),
            ("metadef_properties", 255, [sa.Column("json_schema", sa.Text, nullable=False)]),
            ("metadef_tags", 255, [])):
        op.create_table(
            table,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("namespace_id", sa.Integer,
                      sa.ForeignKey("metadef_namespaces.id", name=f"fk_{table}_namespace_id_metadef_namespaces"),
                      nullable=False),
            sa.Column("name", sa.String(name_length), nullable=False),
            *extra,
            *_times(),
            sa.UniqueConstraint("namespace_id", "name", name=f"uq_{table}_namespace_id_name"),
        )
    types = op.create_table(
        "metadef_resource_types",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("protected", sa.Boolean, nullable=False),
        *_times(),
        sa.UniqueConstraint("name", name="uq_metadef_resource_types_name"),
    )
    op.create_table(
        "metadef_namespace_resource_types",
        sa.Column("resource_type_id", sa.Integer,
                  sa.ForeignKey("metadef_resource_types.id", name="fk_metadef_ns_resource_types_resource_type_id"),
                  primary_key=True),
        sa.Column("namespace_id", sa.Integer,
                  sa.ForeignKey("metadef_namespaces.id", name="fk_metadef_ns_resource_types_namespace_id"),
                  primary_key=True),
        sa.Column("properties_target", sa.String(80)),
        sa.Column("prefix", sa.String(80)),
        *_times(),
    )
    created = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    op.bulk_insert(types, [{"name": name, "protected": True, "created_at": created} for name in RESOURCE_TYPES])


def downgrade() -> None:
    for table in ("metadef_namespace_resource_types", "metadef_resource_types", "metadef_tags", "metadef_properties",
                  "metadef_objects", "metadef_namespaces"):
        op.drop_table(table)
