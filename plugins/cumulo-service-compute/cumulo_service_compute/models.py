"""Compute tables: instances and their faults/actions/tags, flavors, keypairs,
server groups, quotas, aggregates and compute nodes.

Cross-area references (image, network, identity ids) are plain strings. JSON
blobs are stored as Text (``*_json`` columns) and decoded by the service.
"""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from cumulo.db import Base
from cumulo.db.models.base import ModelMixin, SoftDeleteMixin


class Instance(ModelMixin, SoftDeleteMixin, Base):
    __tablename__ = "compute_instances"
    __table_args__ = (
        sa.Index("ix_compute_instances_project_deleted", "project_id", "deleted"),
        sa.Index("ix_compute_instances_host_deleted", "host", "deleted"),
        sa.Index("ix_compute_instances_task_state", "task_state"),
    )

    uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    display_name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    display_description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    hostname: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    user_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    host: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    node: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    availability_zone: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    requested_availability_zone: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    vm_state: orm.Mapped[str] = orm.mapped_column(sa.String(32), nullable=False)
    task_state: orm.Mapped[str | None] = orm.mapped_column(sa.String(32))
    power_state: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)
    task_updated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)
    flavor_json: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False)
    old_flavor_json: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    new_flavor_json: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    vcpus: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)
    memory_mb: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)
    root_gb: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)
    ephemeral_gb: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)
    image_ref: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    key_name: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    key_data: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    user_data: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    metadata_json: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    system_metadata_json: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    security_groups_json: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    requested_networks_json: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    scheduler_hints_json: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    resize_json: orm.Mapped[str | None] = orm.mapped_column(sa.Text)  # source/dest hosts while resizing
    locked: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    locked_by: orm.Mapped[str | None] = orm.mapped_column(sa.String(16))
    locked_reason: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    config_drive: orm.Mapped[str | None] = orm.mapped_column(sa.String(16))
    access_ip_v4: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    access_ip_v6: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    launch_index: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)
    reservation_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    progress: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)
    launched_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)
    terminated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)


class InstanceTag(Base):
    __tablename__ = "compute_instance_tags"

    instance_uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    tag: orm.Mapped[str] = orm.mapped_column(sa.String(80), primary_key=True)


class InstanceFault(Base):
    __tablename__ = "compute_instance_faults"

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    instance_uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36), nullable=False, index=True)
    code: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)
    message: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    details: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    host: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(sa.DateTime, nullable=False)


class InstanceAction(Base):
    __tablename__ = "compute_instance_actions"

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    action: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    instance_uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36), nullable=False, index=True)
    request_id: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    user_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    project_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    start_time: orm.Mapped[datetime.datetime] = orm.mapped_column(sa.DateTime, nullable=False)
    finish_time: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)
    message: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    updated_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)


class InstanceActionEvent(Base):
    __tablename__ = "compute_instance_action_events"

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    action_id: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, index=True)
    event: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    start_time: orm.Mapped[datetime.datetime] = orm.mapped_column(sa.DateTime, nullable=False)
    finish_time: orm.Mapped[datetime.datetime | None] = orm.mapped_column(sa.DateTime)
    result: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    traceback: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    host: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    details: orm.Mapped[str | None] = orm.mapped_column(sa.Text)


class Flavor(ModelMixin, Base):
    __tablename__ = "compute_flavors"

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    flavorid: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, unique=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, unique=True)
    vcpus: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)
    memory_mb: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)
    root_gb: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)
    ephemeral_gb: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)
    swap: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)
    rxtx_factor: orm.Mapped[float] = orm.mapped_column(sa.Float, nullable=False, default=1.0)
    is_public: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=True)
    disabled: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)


class FlavorExtraSpec(Base):
    __tablename__ = "compute_flavor_extra_specs"

    flavor_id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True)
    key: orm.Mapped[str] = orm.mapped_column(sa.String(255), primary_key=True)
    value: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))


class FlavorProject(Base):
    __tablename__ = "compute_flavor_projects"

    flavor_id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True)
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), primary_key=True)


class KeyPair(ModelMixin, Base):
    __tablename__ = "compute_keypairs"
    __table_args__ = (sa.UniqueConstraint("user_id", "name", name="uq_compute_keypairs_user_name"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    user_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    fingerprint: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    public_key: orm.Mapped[str] = orm.mapped_column(sa.Text, nullable=False)
    type: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False, default="ssh")


class ServerGroup(ModelMixin, Base):
    __tablename__ = "compute_server_groups"

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36), nullable=False, unique=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False, index=True)
    user_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    policy: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    rules_json: orm.Mapped[str | None] = orm.mapped_column(sa.Text)


class ServerGroupMember(Base):
    __tablename__ = "compute_server_group_members"

    group_uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    instance_uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True, index=True)


class Quota(ModelMixin, Base):
    """A per-project limit overriding the ``[quota]`` default."""

    __tablename__ = "compute_quotas"
    __table_args__ = (sa.UniqueConstraint("project_id", "resource", name="uq_compute_quotas_project_resource"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    resource: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    hard_limit: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)


class QuotaUsage(ModelMixin, Base):
    """What is in use, changed only by atomic conditional UPDATEs (no overshoot).

    ``project_id`` holds the user id for per-user resources (key_pairs).
    """

    __tablename__ = "compute_quota_usages"
    __table_args__ = (sa.UniqueConstraint("project_id", "resource", name="uq_compute_quota_usages_project_resource"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    resource: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    in_use: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)


class Aggregate(ModelMixin, Base):
    __tablename__ = "compute_aggregates"

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36), nullable=False, unique=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, unique=True)


class AggregateHost(Base):
    __tablename__ = "compute_aggregate_hosts"

    aggregate_id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True)
    host: orm.Mapped[str] = orm.mapped_column(sa.String(255), primary_key=True)


class AggregateMetadata(Base):
    __tablename__ = "compute_aggregate_metadata"

    aggregate_id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True)
    key: orm.Mapped[str] = orm.mapped_column(sa.String(255), primary_key=True)
    value: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)


class ComputeNode(ModelMixin, Base):
    __tablename__ = "compute_nodes"

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36), nullable=False, unique=True)
    host: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, unique=True)
    hypervisor_hostname: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    hypervisor_type: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    hypervisor_version: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)
    host_ip: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    vcpus: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)
    memory_mb: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)
    local_gb: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)
    vcpus_used: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)
    memory_mb_used: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)
    local_gb_used: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)
    running_vms: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)
    cpu_info: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    capabilities_json: orm.Mapped[str | None] = orm.mapped_column(sa.Text)


class BlockDeviceMapping(ModelMixin, Base):
    """One volume of a server (Nova's block-device mapping, ``destination_type`` volume only).

    ``status``: ``attaching`` (reserved, the host has not attached it yet), ``attached``,
    ``detaching``. ``connection_info_json`` is what the volume area's ``attach`` answered (the
    export's secrets: hand it to the hypervisor only).
    """

    __tablename__ = "compute_block_device_mappings"
    __table_args__ = (sa.Index("ix_compute_bdm_instance", "instance_uuid"),
                      sa.Index("ix_compute_bdm_volume", "volume_id"))

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    instance_uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36), nullable=False)
    source_type: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False)
    destination_type: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False)
    image_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    volume_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    volume_size: orm.Mapped[int | None] = orm.mapped_column(sa.Integer)
    volume_type: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    boot_index: orm.Mapped[int | None] = orm.mapped_column(sa.Integer)
    device_name: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    disk_bus: orm.Mapped[str | None] = orm.mapped_column(sa.String(32))
    device_type: orm.Mapped[str | None] = orm.mapped_column(sa.String(32))
    delete_on_termination: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    tag: orm.Mapped[str | None] = orm.mapped_column(sa.String(60))
    attachment_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))
    status: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False)
    connection_info_json: orm.Mapped[str | None] = orm.mapped_column(sa.Text)


class Migration(ModelMixin, Base):
    """One move of a server between hosts (Nova's migration record): a resize, a cold or live migration, an
    evacuation. ``status`` follows Nova's values (``pre-migrating``, ``migrating``, ``running``, ``finished``,
    ``confirmed``, ``reverted``, ``completed``, ``done``, ``error``, ``failed``...)."""

    __tablename__ = "compute_migrations"
    __table_args__ = (sa.Index("ix_compute_migrations_instance", "instance_uuid"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36), nullable=False, unique=True)
    instance_uuid: orm.Mapped[str] = orm.mapped_column(sa.String(36), nullable=False)
    project_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    user_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    migration_type: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(32), nullable=False)
    source_compute: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    dest_compute: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    dest_host: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    old_flavor_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    new_flavor_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
