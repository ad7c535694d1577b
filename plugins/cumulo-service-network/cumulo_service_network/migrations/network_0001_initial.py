"""Networking tables: networks, subnets, subnet pools, ports, IP allocations,
routers, floating IPs, security groups and rules, quotas, tags, auto-allocated topologies.

Revision ID: network_0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "network_0001"
down_revision = None
branch_labels = ("cumulo_network",)
depends_on = "0001_services"

ID = sa.String(36)


def _standard() -> list[sa.Column]:
    return [
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("revision_number", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
    ]


def upgrade() -> None:
    op.create_table(
        "networks",
        sa.Column("id", ID, primary_key=True),
        *_standard(),
        sa.Column("admin_state_up", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("shared", sa.Boolean, nullable=False),
        sa.Column("external", sa.Boolean, nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False),
        sa.Column("network_type", sa.String(32), nullable=False),
        sa.Column("physical_network", sa.String(64)),
        sa.Column("segmentation_id", sa.Integer),
        sa.Column("mtu", sa.Integer, nullable=False),
        sa.Column("port_security_enabled", sa.Boolean, nullable=False),
    )
    op.create_index("ix_networks_project_id", "networks", ["project_id"])
    op.create_table(
        "subnetpools",
        sa.Column("id", ID, primary_key=True),
        *_standard(),
        sa.Column("ip_version", sa.Integer, nullable=False),
        sa.Column("prefixes", sa.JSON, nullable=False),
        sa.Column("default_prefixlen", sa.Integer, nullable=False),
        sa.Column("min_prefixlen", sa.Integer, nullable=False),
        sa.Column("max_prefixlen", sa.Integer, nullable=False),
        sa.Column("shared", sa.Boolean, nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False),
    )
    op.create_index("ix_subnetpools_project_id", "subnetpools", ["project_id"])
    op.create_table(
        "subnets",
        sa.Column("id", ID, primary_key=True),
        *_standard(),
        sa.Column("network_id", ID, sa.ForeignKey("networks.id", name="fk_subnets_network_id_networks"),
                  nullable=False),
        sa.Column("ip_version", sa.Integer, nullable=False),
        sa.Column("cidr", sa.String(64), nullable=False),
        sa.Column("gateway_ip", sa.String(64)),
        sa.Column("enable_dhcp", sa.Boolean, nullable=False),
        sa.Column("dns_nameservers", sa.JSON, nullable=False),
        sa.Column("host_routes", sa.JSON, nullable=False),
        sa.Column("allocation_pools", sa.JSON, nullable=False),
        sa.Column("ipv6_ra_mode", sa.String(32)),
        sa.Column("ipv6_address_mode", sa.String(32)),
        sa.Column("subnetpool_id", ID, sa.ForeignKey("subnetpools.id", name="fk_subnets_subnetpool_id_subnetpools")),
    )
    op.create_index("ix_subnets_project_id", "subnets", ["project_id"])
    op.create_index("ix_subnets_network_id", "subnets", ["network_id"])
    op.create_table(
        "ports",
        sa.Column("id", ID, primary_key=True),
        *_standard(),
        sa.Column("network_id", ID, sa.ForeignKey("networks.id", name="fk_ports_network_id_networks"), nullable=False),
        sa.Column("mac_address", sa.String(32), nullable=False),
        sa.Column("admin_state_up", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("device_id", sa.String(255), nullable=False),
        sa.Column("device_owner", sa.String(255), nullable=False),
        sa.Column("binding_host_id", sa.String(255), nullable=False),
        sa.Column("binding_vnic_type", sa.String(64), nullable=False),
        sa.Column("binding_profile", sa.JSON, nullable=False),
        sa.Column("port_security_enabled", sa.Boolean, nullable=False),
        sa.Column("allowed_address_pairs", sa.JSON, nullable=False),
        sa.Column("created_for_instance", sa.Boolean, nullable=False),
        sa.UniqueConstraint("network_id", "mac_address", name="uq_ports_network_id_mac_address"),
    )
    op.create_index("ix_ports_project_id", "ports", ["project_id"])
    op.create_index("ix_ports_network_id", "ports", ["network_id"])
    op.create_index("ix_ports_device_id", "ports", ["device_id"])
    op.create_table(
        "network_ipallocations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("port_id", ID, sa.ForeignKey("ports.id", ondelete="CASCADE",
                                               name="fk_net_ipalloc_port_id"), nullable=False),
        sa.Column("subnet_id", ID, sa.ForeignKey("subnets.id", name="fk_net_ipalloc_subnet_id"),
                  nullable=False),
        sa.Column("network_id", ID, nullable=False),
        sa.Column("ip_address", sa.String(64), nullable=False),
        sa.UniqueConstraint("network_id", "ip_address", name="uq_network_ipallocations_net_ip"),
    )
    op.create_index("ix_network_ipallocations_port_id", "network_ipallocations", ["port_id"])
    op.create_index("ix_network_ipallocations_subnet_id", "network_ipallocations", ["subnet_id"])
    op.create_table(
        "routers",
        sa.Column("id", ID, primary_key=True),
        *_standard(),
        sa.Column("admin_state_up", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("gw_network_id", ID, sa.ForeignKey("networks.id", name="fk_routers_gw_network_id_networks")),
        sa.Column("gw_port_id", ID),
        sa.Column("enable_snat", sa.Boolean, nullable=False),
        sa.Column("routes", sa.JSON, nullable=False),
    )
    op.create_index("ix_routers_project_id", "routers", ["project_id"])
    op.create_table(
        "floatingips",
        sa.Column("id", ID, primary_key=True),
        *_standard(),
        sa.Column("floating_network_id", ID, sa.ForeignKey("networks.id",
                                                           name="fk_floatingips_floating_network_id"),
                  nullable=False),
        sa.Column("floating_ip_address", sa.String(64), nullable=False),
        sa.Column("floating_port_id", ID, nullable=False),
        sa.Column("fixed_port_id", ID),
        sa.Column("fixed_ip_address", sa.String(64)),
        sa.Column("router_id", ID),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_index("ix_floatingips_project_id", "floatingips", ["project_id"])
    op.create_index("ix_floatingips_fixed_port_id", "floatingips", ["fixed_port_id"])
    op.create_table(
        "securitygroups",
        sa.Column("id", ID, primary_key=True),
        *_standard(),
        sa.Column("stateful", sa.Boolean, nullable=False),
    )
    op.create_index("ix_securitygroups_project_id", "securitygroups", ["project_id"])
    op.create_table(
        "network_default_securitygroups",
        sa.Column("project_id", sa.String(255), primary_key=True),
        sa.Column("security_group_id", ID, sa.ForeignKey(
            "securitygroups.id", ondelete="CASCADE",
            name="fk_net_default_sg_security_group_id"), nullable=False),
    )
    op.create_table(
        "securitygrouprules",
        sa.Column("id", ID, primary_key=True),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("security_group_id", ID, sa.ForeignKey(
            "securitygroups.id", ondelete="CASCADE", name="fk_sgrules_security_group_id"),
            nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("ethertype", sa.String(8), nullable=False),
        sa.Column("protocol", sa.String(40)),
        sa.Column("port_range_min", sa.Integer),
        sa.Column("port_range_max", sa.Integer),
        sa.Column("remote_ip_prefix", sa.String(64)),
        sa.Column("remote_group_id", ID, sa.ForeignKey(
            "securitygroups.id", ondelete="CASCADE", name="fk_sgrules_remote_group_id")),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("revision_number", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime),
    )
    op.create_index("ix_securitygrouprules_security_group_id", "securitygrouprules", ["security_group_id"])
    op.create_table(
        "network_port_securitygroups",
        sa.Column("port_id", ID, sa.ForeignKey("ports.id", ondelete="CASCADE",
                                               name="fk_net_port_sg_port_id"),
                  primary_key=True),
        sa.Column("security_group_id", ID, sa.ForeignKey(
            "securitygroups.id", name="fk_net_port_sg_security_group_id"),
            primary_key=True),
    )
    op.create_index("ix_net_port_sg_security_group_id", "network_port_securitygroups",
                    ["security_group_id"])
    op.create_table(
        "network_quotas",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("limit", sa.Integer, nullable=False),
        sa.UniqueConstraint("project_id", "resource", name="uq_network_quotas_project_resource"),
    )
    op.create_table(
        "network_tags",
        sa.Column("resource_id", ID, primary_key=True),
        sa.Column("tag", sa.String(255), primary_key=True),
        sa.Column("resource_type", sa.String(32), nullable=False),
    )
    op.create_table(
        "network_auto_allocated_topologies",
        sa.Column("project_id", sa.String(255), primary_key=True),
        sa.Column("network_id", ID, nullable=False),
        sa.Column("router_id", ID),
    )
