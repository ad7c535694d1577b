"""Volume drivers (``cumulo.volume``), interface 2.1: block storage backends.

This package is all a driver author needs: :class:`VolumeDriver`, the
records it is handed and returns (:mod:`.records`: :class:`Volume`,
:class:`Snapshot`, :class:`Connector`, :class:`ConnectionInfo` with its
:class:`FileConnection`/:class:`NbdConnection` data, :class:`BackendStats`)
and its errors (:mod:`.errors`).

What. The volume area owns volumes, snapshots, types and attachments in its
database; a driver holds their data on one backend (a directory of qcow2
files, a volume group, a Ceph pool) and exports a volume to the host that
attaches it. The area checks the request (sizes, states, quotas, who may do
what) and calls the driver with records; the driver still refuses what would
lose data (:class:`VolumeBusy`) or cannot be done (:class:`InvalidSize`,
:class:`InvalidImage`), changing nothing.

Dependencies. A snapshot is a point-in-time copy of its volume; a volume made
from a snapshot or cloned from a volume may share data with its source (a
copy-on-write child) unless the call asks to ``flatten`` it. While anything
depends on them, ``delete_volume`` and ``delete_snapshot`` raise
:class:`VolumeBusy` (Cinder's RBD semantics): a volume with snapshots, or a
snapshot or volume whose data a child still uses. The area deletes children
first (or flattens them).

Exports. ``initialize_connection`` returns what the connector's host needs
to open the volume, secrets included (an NBD export's TLS pre-shared key):
the area keeps the :class:`ConnectionInfo` with the attachment and hands it
to the hypervisor driver only. An exported volume may refuse operations
that need its data at rest (snapshot, clone, extend, image copies) with
:class:`VolumeBusy`; the message says so.

Images. ``copy_image_to_volume`` takes the image's bytes as an iterator of
chunks and ``copy_volume_to_image`` returns one, so the area streams through
the Image service contract and a driver never imports it.

Idempotence. Every method may be called again with the same arguments after a
crash or a retried message: a ``create_*`` for an id the backend already holds
returns as the first call did, ``delete_*`` of something the backend does not
hold is not an error, ``initialize_connection`` again for the same connector
returns the same export, ``terminate_connection`` for a host that has none
does nothing, and ``extend_volume`` to the current size does nothing.

Capabilities. ``create_volume``, ``delete_volume``, the connection methods
and ``get_stats`` are required; the others are optional, default to raising
:class:`cumulo.exception.NotImplementedByDriver`, and a driver's
``capabilities`` are derived from what its class overrides
(:data:`CAPABILITY_METHODS`): the area refuses the others with 409 before
calling, and reports them in :attr:`BackendStats.capabilities` for the
scheduler.

Threads. The area calls the driver from worker threads: calls for different
volumes may run at the same time, calls that change the same volume (or its
snapshots) never do. A driver guards what it shares.

Construction. ``cls(ctx)`` with a :class:`~cumulo.interfaces.base.PluginContext`
(``ctx.host`` is the volume host the instance serves, ``ctx.conf`` the
configuration with the driver's options registered); options through
:meth:`~cumulo.interfaces.base.Plugin.list_opts`, checked by
:meth:`~cumulo.interfaces.base.Plugin.validate_config`.

Version history: 1.0 took and returned plain dicts (five methods, no
snapshots); 2.0 is built as ``cls(ctx)``, takes and returns records,
and adds extend, snapshots, clones, image copies, capabilities and stats;
2.1 (this) adds the optional ``manage`` capability (``manage_existing``,
``get_manageable_volumes``, ``unmanage``: taking over data already on the
backend and letting go of a volume's data without deleting it).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping
from typing import ClassVar

from cumulo import exception
from cumulo.interfaces.base import Plugin, PluginContext
from cumulo.interfaces.volume.errors import (
    BackendFull,
    InvalidImage,
    InvalidSize,
    SnapshotNotFound,
    VolumeBusy,
    VolumeDriverError,
    VolumeNotFound,
)
from cumulo.interfaces.volume.records import (
    GIB,
    PROTOCOL_FILE,
    PROTOCOL_NBD,
    BackendStats,
    CapabilityValue,
    ConnectionData,
    ConnectionInfo,
    Connector,
    DiskFormat,
    FileConnection,
    ManageableVolume,
    ManagedVolume,
    NbdConnection,
    Provisioned,
    Snapshot,
    TlsPsk,
    Volume,
)

__all__ = [
    "CAPABILITIES", "CAPABILITY_METHODS", "GIB", "PROTOCOL_FILE", "PROTOCOL_NBD", "BackendFull", "BackendStats",
    "CapabilityValue", "ConnectionData", "ConnectionInfo", "Connector", "DiskFormat", "FileConnection",
    "InvalidImage", "InvalidSize", "ManageableVolume", "ManagedVolume", "NbdConnection", "Provisioned", "Snapshot", "SnapshotNotFound", "TlsPsk",
    "Volume", "VolumeBusy", "VolumeDriver", "VolumeDriverError", "VolumeNotFound", "supported_capabilities",
]

#: Each optional capability and the methods a driver overrides to have it.
CAPABILITY_METHODS: Mapping[str, tuple[str, ...]] = {
    "extend": ("extend_volume",),
    "snapshot": ("create_snapshot", "delete_snapshot", "create_volume_from_snapshot"),
    "clone": ("clone_volume",),
    "image": ("copy_image_to_volume", "copy_volume_to_image"),
    "manage": ("manage_existing", "get_manageable_volumes", "unmanage"),  # 2.1
}

#: Every optional capability name.
CAPABILITIES: tuple[str, ...] = tuple(CAPABILITY_METHODS)


class VolumeDriver(Plugin):
    """Holds volumes' data on one backend and exports them to hosts (see the module docstring)."""

    INTERFACE_VERSION = "2.1"  # 2.0: records, cls(ctx), snapshots, clones, image copies, stats; 2.1: manage
    #: Derived at class creation from the overridden methods (:data:`CAPABILITY_METHODS`);
    #: do not set it by hand.
    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: ``driver_volume_type`` values :meth:`initialize_connection` may return.
    storage_protocols: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.capabilities = supported_capabilities(cls)

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        # NoSuchOptError is an AttributeError: a bare ConfigOpts (unit tests) has no [DEFAULT] host
        self.host: str = ctx.host or getattr(ctx.conf, "host", "") or ""

    # -- required --------------------------------------------------------------------------------
    @abc.abstractmethod
    def create_volume(self, volume: Volume) -> Provisioned:
        """Make an empty volume of ``volume.size_gib`` GiB (reads as zeros).

        :raises InvalidSize: the size is not a positive number of GiB.
        :raises BackendFull: the backend has no room.
        :raises VolumeDriverError: the backend failed; nothing is left behind.
        """

    @abc.abstractmethod
    def delete_volume(self, volume: Volume) -> None:
        """Free the volume's data. No error if it is already gone.

        :raises VolumeBusy: it has snapshots, a clone still uses its data, or it is exported.
        :raises VolumeDriverError: the backend failed.
        """

    @abc.abstractmethod
    def initialize_connection(self, volume: Volume, connector: Connector) -> ConnectionInfo:
        """Export the volume to ``connector``'s host; return how that host reaches it.

        The driver picks the first of ``connector.protocols`` it can serve to
        that host (any of its :attr:`storage_protocols` when empty). Called
        again for the same host, it returns the same export (restarting it if
        it was lost).

        :raises VolumeNotFound: the backend has no data for the volume.
        :raises VolumeBusy: it is exported to another host and not ``multiattach``.
        :raises VolumeDriverError: no protocol both sides speak, or the export failed.
        """

    @abc.abstractmethod
    def terminate_connection(self, volume: Volume, connector: Connector) -> None:
        """Stop exporting the volume to ``connector``'s host. No error if it was not exported there.

        :raises VolumeDriverError: the export could not be stopped.
        """

    @abc.abstractmethod
    def get_stats(self) -> BackendStats:
        """The backend's capacity and capabilities now (called periodically; must be cheap).

        :raises VolumeDriverError: the backend cannot be reached.
        """

    # -- optional operations (capabilities follow from the overrides) ---------------------------
    def _unsupported(self, capability: str) -> exception.NotImplementedByDriver:
        return exception.NotImplementedByDriver(driver=type(self).__name__, capability=capability)

    def extend_volume(self, volume: Volume, new_size_gib: int) -> None:
        """Grow the volume to ``new_size_gib`` GiB, keeping its data; the new part reads as zeros.

        ``volume.size_gib`` is its size now. The same size does nothing.

        :raises VolumeNotFound: the backend has no data for the volume.
        :raises InvalidSize: ``new_size_gib`` is smaller than the volume.
        :raises VolumeBusy: it is exported and the driver cannot grow it while in use.
        :raises BackendFull: the backend has no room.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot extend.
        """
        raise self._unsupported("extend")

    def create_snapshot(self, snapshot: Snapshot, volume: Volume) -> Provisioned:
        """Record ``volume``'s data as it is now as ``snapshot``; the volume stays writable.

        Later writes to the volume never change the snapshot.

        :raises VolumeNotFound: the backend has no data for the volume.
        :raises VolumeBusy: it is exported and the driver cannot snapshot it while in use.
        :raises cumulo.exception.NotImplementedByDriver: the driver has no snapshots.
        """
        raise self._unsupported("snapshot")

    def delete_snapshot(self, snapshot: Snapshot) -> None:
        """Free the snapshot; its volume's data is unchanged. No error if it is already gone.

        :raises VolumeBusy: a volume made from it still uses its data (not flattened).
        :raises cumulo.exception.NotImplementedByDriver: the driver has no snapshots.
        """
        raise self._unsupported("snapshot")

    def create_volume_from_snapshot(self, volume: Volume, snapshot: Snapshot, flatten: bool = False) -> Provisioned:
        """Make ``volume`` with the snapshot's data (then ``volume.size_gib``; the rest reads as zeros).

        By default a copy-on-write child where the backend has them (the
        snapshot cannot be deleted while the child lives); ``flatten`` asks
        for an independent copy.

        :raises SnapshotNotFound: the backend has no data for the snapshot.
        :raises InvalidSize: ``volume.size_gib`` is smaller than ``snapshot.volume_size_gib``.
        :raises BackendFull: the backend has no room.
        :raises cumulo.exception.NotImplementedByDriver: the driver has no snapshots.
        """
        raise self._unsupported("snapshot")

    def clone_volume(self, volume: Volume, source: Volume, flatten: bool = False) -> Provisioned:
        """Make ``volume`` with ``source``'s data as it is now (then ``volume.size_gib``).

        As :meth:`create_volume_from_snapshot` of a snapshot the driver takes
        itself: unless ``flatten``, ``source`` cannot be deleted while the
        clone uses its data.

        :raises VolumeNotFound: the backend has no data for ``source``.
        :raises InvalidSize: ``volume.size_gib`` is smaller than ``source.size_gib``.
        :raises VolumeBusy: ``source`` is exported and the driver cannot copy it while in use.
        :raises BackendFull: the backend has no room.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot clone.
        """
        raise self._unsupported("clone")

    def copy_image_to_volume(self, volume: Volume, chunks: Iterable[bytes], disk_format: DiskFormat) -> None:
        """Replace the volume's data with the image in ``chunks`` (its bytes in ``disk_format``).

        The image's virtual size must fit the volume; the rest reads as zeros.
        Exceptions raised by the ``chunks`` iterator itself propagate unchanged
        and leave the volume as it was.

        :raises VolumeNotFound: the backend has no data for the volume.
        :raises InvalidImage: the bytes are not ``disk_format``, the format is not supported,
            or a ``qcow2`` image names a backing file.
        :raises InvalidSize: the image's virtual size is larger than the volume.
        :raises VolumeBusy: the volume is exported.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot copy images.
        """
        raise self._unsupported("image")

    def copy_volume_to_image(self, volume: Volume, disk_format: DiskFormat) -> Iterator[bytes]:
        """The volume's data as an image in ``disk_format``, streamed in chunks.

        Raises *when called* (not on first iteration). The iterator has a
        ``close()`` that releases what it holds when the consumer stops early.

        :raises VolumeNotFound: the backend has no data for the volume.
        :raises InvalidImage: the driver cannot write ``disk_format``.
        :raises VolumeBusy: the volume is exported and the driver cannot read it while in use.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot copy images.
        """
        raise self._unsupported("image")

    def manage_existing(self, volume: Volume, reference: Mapping[str, str]) -> ManagedVolume:
        """Take the backend's data named by ``reference`` (``{"source-name": ...}``) as ``volume`` (2.1).

        ``volume.size_gib`` is 0: the driver reports the size (whole GiB, rounded up). The data
        is not copied; afterwards the driver finds it under ``volume.id`` as any of its volumes.

        :raises VolumeNotFound: no data matches ``reference`` (the area answers 400, as Cinder).
        :raises VolumeBusy: the data is one of this backend's volumes, snapshots or in use.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot manage data.
        """
        raise self._unsupported("manage")

    def get_manageable_volumes(self) -> list[ManageableVolume]:
        """The data on the backend that ``manage_existing`` could take, safe or not (2.1).

        :raises cumulo.exception.NotImplementedByDriver: the driver cannot manage data.
        """
        raise self._unsupported("manage")

    def unmanage(self, volume: Volume) -> None:
        """Let go of ``volume`` without deleting its data (2.1); ``manage_existing`` can take it back
        (the reference names it as :meth:`get_manageable_volumes` lists it).

        :raises VolumeBusy: the volume is exported or has snapshots.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot manage data.
        """
        raise self._unsupported("manage")


def supported_capabilities(cls: type) -> frozenset[str]:
    """The optional capabilities ``cls`` has: those whose every method it overrides.

    A duck-typed driver (not a subclass) has the capabilities whose methods it defines.
    """
    return frozenset(capability for capability, methods in CAPABILITY_METHODS.items()
                     if all(_overrides(cls, m) for m in methods))


def _overrides(cls: type, method: str) -> bool:
    impl = getattr(cls, method, None)
    if impl is None:
        return False
    return impl is not VolumeDriver.__dict__.get(method)
