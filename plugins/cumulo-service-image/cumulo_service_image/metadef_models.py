"""Metadata definitions (Glance's metadefs): namespaces and what they define for other resources.

A namespace groups property definitions, objects (named groups of properties) and tags, and is
associated with the resource types (``OS::Glance::Image``, ``OS::Nova::Flavor``...) whose
metadata it describes. Property definitions and object properties are JSON Schema fragments,
kept as JSON text as Glance keeps them.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import orm

from cumulo.db import Base
from cumulo.db.models.base import ModelMixin


class MetadefNamespace(ModelMixin, Base):
    """One namespace; ``visibility`` public or private (its ``owner`` project only), ``protected``: no delete."""

    __tablename__ = "metadef_namespaces"

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    namespace: orm.Mapped[str] = orm.mapped_column(sa.String(80), nullable=False, unique=True)
    display_name: orm.Mapped[str | None] = orm.mapped_column(sa.String(80))
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    visibility: orm.Mapped[str] = orm.mapped_column(sa.String(32), nullable=False)
    protected: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    owner: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, index=True)


class MetadefObject(ModelMixin, Base):
    """A named group of property definitions of a namespace."""

    __tablename__ = "metadef_objects"
    __table_args__ = (sa.UniqueConstraint("namespace_id", "name", name="uq_metadef_objects_namespace_id_name"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    namespace_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("metadef_namespaces.id"), nullable=False)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(80), nullable=False)
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    required: orm.Mapped[str | None] = orm.mapped_column(sa.Text)  # JSON list of property names
    json_schema: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False)  # JSON: name -> definition


class MetadefProperty(ModelMixin, Base):
    """One property definition of a namespace (``json_schema``: its JSON Schema, without the name)."""

    __tablename__ = "metadef_properties"
    __table_args__ = (sa.UniqueConstraint("namespace_id", "name", name="uq_metadef_properties_namespace_id_name"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    namespace_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("metadef_namespaces.id"), nullable=False)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    json_schema: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False)


class MetadefTag(ModelMixin, Base):
    __tablename__ = "metadef_tags"
    __table_args__ = (sa.UniqueConstraint("namespace_id", "name", name="uq_metadef_tags_namespace_id_name"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    namespace_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("metadef_namespaces.id"), nullable=False)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)


class MetadefResourceType(ModelMixin, Base):
    """A kind of resource namespaces describe; ``protected`` ones are the cloud's own (seeded)."""

    __tablename__ = "metadef_resource_types"

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(80), nullable=False, unique=True)
    protected: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)


class MetadefNamespaceResourceType(ModelMixin, Base):
    """A namespace associated with a resource type, with the ``prefix`` its properties take there."""

    __tablename__ = "metadef_namespace_resource_types"

    resource_type_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("metadef_resource_types.id"),
                                                          primary_key=True)
    namespace_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("metadef_namespaces.id"), primary_key=True)
    properties_target: orm.Mapped[str | None] = orm.mapped_column(sa.String(80))
    prefix: orm.Mapped[str | None] = orm.mapped_column(sa.String(80))
