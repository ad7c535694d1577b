"""The records a hypervisor driver is handed and returns (:mod:`cumulo.interfaces.hypervisor`).

Every record is a frozen dataclass: a driver reads it and never changes it
(``dataclasses.replace`` makes a changed copy). The compute area builds them
from its database rows, the network area's ports and the block-storage area's
connection data, so a driver never sees a database row or a REST body.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

# A volume reaches the hypervisor exactly as the volume driver exported it: one record for both kinds.
from cumulo.interfaces.volume.records import (
    PROTOCOL_FILE,
    PROTOCOL_NBD,
    ConnectionInfo,
    Connector,
    FileConnection,
    NbdConnection,
    TlsPsk,
)

__all__ = [
    "PROTOCOL_FILE", "PROTOCOL_NBD", "BlockDevice", "ConnectionInfo", "Connector", "DiskInfo", "FileConnection",
    "FixedIP", "Flavor", "HostResources", "ImageMeta", "Instance", "NbdConnection", "PowerState", "RemoteConsole",
    "SnapshotResult", "TlsPsk", "VIF",
]

_EMPTY: Mapping[str, str] = {}


class PowerState(enum.IntEnum):
    """An instance's power state as Nova reports it (``OS-EXT-STS:power_state``)."""

    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7


@dataclasses.dataclass(frozen=True)
class Flavor:
    """The size of an instance.

    ``extra_specs`` are the flavor's free-form keys (``hw:cpu_policy``,
    ``quota:disk_read_bytes_sec``...); a driver honours those it knows.
    """

    id: str
    name: str
    vcpus: int
    memory_mb: int
    root_gb: int
    ephemeral_gb: int = 0
    swap_mb: int = 0
    extra_specs: Mapping[str, str] = dataclasses.field(default_factory=lambda: _EMPTY)


@dataclasses.dataclass(frozen=True)
class Instance:
    """One server as its hypervisor sees it.

    ``name`` is the hypervisor-side name (``instance-<uuid>``), unique on the
    host and stable for the server's life: use it as the domain/VM name.
    ``user_data`` is already base64-decoded. ``key_data`` is the public key of
    the server's key pair, if any.
    """

    uuid: str
    name: str
    flavor: Flavor
    image_ref: str | None = None
    hostname: str = ""
    project_id: str = ""
    user_id: str = ""
    user_data: bytes | None = None
    metadata: Mapping[str, str] = dataclasses.field(default_factory=lambda: _EMPTY)
    key_data: str | None = None
    config_drive: bool = False
    availability_zone: str | None = None

    @property
    def vcpus(self) -> int:
        return self.flavor.vcpus

    @property
    def memory_mb(self) -> int:
        return self.flavor.memory_mb

    @property
    def root_gb(self) -> int:
        return self.flavor.root_gb

    @property
    def ephemeral_gb(self) -> int:
        return self.flavor.ephemeral_gb


@dataclasses.dataclass(frozen=True)
class ImageMeta:
    """What the image service knows of an image, without its bytes.

    ``checksum`` is the MD5 hex digest Glance records; ``os_hash_algo`` and
    ``os_hash_value`` the multihash (sha512 by default). ``properties`` are the
    image's free-form properties (``hw_disk_bus``, ``hw_vif_model``,
    ``os_type``...), strings as the API keeps them.
    """

    id: str
    name: str = ""
    disk_format: str = "raw"
    container_format: str = "bare"
    size: int | None = None
    checksum: str | None = None
    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    min_disk: int = 0
    min_ram: int = 0
    properties: Mapping[str, str] = dataclasses.field(default_factory=lambda: _EMPTY)


@dataclasses.dataclass(frozen=True)
class FixedIP:
    """One fixed address of a port, with what the guest needs to configure it."""

    address: str
    subnet_id: str = ""
    version: int = 4
    prefixlen: int | None = None
    gateway: str | None = None
    #: The subnet's DNS servers (2.1).
    dns_nameservers: tuple[str, ...] = ()
    #: Whether the subnet hands the address out by DHCP; False: configure it statically (2.1).
    dhcp: bool = True


@dataclasses.dataclass(frozen=True)
class VIF:
    """A virtual interface: one network port bound to the instance on this host.

    ``bridge`` is the host bridge the network area plugged the port's network
    into (None when the network driver wires nothing, as the no-op one);
    ``devname`` is the host-side device to create (``tap<port id[:11]>`` as Nova
    names it). ``vif_type`` says how to plug it (``bridge``, ``ovs``, ``tap``).
    """

    id: str
    mac_address: str
    network_id: str
    fixed_ips: tuple[FixedIP, ...] = ()
    floating_ips: tuple[str, ...] = ()
    mtu: int | None = None
    bridge: str | None = None
    vif_type: str = "bridge"
    devname: str = ""
    details: Mapping[str, str] = dataclasses.field(default_factory=lambda: _EMPTY)

    @property
    def tap_name(self) -> str:
        """The host device name: ``devname`` or Nova's ``tap`` + the port id's first 11 characters."""
        return self.devname or ("tap" + self.id[:11])


@dataclasses.dataclass(frozen=True)
class BlockDevice:
    """One entry of the instance's block-device mapping.

    ``source_type`` is ``image``, ``volume``, ``snapshot`` or ``blank``;
    ``destination_type`` is ``local`` (a disk the driver creates) or ``volume``
    (``connection_info`` says how to reach it). ``boot_index`` 0 is the boot
    disk; None means not bootable. ``device_name`` is the guest device the user
    asked for (``/dev/vdb``), a hint a driver may not be able to honour.
    """

    source_type: str
    destination_type: str
    device_name: str | None = None
    boot_index: int | None = None
    size_gb: int | None = None
    volume_id: str | None = None
    connection_info: ConnectionInfo | None = None
    disk_bus: str | None = None
    device_type: str = "disk"
    guest_format: str | None = None
    delete_on_termination: bool = False


@dataclasses.dataclass(frozen=True)
class HostResources:
    """A compute host's capacity, as its hypervisor reports it.

    The ``*_used`` figures are what the hypervisor itself sees in use (None:
    the compute area counts its own instances). ``supported_instances`` lists
    ``(arch, hypervisor_type, vm_mode)`` triples, for the image properties
    filter. ``cpu_info`` is reported verbatim by the hypervisors API
    (``arch``, ``model``, ``vendor``, ``topology``...).
    """

    vcpus: int
    memory_mb: int
    local_gb: int
    hypervisor_type: str
    hypervisor_version: int
    hypervisor_hostname: str
    cpu_info: Mapping[str, Any] = dataclasses.field(default_factory=lambda: _EMPTY)
    vcpus_used: int | None = None
    memory_mb_used: int | None = None
    local_gb_used: int | None = None
    supported_instances: tuple[tuple[str, str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class RemoteConsole:
    """Where a console proxy reaches an instance's graphical or serial console."""

    console_type: str
    host: str
    port: int
    token: str
    internal_access_path: str | None = None
    url: str | None = None


@dataclasses.dataclass(frozen=True)
class SnapshotResult:
    """The formats of the disk image a snapshot streamed."""

    disk_format: str
    container_format: str = "bare"


#: What :meth:`~cumulo.interfaces.hypervisor.HypervisorDriver.migrate_disk_and_power_off`
#: returns and ``finish_migration`` receives: opaque, read only by the same
#: driver (paths, sizes), and JSON-serialisable because it crosses hosts by RPC.
DiskInfo = Mapping[str, Any]
