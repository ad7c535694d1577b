"""Volume records: volumes, their metadata and attachments, snapshots, volume types, quotas.

Volumes and snapshots stay as rows after delete (``deleted``) so an id is
never reused and the API no longer shows them; quotas count live rows only.
``host`` is the ``<host>@<backend>`` whose driver holds the data: the start
sweep of a node touches only its own rows.
"""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from cumulo.db import Base
from cumulo.db.models.base import ModelMixin


class Volume(ModelMixin, Base):
    """One volume. ``status`` is one of :data:`cumulo.contracts.volume.VOLUME_STATUSES`."""

    __tablename__ = "volumes"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False, index=True)
    user_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    name: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    size: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(30), nullable=False, index=True)
    host: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    availability_zone: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    volume_type_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36), sa.ForeignKey("volume_types.id"))
    snapshot_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    source_volid: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    image_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    bootable: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    readonly: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    multiattach: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    provider_location: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    image_metadata: orm.Mapped[str | None] = orm.mapped_column(sa.Text)  # JSON: volume_image_metadata
    error: orm.Mapped[str | None] = orm.mapped_column(sa.Text)  # why it went to error (logged, not shown)
    group_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36), index=True)
    admin_metadata: orm.Mapped[str | None] = orm.mapped_column(sa.Text)  # JSON: Cinder's visible admin metadata
    deleted: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False, index=True)
    deleted_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)

    volume_type: orm.Mapped[VolumeType | None] = orm.relationship(lazy="joined")
    metadata_items: orm.Mapped[list[VolumeMetadata]] = orm.relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="VolumeMetadata.key")
    attachments: orm.Mapped[list[VolumeAttachment]] = orm.relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="VolumeAttachment.created_at")


class VolumeMetadata(Base):
    """A user metadata key of a volume."""

    __tablename__ = "volume_metadata"
    __table_args__ = (sa.UniqueConstraint("volume_id", "key"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    volume_id: orm.Mapped[str] = orm.mapped_column(sa.String(36), sa.ForeignKey("volumes.id"), nullable=False)
    key: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    value: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)


class VolumeAttachment(ModelMixin, Base):
    """A volume reserved for or attached to a server. ``attach_status``: reserved, attaching, attached, detaching.

    ``connector`` and ``connection_info`` are JSON; the connection info holds
    the export's secrets and is handed to the attaching area only.
    """

    __tablename__ = "volume_attachments"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    volume_id: orm.Mapped[str] = orm.mapped_column(sa.String(36), sa.ForeignKey("volumes.id"), nullable=False,
                                                   index=True)
    instance_uuid: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    attached_host: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    mountpoint: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    attach_mode: orm.Mapped[str] = orm.mapped_column(sa.String(2), nullable=False, default="rw")
    attach_status: orm.Mapped[str] = orm.mapped_column(sa.String(20), nullable=False)
    attached_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)
    connector: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    connection_info: orm.Mapped[str | None] = orm.mapped_column(sa.Text)


class Snapshot(ModelMixin, Base):
    """A point-in-time copy of a volume. ``status``: creating, available, deleting, error, error_deleting."""

    __tablename__ = "snapshots"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    volume_id: orm.Mapped[str] = orm.mapped_column(sa.String(36), sa.ForeignKey("volumes.id"), nullable=False,
                                                   index=True)
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False, index=True)
    user_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    name: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    volume_size: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(30), nullable=False, index=True)
    progress: orm.Mapped[str] = orm.mapped_column(sa.String(10), nullable=False, default="0%")
    host: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    provider_location: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    metadata_json: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    error: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    group_snapshot_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    deleted: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False, index=True)
    deleted_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)


class VolumeType(ModelMixin, Base):
    """A volume type: a name, extra specs matched against a backend, public or shared with projects."""

    __tablename__ = "volume_types"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, unique=True)
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    is_public: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=True)
    qos_specs_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))

    extra_specs: orm.Mapped[list[VolumeTypeExtraSpec]] = orm.relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="VolumeTypeExtraSpec.key")
    projects: orm.Mapped[list[VolumeTypeProject]] = orm.relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="VolumeTypeProject.project_id")


class VolumeTypeExtraSpec(Base):
    __tablename__ = "volume_type_extra_specs"
    __table_args__ = (sa.UniqueConstraint("volume_type_id", "key"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    volume_type_id: orm.Mapped[str] = orm.mapped_column(sa.String(36), sa.ForeignKey("volume_types.id"),
                                                        nullable=False)
    key: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    value: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)


class VolumeTypeProject(Base):
    """A project a private volume type is shared with."""

    __tablename__ = "volume_type_projects"
    __table_args__ = (sa.UniqueConstraint("volume_type_id", "project_id"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    volume_type_id: orm.Mapped[str] = orm.mapped_column(sa.String(36), sa.ForeignKey("volume_types.id"),
                                                        nullable=False)
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)


class VolumeQuota(Base):
    """A project's limit for one resource where it differs from the ``[volume] quota_*`` default."""

    __tablename__ = "volume_quotas"
    __table_args__ = (sa.UniqueConstraint("project_id", "resource"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    resource: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    hard_limit: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)


class Backup(ModelMixin, Base):
    """A copy of a volume's data in Object Storage. ``status``: creating, available, restoring, deleting,
    error, error_deleting.

    The data are objects ``<object_prefix>/chunk-<n>`` in container ``container`` of the project's account,
    and ``<object_prefix>/map``: for each chunk its SHA-256 and the backup whose object holds it (an
    incremental backup names its parent's objects for the chunks that did not change).
    """

    __tablename__ = "volume_backups"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    volume_id: orm.Mapped[str] = orm.mapped_column(sa.String(36), nullable=False, index=True)
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False, index=True)
    user_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    name: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(30), nullable=False, index=True)
    size: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)
    object_count: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)
    container: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    object_prefix: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    parent_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36), index=True)
    snapshot_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))  # backed up from this snapshot
    host: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    availability_zone: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    fail_reason: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    data_timestamp: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)
    restore_volume_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    metadata_json: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    deleted: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False, index=True)
    deleted_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)


class GroupType(ModelMixin, Base):
    """A generic volume group type (Cinder 3.11): a name, group specs, public or not."""

    __tablename__ = "volume_group_types"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, unique=True)
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    is_public: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=True)

    specs: orm.Mapped[list[GroupTypeSpec]] = orm.relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="GroupTypeSpec.key")


class GroupTypeSpec(Base):
    __tablename__ = "volume_group_type_specs"
    __table_args__ = (sa.UniqueConstraint("group_type_id", "key"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    group_type_id: orm.Mapped[str] = orm.mapped_column(sa.String(36), sa.ForeignKey("volume_group_types.id"),
                                                       nullable=False)
    key: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    value: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)


class Group(ModelMixin, Base):
    """A generic volume group (Cinder 3.13): volumes of the listed types snapshotted together.

    ``status``: creating, available, updating, deleting, error. ``volume_type_ids`` is a JSON list.
    """

    __tablename__ = "volume_groups"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False, index=True)
    user_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    name: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(30), nullable=False)
    group_type_id: orm.Mapped[str] = orm.mapped_column(sa.String(36), nullable=False)
    volume_type_ids: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False)
    availability_zone: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    host: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    group_snapshot_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    source_group_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    deleted: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False, index=True)
    deleted_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)


class GroupSnapshot(ModelMixin, Base):
    """A snapshot of every volume of a group at once (Cinder 3.14). ``status``: creating, available,
    deleting, error."""

    __tablename__ = "volume_group_snapshots"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    group_id: orm.Mapped[str] = orm.mapped_column(sa.String(36), nullable=False, index=True)
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False, index=True)
    user_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    name: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(30), nullable=False)
    group_type_id: orm.Mapped[str] = orm.mapped_column(sa.String(36), nullable=False)
    deleted: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False, index=True)
    deleted_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)


class Transfer(ModelMixin, Base):
    """A volume offered to another project: the receiver needs the id and the auth key (only its salted
    SHA-256 is kept)."""

    __tablename__ = "volume_transfers"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    volume_id: orm.Mapped[str] = orm.mapped_column(sa.String(36), nullable=False, index=True)
    source_project_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False, index=True)
    destination_project_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    name: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    salt: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    crypt_hash: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    no_snapshots: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    accepted: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    deleted: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False, index=True)
    deleted_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)


class ServiceState(ModelMixin, Base):
    """What an administrator set on a block storage service (os-services disable/enable, freeze/thaw)."""

    __tablename__ = "volume_service_states"
    __table_args__ = (sa.UniqueConstraint("binary", "host"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    binary: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    host: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    disabled: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    disabled_reason: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    frozen: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)


class QosSpecs(ModelMixin, Base):
    """Named QoS specs (``consumer``: front-end, back-end or both; ``specs`` JSON) a volume type may name."""

    __tablename__ = "volume_qos_specs"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, unique=True)
    consumer: orm.Mapped[str] = orm.mapped_column(sa.String(20), nullable=False)
    specs: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False)


class QuotaClass(Base):
    """A quota class's limit (only ``default`` is used: it overrides the ``[volume] quota_*`` option)."""

    __tablename__ = "volume_quota_classes"
    __table_args__ = (sa.UniqueConstraint("class_name", "resource"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    class_name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    resource: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    hard_limit: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)


class Message(ModelMixin, Base):
    """A user message (Cinder 3.3): why a request the API had accepted failed; kept until ``expires_at``."""

    __tablename__ = "volume_messages"

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False, index=True)
    request_id: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    resource_type: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    resource_uuid: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    event_id: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    message_level: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    detail: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False)
    expires_at: orm.Mapped[datetime.datetime] = orm.mapped_column(sa.DateTime, nullable=False)
