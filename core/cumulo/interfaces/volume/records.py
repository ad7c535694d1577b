"""The records a volume driver is handed and returns (:mod:`cumulo.interfaces.volume`).

Every record is a frozen dataclass holding tuples and read-only mappings: a
driver reads it and never changes it (``dataclasses.replace`` makes a changed
copy). The volume area builds them from its database, so a driver never sees a
database row or a REST body. Sizes of volumes are whole GiB (as the Block
Storage API counts them); capacities are GiB as floats.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Literal, TypeAlias

__all__ = [
    "GIB", "PROTOCOL_FILE", "PROTOCOL_NBD", "BackendStats", "CapabilityValue", "ConnectionData",
    "ConnectionInfo", "Connector", "DiskFormat", "FileConnection", "ManageableVolume", "ManagedVolume",
    "NbdConnection", "Provisioned", "Snapshot", "TlsPsk", "Volume",
]

GIB = 1024 ** 3

#: ``driver_volume_type`` of a volume the host opens as a local file (the same host as the driver).
PROTOCOL_FILE = "file"
#: ``driver_volume_type`` of a volume served over the network block device protocol.
PROTOCOL_NBD = "nbd"

#: Disk formats image data is read and written in (``copy_image_to_volume``/``copy_volume_to_image``).
DiskFormat: TypeAlias = Literal["raw", "qcow2"]

#: A value of :attr:`BackendStats.capabilities` (JSON scalars: a scheduler compares them with extra specs).
CapabilityValue: TypeAlias = str | int | float | bool

_EMPTY: Mapping[str, str] = {}
_NO_CAPABILITIES: Mapping[str, CapabilityValue] = {}


@dataclasses.dataclass(frozen=True)
class Volume:
    """A volume as the volume area recorded it.

    ``extra_specs`` are the volume type's (``{"thin": "true"}``, namespaced
    keys such as ``"capabilities:..."`` included); a driver honours those it
    knows and ignores the rest. ``provider_location`` is what the driver
    returned in :class:`Provisioned` when the volume was made (None until then):
    the area stores it and hands it back, never interpreting it.
    """

    id: str
    size_gib: int
    name: str = ""
    project_id: str = ""
    volume_type: str | None = None  # the type's name, None for the default type
    extra_specs: Mapping[str, str] = dataclasses.field(default_factory=lambda: _EMPTY)
    provider_location: str | None = None
    multiattach: bool = False


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """A point-in-time copy of volume ``volume_id``, which was ``volume_size_gib`` GiB when it was taken."""

    id: str
    volume_id: str
    volume_size_gib: int
    name: str = ""
    project_id: str = ""
    provider_location: str | None = None


@dataclasses.dataclass(frozen=True)
class Provisioned:
    """What a driver made: the volume area stores ``provider_location`` on the volume or snapshot."""

    provider_location: str | None = None


@dataclasses.dataclass(frozen=True)
class ManagedVolume:
    """What a driver took over (2.1, ``manage_existing``): the data's size and where it now lives."""

    size_gib: int
    provider_location: str | None = None


@dataclasses.dataclass(frozen=True)
class ManageableVolume:
    """Data on the backend that the area could manage (2.1, ``get_manageable_volumes``).

    ``reference`` is what ``manage_existing`` takes (``{"source-name": ...}``); ``safe_to_manage`` is
    False (with ``reason_not_safe``) for data a volume of this backend already holds or uses.
    """

    reference: Mapping[str, str]
    size_gib: int
    safe_to_manage: bool
    reason_not_safe: str | None = None
    cinder_id: str | None = None
    extra_info: str | None = None


@dataclasses.dataclass(frozen=True)
class Connector:
    """The host that wants to reach a volume (a compute host, or the volume area's own host).

    ``protocols`` are the transports the host can use, in the order it
    prefers them (:data:`PROTOCOL_FILE`, :data:`PROTOCOL_NBD`, ``"iscsi"``...);
    empty means any. ``initiator`` is the host's iSCSI IQN, for drivers that
    export over iSCSI.
    """

    host: str
    ip: str | None = None
    initiator: str | None = None
    protocols: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class FileConnection:
    """The volume is the file ``path`` on the connector's own host, in ``disk_format``.

    A ``qcow2`` file may have backing files (its snapshots), named in its
    header relative to its own directory, with their format recorded.
    """

    path: str
    disk_format: DiskFormat = "qcow2"


@dataclasses.dataclass(frozen=True)
class TlsPsk:
    """TLS with a pre-shared key (qemu's ``tls-creds-psk``): ``identity`` and the key as hex."""

    identity: str
    key_hex: str

    def keys_file_line(self) -> str:
        """The line of a ``keys.psk`` file qemu's ``tls-creds-psk`` reads (``identity:key``)."""
        return f"{self.identity}:{self.key_hex}\n"


@dataclasses.dataclass(frozen=True)
class NbdConnection:
    """An NBD export: ``export_name`` at ``host``:``port``, guest data as raw bytes.

    ``tls`` is None for a plain export (never offered by the bundled drivers);
    otherwise a client must complete TLS with that key before the server
    names any export.
    """

    host: str
    port: int
    export_name: str
    tls: TlsPsk | None = None

    @property
    def url(self) -> str:
        """``nbd://host:port/export`` (what ``qemu-img info`` takes; TLS is set separately)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"nbd://{host}:{self.port}/{self.export_name}"


#: The transport-specific part of :class:`ConnectionInfo`.
ConnectionData: TypeAlias = FileConnection | NbdConnection


@dataclasses.dataclass(frozen=True)
class ConnectionInfo:
    """How the connector's host reaches the volume, as ``initialize_connection`` exported it.

    ``driver_volume_type`` names the transport and says which record ``data``
    is (:data:`PROTOCOL_FILE`: :class:`FileConnection`, :data:`PROTOCOL_NBD`:
    :class:`NbdConnection`). ``extra`` carries transport keys these records do
    not name (a driver outside this tree).
    """

    driver_volume_type: str
    volume_id: str
    data: ConnectionData
    read_only: bool = False
    extra: Mapping[str, str] = dataclasses.field(default_factory=lambda: _EMPTY)


@dataclasses.dataclass(frozen=True)
class BackendStats:
    """A backend's capacity and capabilities, for a scheduler choosing where a volume goes.

    ``total_gib``/``free_gib`` are None when the backend cannot tell
    (Cinder's ``unknown``) and ``float("inf")`` when it has no limit.
    ``provisioned_gib`` is the sum of the sizes of the volumes it holds (what
    thin provisioning promised), ``allocated_gib`` what they really occupy.
    A scheduler lets a thin backend take volumes while ``provisioned_gib``
    stays under ``total_gib * max_over_subscription_ratio`` and keeps
    ``reserved_percentage`` of ``total_gib`` free.

    ``capabilities`` are matched against a volume type's extra specs
    (``{"thin_provisioning_support": True, "multiattach": False}``);
    ``volume_backend_name`` against its ``volume_backend_name`` spec.
    """

    volume_backend_name: str
    vendor_name: str
    driver_version: str
    storage_protocols: tuple[str, ...]
    total_gib: float | None
    free_gib: float | None
    provisioned_gib: float = 0.0
    allocated_gib: float | None = None
    thin_provisioning: bool = False
    thick_provisioning: bool = True
    max_over_subscription_ratio: float = 1.0
    reserved_percentage: int = 0
    volume_count: int = 0
    capabilities: Mapping[str, CapabilityValue] = dataclasses.field(default_factory=lambda: _NO_CAPABILITIES)
