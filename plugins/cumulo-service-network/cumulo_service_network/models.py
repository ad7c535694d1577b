"""Networking model: networks, subnets, ports and their IP allocations, routers,
floating IPs, security groups, quotas, tags and auto-allocated topologies.

IPAM correctness rests on the unique constraint ``(network_id, ip_address)`` of
``network_ipallocations``: two transactions that pick the same address cannot
both commit, on SQLite, PostgreSQL or MariaDB; the loser retries another one.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from cumulo.db import Base
from cumulo.db.models.base import ModelMixin, new_id

_ID = sa.String(36)


def _id_column() -> orm.Mapped[str]:
    return orm.mapped_column(_ID, primary_key=True, default=new_id)


class _Standard(ModelMixin):
    """Neutron's standard attributes: project, name, description, revision."""

    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, default="", index=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, default="")
    description: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, default="")
    revision_number: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)


class Network(_Standard, Base):
    __tablename__ = "networks"

    id: orm.Mapped[str] = _id_column()
    admin_state_up: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=True)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False, default="ACTIVE")
    shared: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    external: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    is_default: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    network_type: orm.Mapped[str] = orm.mapped_column(sa.String(32), nullable=False, default="local")
    physical_network: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    segmentation_id: orm.Mapped[int | None] = orm.mapped_column(sa.Integer)
    mtu: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=1500)
    port_security_enabled: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=True)


class SubnetPool(_Standard, Base):
    __tablename__ = "subnetpools"

    id: orm.Mapped[str] = _id_column()
    ip_version: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)
    prefixes: orm.Mapped[list[str]] = orm.mapped_column(sa.JSON, nullable=False)
    default_prefixlen: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)
    min_prefixlen: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)
    max_prefixlen: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)
    shared: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)
    is_default: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)


class Subnet(_Standard, Base):
    __tablename__ = "subnets"

    id: orm.Mapped[str] = _id_column()
    network_id: orm.Mapped[str] = orm.mapped_column(_ID, sa.ForeignKey("networks.id"), nullable=False, index=True)
    ip_version: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)
    cidr: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    gateway_ip: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    enable_dhcp: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=True)
    dns_nameservers: orm.Mapped[list[str]] = orm.mapped_column(sa.JSON, nullable=False, default=list)
    host_routes: orm.Mapped[list[dict[str, Any]]] = orm.mapped_column(sa.JSON, nullable=False, default=list)
    allocation_pools: orm.Mapped[list[dict[str, str]]] = orm.mapped_column(sa.JSON, nullable=False, default=list)
    ipv6_ra_mode: orm.Mapped[str | None] = orm.mapped_column(sa.String(32))
    ipv6_address_mode: orm.Mapped[str | None] = orm.mapped_column(sa.String(32))
    subnetpool_id: orm.Mapped[str | None] = orm.mapped_column(_ID, sa.ForeignKey("subnetpools.id"))


class Port(_Standard, Base):
    __tablename__ = "ports"
    __table_args__ = (sa.UniqueConstraint("network_id", "mac_address", name="uq_ports_network_id_mac_address"),)

    id: orm.Mapped[str] = _id_column()
    network_id: orm.Mapped[str] = orm.mapped_column(_ID, sa.ForeignKey("networks.id"), nullable=False, index=True)
    mac_address: orm.Mapped[str] = orm.mapped_column(sa.String(32), nullable=False)
    admin_state_up: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=True)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False, default="DOWN")
    device_id: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, default="", index=True)
    device_owner: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, default="")
    binding_host_id: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, default="")
    binding_vnic_type: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False, default="normal")
    binding_profile: orm.Mapped[dict[str, Any]] = orm.mapped_column(sa.JSON, nullable=False, default=dict)
    port_security_enabled: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=True)
    allowed_address_pairs: orm.Mapped[list[dict[str, str]]] = orm.mapped_column(sa.JSON, nullable=False, default=list)
    #: Ports a server create made (deleted with the server) vs. ports the user passed (only unbound).
    created_for_instance: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=False)


class IPAllocation(Base):
    __tablename__ = "network_ipallocations"
    __table_args__ = (sa.UniqueConstraint("network_id", "ip_address", name="uq_network_ipallocations_net_ip"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    port_id: orm.Mapped[str] = orm.mapped_column(_ID, sa.ForeignKey("ports.id", ondelete="CASCADE"),
                                                 nullable=False, index=True)
    subnet_id: orm.Mapped[str] = orm.mapped_column(_ID, sa.ForeignKey("subnets.id"), nullable=False, index=True)
    network_id: orm.Mapped[str] = orm.mapped_column(_ID, nullable=False)
    ip_address: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)


class Router(_Standard, Base):
    __tablename__ = "routers"

    id: orm.Mapped[str] = _id_column()
    admin_state_up: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=True)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False, default="ACTIVE")
    gw_network_id: orm.Mapped[str | None] = orm.mapped_column(_ID, sa.ForeignKey("networks.id"))
    gw_port_id: orm.Mapped[str | None] = orm.mapped_column(_ID)
    enable_snat: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=True)
    routes: orm.Mapped[list[dict[str, str]]] = orm.mapped_column(sa.JSON, nullable=False, default=list)


class FloatingIP(_Standard, Base):
    __tablename__ = "floatingips"

    id: orm.Mapped[str] = _id_column()
    floating_network_id: orm.Mapped[str] = orm.mapped_column(_ID, sa.ForeignKey("networks.id"), nullable=False)
    floating_ip_address: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    floating_port_id: orm.Mapped[str] = orm.mapped_column(_ID, nullable=False)
    fixed_port_id: orm.Mapped[str | None] = orm.mapped_column(_ID, index=True)
    fixed_ip_address: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    router_id: orm.Mapped[str | None] = orm.mapped_column(_ID)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False, default="DOWN")


class SecurityGroup(_Standard, Base):
    __tablename__ = "securitygroups"

    id: orm.Mapped[str] = _id_column()
    stateful: orm.Mapped[bool] = orm.mapped_column(sa.Boolean, nullable=False, default=True)


class DefaultSecurityGroup(Base):
    """One row per project: its primary key makes "create the default group" race-free."""

    __tablename__ = "network_default_securitygroups"

    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(255), primary_key=True)
    security_group_id: orm.Mapped[str] = orm.mapped_column(
        _ID, sa.ForeignKey("securitygroups.id", ondelete="CASCADE"), nullable=False)


class SecurityGroupRule(ModelMixin, Base):
    __tablename__ = "securitygrouprules"

    id: orm.Mapped[str] = _id_column()
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, default="")
    security_group_id: orm.Mapped[str] = orm.mapped_column(
        _ID, sa.ForeignKey("securitygroups.id", ondelete="CASCADE"), nullable=False, index=True)
    direction: orm.Mapped[str] = orm.mapped_column(sa.String(16), nullable=False)
    ethertype: orm.Mapped[str] = orm.mapped_column(sa.String(8), nullable=False)
    protocol: orm.Mapped[str | None] = orm.mapped_column(sa.String(40))
    port_range_min: orm.Mapped[int | None] = orm.mapped_column(sa.Integer)
    port_range_max: orm.Mapped[int | None] = orm.mapped_column(sa.Integer)
    remote_ip_prefix: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    remote_group_id: orm.Mapped[str | None] = orm.mapped_column(
        _ID, sa.ForeignKey("securitygroups.id", ondelete="CASCADE"))
    description: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False, default="")
    revision_number: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False, default=0)


class PortSecurityGroup(Base):
    __tablename__ = "network_port_securitygroups"

    port_id: orm.Mapped[str] = orm.mapped_column(_ID, sa.ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True)
    security_group_id: orm.Mapped[str] = orm.mapped_column(_ID, sa.ForeignKey("securitygroups.id"),
                                                           primary_key=True, index=True)


class Quota(Base):
    __tablename__ = "network_quotas"
    __table_args__ = (sa.UniqueConstraint("project_id", "resource", name="uq_network_quotas_project_resource"),)

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(255), nullable=False)
    resource: orm.Mapped[str] = orm.mapped_column(sa.String(64), nullable=False)
    limit: orm.Mapped[int] = orm.mapped_column(sa.Integer, nullable=False)


class Tag(Base):
    __tablename__ = "network_tags"

    resource_id: orm.Mapped[str] = orm.mapped_column(_ID, primary_key=True)
    tag: orm.Mapped[str] = orm.mapped_column(sa.String(255), primary_key=True)
    resource_type: orm.Mapped[str] = orm.mapped_column(sa.String(32), nullable=False)


class AutoAllocatedTopology(Base):
    __tablename__ = "network_auto_allocated_topologies"

    project_id: orm.Mapped[str] = orm.mapped_column(sa.String(255), primary_key=True)
    network_id: orm.Mapped[str] = orm.mapped_column(_ID, nullable=False)
    router_id: orm.Mapped[str | None] = orm.mapped_column(_ID)
