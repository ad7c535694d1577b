"""The compute contract's views: what :class:`~cumulo.contracts.compute.ComputeService` methods answer.

Plain dicts typed as TypedDicts, protocol-neutral (no API microversion, no URL);
times are naive UTC datetimes. A view with a private ``_...Record`` base has
required keys (the record) and optional ones (what some methods add).
"""

from __future__ import annotations

import datetime
from typing import Any, TypedDict

__all__ = [
    "AggregateView", "AvailabilityZoneView", "ConsoleView", "FaultView", "FlavorAccessView", "FlavorView",
    "HypervisorServerView", "HypervisorView", "InstanceActionEventView", "InterfaceAttachmentView",
    "InterfaceFixedIPView", "InstanceActionView", "KeypairView",
    "QuotaUsageView", "ServerFlavorView", "ServerGroupView", "ServerSecurityGroupView", "ServerView",
    "ServiceView", "VolumeAttachmentView", "ZoneServiceView",
]


class ServerFlavorView(TypedDict, total=False):
    """The copy of a flavor a server keeps: a later change to the flavor does not change the server.

    ``original_name`` is the flavor's name when it was copied; empty for a server recorded without one.
    """

    id: str
    name: str
    original_name: str
    vcpus: int
    ram: int
    disk: int
    ephemeral: int
    swap: int
    extra_specs: dict[str, str]
    description: str | None


class FaultView(TypedDict):
    """A server's latest fault: why it is in ERROR (``details`` may name hosts: administrators only)."""

    code: int
    message: str
    details: str | None
    created: datetime.datetime
    host: str | None


class _ServerRecord(TypedDict):
    # identity and owner (``name`` is the hypervisor's name for it, ``display_name`` the user's)
    uuid: str
    name: str
    display_name: str
    display_description: str | None
    hostname: str | None
    project_id: str
    user_id: str
    reservation_id: str | None
    launch_index: int
    # state (``vm_state`` in VM_STATES, ``task_state`` in TASK_STATES or None)
    vm_state: str
    task_state: str | None
    task_updated_at: datetime.datetime | None
    power_state: int
    progress: int
    locked: bool
    locked_by: str | None
    locked_reason: str | None
    # placement
    host: str | None
    node: str | None
    availability_zone: str | None
    requested_availability_zone: str | None
    # what it was built with (``requested_networks``: "auto", "none" or the requests)
    flavor: ServerFlavorView
    old_flavor: ServerFlavorView | None
    new_flavor: ServerFlavorView | None
    vcpus: int
    memory_mb: int
    root_gb: int
    ephemeral_gb: int
    image_ref: str | None
    key_name: str | None
    key_data: str | None
    user_data: str | None
    config_drive: str | None
    access_ip_v4: str | None
    access_ip_v6: str | None
    metadata: dict[str, str]
    system_metadata: dict[str, Any]
    tags: list[str]
    security_groups: list[str]
    requested_networks: str | list[dict[str, str]] | None
    scheduler_hints: dict[str, Any]
    resize: dict[str, Any] | None
    created_at: datetime.datetime
    updated_at: datetime.datetime | None
    launched_at: datetime.datetime | None
    terminated_at: datetime.datetime | None
    deleted_at: datetime.datetime | None
    deleted: bool


class VolumeAttachmentView(TypedDict):
    """A volume of a server (Nova's volume attachment, a row of its block-device mapping; contract 1.3).

    ``id`` is the mapping's uuid (Nova's ``bdm_uuid``), ``attachment_id`` the volume area's attachment
    (None until reserved); ``status`` is ``attaching``, ``attached`` or ``detaching``; ``boot_index``
    0 for the root device.
    """

    id: str
    server_id: str
    volume_id: str
    device: str | None
    tag: str | None
    delete_on_termination: bool
    attachment_id: str | None
    boot_index: int | None
    status: str


class ServerView(_ServerRecord, total=False):
    """A server (Nova's instance): its record, and what every method but ``create_servers`` adds to it.

    The API ``status``, the latest ``fault`` (or None), the ``host_id`` the project sees, the
    ``host_status`` (UP, DOWN, "" without a host), the ``ports`` (the network service's port
    dicts, [] without one) and the ``volumes_attached`` (its volumes, contract 1.3).
    """

    status: str
    fault: FaultView | None
    host_id: str
    host_status: str
    ports: list[dict[str, Any]]
    volumes_attached: list[VolumeAttachmentView]


class FlavorView(TypedDict):
    """A flavor: ``ram`` and ``swap`` in MiB, ``disk`` and ``ephemeral`` in GiB."""

    id: str
    name: str
    vcpus: int
    ram: int
    disk: int
    ephemeral: int
    swap: int
    rxtx_factor: float
    is_public: bool
    disabled: bool
    description: str | None
    extra_specs: dict[str, str]


class FlavorAccessView(TypedDict):
    """A project on a private flavor's access list."""

    flavor_id: str
    tenant_id: str


class _KeypairRecord(TypedDict):
    id: int
    name: str
    user_id: str
    fingerprint: str
    public_key: str
    type: str
    created_at: datetime.datetime
    updated_at: datetime.datetime | None
    deleted: bool
    deleted_at: None


class KeypairView(_KeypairRecord, total=False):
    """A user's key pair; ``private_key`` only in the answer that generated it (it is not stored)."""

    private_key: str


class ServerGroupView(TypedDict):
    """A server group: one of :data:`SERVER_GROUP_POLICIES` over its ``members`` (server uuids)."""

    id: str
    name: str
    project_id: str
    user_id: str
    policy: str
    rules: dict[str, Any]
    members: list[str]
    metadata: dict[str, str]


class QuotaUsageView(TypedDict):
    """One resource of a detailed quota set (``-1``: unlimited)."""

    limit: int
    in_use: int
    reserved: int


class _Named(TypedDict):
    name: str


class ServerSecurityGroupView(_Named, total=False):
    """A security group of a server (Neutron's keys), or only its name when the cloud runs no network service."""

    id: str
    description: str
    project_id: str
    tenant_id: str
    stateful: bool
    security_group_rules: list[dict[str, Any]]


class InterfaceFixedIPView(TypedDict):
    """An address of an interface attachment."""

    subnet_id: str
    ip_address: str


class InterfaceAttachmentView(TypedDict):
    """A port plugged into a server (Nova's interface attachment; contract 1.2).

    ``port_state`` is the port's status; ``tag`` the device tag given when it was attached (None: none).
    """

    port_id: str
    net_id: str
    mac_addr: str
    port_state: str
    fixed_ips: list[InterfaceFixedIPView]
    tag: str | None


class InstanceActionEventView(TypedDict):
    """One step a host (or the scheduler) ran for a request on a server, with its result."""

    event: str
    start_time: datetime.datetime
    finish_time: datetime.datetime | None
    result: str | None
    traceback: str | None
    host: str | None
    details: str | None


class _InstanceActionRecord(TypedDict):
    action: str
    instance_uuid: str
    request_id: str
    user_id: str | None
    project_id: str | None
    start_time: datetime.datetime
    finish_time: datetime.datetime | None
    message: str | None
    updated_at: datetime.datetime


class InstanceActionView(_InstanceActionRecord, total=False):
    """One request made on a server; ``events`` only from :meth:`~cumulo.contracts.compute.InstanceActionService.get_instance_action`."""

    events: list[InstanceActionEventView]


class ConsoleView(TypedDict):
    """Where a console proxy reaches a server's console (the hypervisor's answer)."""

    host: str
    port: int
    token: str
    internal_access_path: str | None
    url: str | None
    type: str


class HypervisorView(TypedDict):
    """A compute node (``id`` is its uuid) and its service (``state`` up/down, ``status`` enabled/disabled).

    ``service`` is ``{"host", "id", "disabled_reason"}`` of its ``cumulo-compute`` record.
    """

    id: str
    hypervisor_hostname: str
    host: str
    hypervisor_type: str
    hypervisor_version: int
    host_ip: str | None
    vcpus: int
    memory_mb: int
    local_gb: int
    vcpus_used: int
    memory_mb_used: int
    local_gb_used: int
    running_vms: int
    cpu_info: str | None
    state: str
    status: str
    service: dict[str, str | None]
    uptime: None


class HypervisorServerView(TypedDict):
    """A server on a hypervisor."""

    uuid: str
    name: str


class ServiceView(TypedDict):
    """A service record (any binary) with its ``state`` (up/down) and ``status`` (enabled/disabled)."""

    id: int
    uuid: str
    host: str
    binary: str
    topic: str
    availability_zone: str
    disabled: bool
    disabled_reason: str | None
    forced_down: bool
    last_seen_up: datetime.datetime | None
    report_count: int
    created_at: datetime.datetime
    updated_at: datetime.datetime | None
    state: str
    status: str


class ZoneServiceView(TypedDict):
    """One service of a host in an availability zone."""

    available: bool
    active: bool
    updated_at: datetime.datetime | None


class AvailabilityZoneView(TypedDict):
    """An availability zone; ``hosts`` (host -> binary -> service) only in the detailed list, else None."""

    zoneName: str
    zoneState: dict[str, bool]
    hosts: dict[str, dict[str, ZoneServiceView]] | None


class AggregateView(TypedDict):
    """A host aggregate: ``id`` is its number; ``availability_zone`` is its metadata's."""

    id: int
    uuid: str
    name: str
    availability_zone: str | None
    metadata: dict[str, str]
    hosts: list[str]
    created_at: datetime.datetime
    updated_at: datetime.datetime | None
    deleted: bool
    deleted_at: None
