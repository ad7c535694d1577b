"""Image records: metadata, extra properties, tags and members (the bytes live in a store)."""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from cumulo.db import Base
from cumulo.db.models.base import ModelMixin


class Image(ModelMixin, Base):
    """One image. ``status``: queued, saving, uploading, importing, active, killed, deactivated, deleted.

    Deleted images stay as rows (``deleted``) so ids are never reused; the
    API no longer shows them. ``location``/``store`` say where the data is;
    ``upload_host``/``upload_heartbeat`` say which process is saving it.
    """

    __tablename__ = "images"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    name: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    owner: orm.Mapped[str | None] = orm.mapped_column(sa.String(64), index=True)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(30), nullable=False, index=True)
    visibility: orm.Mapped[str] = orm.mapped_column(sa.String(20), nullable=False)
    protected: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    os_hidden: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    disk_format: orm.Mapped[str | None] = orm.mapped_column(sa.String(20))
    container_format: orm.Mapped[str | None] = orm.mapped_column(sa.String(20))
    size: orm.Mapped[int | None] = orm.mapped_column(sa.BigInteger)
    virtual_size: orm.Mapped[int | None] = orm.mapped_column(sa.BigInteger)
    checksum: orm.Mapped[str | None] = orm.mapped_column(sa.String(32))
    os_hash_algo: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    os_hash_value: orm.Mapped[str | None] = orm.mapped_column(sa.String(128))
    min_disk: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)
    min_ram: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)
    store: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    location: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    upload_host: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    upload_heartbeat: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)
    deleted: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    deleted_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)

    properties: orm.Mapped[list[ImageProperty]] = orm.relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ImageProperty.name")
    tags: orm.Mapped[list[ImageTag]] = orm.relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ImageTag.value")


class ImageProperty(Base):
    """An extra (user) property: flat key/value at the image's top level in the API."""

    __tablename__ = "image_properties"
    __table_args__ = (sa.UniqueConstraint("image_id", "name", name="uq_image_properties_image_id_name"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    image_id: orm.Mapped[str] = orm.mapped_column(sa.String(36), sa.ForeignKey("images.id"), nullable=False)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    value: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False)


class ImageTag(Base):
    __tablename__ = "image_tags"
    __table_args__ = (sa.UniqueConstraint("image_id", "value", name="uq_image_tags_image_id_value"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    image_id: orm.Mapped[str] = orm.mapped_column(sa.String(36), sa.ForeignKey("images.id"), nullable=False)
    value: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)


class ImageMember(ModelMixin, Base):
    """A project an image is shared with; ``status`` pending, accepted or rejected."""

    __tablename__ = "image_members"
    __table_args__ = (sa.UniqueConstraint("image_id", "member", name="uq_image_members_image_id_member"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    image_id: orm.Mapped[str] = orm.mapped_column(sa.String(36), sa.ForeignKey("images.id"), nullable=False)
    member: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, index=True)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(20), nullable=False)
