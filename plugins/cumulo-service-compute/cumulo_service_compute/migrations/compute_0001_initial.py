"""Compute: instances, faults, actions, tags, flavors, keypairs, server groups,
quotas, aggregates, compute nodes; and the default flavors.

Revision ID: compute_0001
Revises:
Create Date: 2026-11-22
"""

import datetime

import sqlalchemy as sa
from alembic import op

revision = "compute_0001"
down_revision = None
branch_labels = ("cumulo_compute",)
depends_on = "0001_services"

#: (flavorid, name, vcpus, ram MiB, disk GiB)
DEFAULT_FLAVORS = [
    ("1", "m1.tiny", 1, 512, 1),
    ("2", "m1.small", 1, 2048, 20),
    ("3", "m1.medium", 2, 4096, 40),
    ("4", "m1.large", 4, 8192, 80),
    ("5", "m1.xlarge", 8, 16384, 160),
    ("42", "c1.nano", 1, 64, 0),
]


def upgrade() -> None:
    op.create_table(
        "compute_instances",
        sa.Column("uuid", sa.String(36), primary_key=True),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("display_description", sa.Text),
        sa.Column("hostname", sa.String(255)),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255)),
        sa.Column("node", sa.String(255)),
        sa.Column("availability_zone", sa.String(255)),
        sa.Column("requested_availability_zone", sa.String(255)),
        sa.Column("vm_state", sa.String(32), nullable=False),
        sa.Column("task_state", sa.String(32)),
        sa.Column("power_state", sa.Integer, nullable=False),
        sa.Column("task_updated_at", sa.DateTime),
        sa.Column("flavor_json", sa.Text, nullable=False),
        sa.Column("old_flavor_json", sa.Text),
        sa.Column("new_flavor_json", sa.Text),
        sa.Column("vcpus", sa.Integer, nullable=False),
        sa.Column("memory_mb", sa.Integer, nullable=False),
        sa.Column("root_gb", sa.Integer, nullable=False),
        sa.Column("ephemeral_gb", sa.Integer, nullable=False),
        sa.Column("image_ref", sa.String(255)),
        sa.Column("key_name", sa.String(255)),
        sa.Column("key_data", sa.Text),
        sa.Column("user_data", sa.Text),
        sa.Column("metadata_json", sa.Text),
        sa.Column("system_metadata_json", sa.Text),
        sa.Column("security_groups_json", sa.Text),
        sa.Column("requested_networks_json", sa.Text),
        sa.Column("scheduler_hints_json", sa.Text),
        sa.Column("resize_json", sa.Text),
        sa.Column("locked", sa.Boolean, nullable=False),
        sa.Column("locked_by", sa.String(16)),
        sa.Column("locked_reason", sa.String(255)),
        sa.Column("config_drive", sa.String(16)),
        sa.Column("access_ip_v4", sa.String(64)),
        sa.Column("access_ip_v6", sa.String(64)),
        sa.Column("launch_index", sa.Integer, nullable=False),
        sa.Column("reservation_id", sa.String(64)),
        sa.Column("progress", sa.Integer, nullable=False),
        sa.Column("launched_at", sa.DateTime),
        sa.Column("terminated_at", sa.DateTime),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
        sa.Column("deleted_at", sa.DateTime),
        sa.Column("deleted", sa.Boolean, nullable=False),
    )
    op.create_index("ix_compute_instances_host_deleted", "compute_instances", ["host", "deleted"])
    op.create_index("ix_compute_instances_project_deleted", "compute_instances", ["project_id", "deleted"])
    op.create_index("ix_compute_instances_task_state", "compute_instances", ["task_state"])
    op.create_table(
        "compute_instance_tags",
        sa.Column("instance_uuid", sa.String(36), primary_key=True),
        sa.Column("tag", sa.String(80), primary_key=True),
    )
    op.create_table(
        "compute_instance_faults",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("instance_uuid", sa.String(36), nullable=False),
        sa.Column("code", sa.Integer, nullable=False),
        sa.Column("message", sa.String(255), nullable=False),
        sa.Column("details", sa.Text),
        sa.Column("host", sa.String(255)),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_compute_instance_faults_instance_uuid", "compute_instance_faults", ["instance_uuid"])
    op.create_table(
        "compute_instance_actions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("action", sa.String(255), nullable=False),
        sa.Column("instance_uuid", sa.String(36), nullable=False),
        sa.Column("request_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(64)),
        sa.Column("project_id", sa.String(64)),
        sa.Column("start_time", sa.DateTime, nullable=False),
        sa.Column("finish_time", sa.DateTime),
        sa.Column("message", sa.String(255)),
        sa.Column("updated_at", sa.DateTime),
    )
    op.create_index("ix_compute_instance_actions_instance_uuid", "compute_instance_actions", ["instance_uuid"])
    op.create_table(
        "compute_instance_action_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("action_id", sa.Integer, nullable=False),
        sa.Column("event", sa.String(255), nullable=False),
        sa.Column("start_time", sa.DateTime, nullable=False),
        sa.Column("finish_time", sa.DateTime),
        sa.Column("result", sa.String(255)),
        sa.Column("traceback", sa.Text),
        sa.Column("host", sa.String(255)),
        sa.Column("details", sa.Text),
    )
    op.create_index("ix_compute_instance_action_events_action_id", "compute_instance_action_events", ["action_id"])
    op.create_table(
        "compute_flavors",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("flavorid", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("vcpus", sa.Integer, nullable=False),
        sa.Column("memory_mb", sa.Integer, nullable=False),
        sa.Column("root_gb", sa.Integer, nullable=False),
        sa.Column("ephemeral_gb", sa.Integer, nullable=False),
        sa.Column("swap", sa.Integer, nullable=False),
        sa.Column("rxtx_factor", sa.Float, nullable=False),
        sa.Column("is_public", sa.Boolean, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
        sa.UniqueConstraint("flavorid", name="uq_compute_flavors_flavorid"),
        sa.UniqueConstraint("name", name="uq_compute_flavors_name"),
    )
    op.create_table(
        "compute_flavor_extra_specs",
        sa.Column("flavor_id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.String(255)),
    )
    op.create_table(
        "compute_flavor_projects",
        sa.Column("flavor_id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.String(64), primary_key=True),
    )
    op.create_table(
        "compute_keypairs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(255), nullable=False),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
        sa.UniqueConstraint("user_id", "name", name="uq_compute_keypairs_user_name"),
    )
    op.create_table(
        "compute_server_groups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("policy", sa.String(64), nullable=False),
        sa.Column("rules_json", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
        sa.UniqueConstraint("uuid", name="uq_compute_server_groups_uuid"),
    )
    op.create_index("ix_compute_server_groups_project_id", "compute_server_groups", ["project_id"])
    op.create_table(
        "compute_server_group_members",
        sa.Column("group_uuid", sa.String(36), primary_key=True),
        sa.Column("instance_uuid", sa.String(36), primary_key=True),
    )
    op.create_index("ix_compute_server_group_members_instance_uuid", "compute_server_group_members", ["instance_uuid"])
    op.create_table(
        "compute_quotas",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("hard_limit", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
        sa.UniqueConstraint("project_id", "resource", name="uq_compute_quotas_project_resource"),
    )
    op.create_table(
        "compute_quota_usages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("in_use", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
        sa.UniqueConstraint("project_id", "resource", name="uq_compute_quota_usages_project_resource"),
    )
    op.create_table(
        "compute_aggregates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
        sa.UniqueConstraint("uuid", name="uq_compute_aggregates_uuid"),
        sa.UniqueConstraint("name", name="uq_compute_aggregates_name"),
    )
    op.create_table(
        "compute_aggregate_hosts",
        sa.Column("aggregate_id", sa.Integer, primary_key=True),
        sa.Column("host", sa.String(255), primary_key=True),
    )
    op.create_table(
        "compute_aggregate_metadata",
        sa.Column("aggregate_id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.String(255), nullable=False),
    )
    op.create_table(
        "compute_nodes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("hypervisor_hostname", sa.String(255), nullable=False),
        sa.Column("hypervisor_type", sa.String(255), nullable=False),
        sa.Column("hypervisor_version", sa.Integer, nullable=False),
        sa.Column("host_ip", sa.String(64)),
        sa.Column("vcpus", sa.Integer, nullable=False),
        sa.Column("memory_mb", sa.Integer, nullable=False),
        sa.Column("local_gb", sa.Integer, nullable=False),
        sa.Column("vcpus_used", sa.Integer, nullable=False),
        sa.Column("memory_mb_used", sa.Integer, nullable=False),
        sa.Column("local_gb_used", sa.Integer, nullable=False),
        sa.Column("running_vms", sa.Integer, nullable=False),
        sa.Column("cpu_info", sa.Text),
        sa.Column("capabilities_json", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
        sa.UniqueConstraint("host", name="uq_compute_nodes_host"),
        sa.UniqueConstraint("uuid", name="uq_compute_nodes_uuid"),
    )
    flavors = sa.table(
        "compute_flavors",
        sa.column("flavorid", sa.String), sa.column("name", sa.String), sa.column("vcpus", sa.Integer),
        sa.column("memory_mb", sa.Integer), sa.column("root_gb", sa.Integer), sa.column("ephemeral_gb", sa.Integer),
        sa.column("swap", sa.Integer), sa.column("rxtx_factor", sa.Float), sa.column("is_public", sa.Boolean),
        sa.column("disabled", sa.Boolean), sa.column("created_at", sa.DateTime),
    )
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    op.bulk_insert(flavors, [
        {"flavorid": fid, "name": name, "vcpus": vcpus, "memory_mb": ram, "root_gb": disk, "ephemeral_gb": 0,
         "swap": 0, "rxtx_factor": 1.0, "is_public": True, "disabled": False, "created_at": now}
        for fid, name, vcpus, ram, disk in DEFAULT_FLAVORS
    ])
