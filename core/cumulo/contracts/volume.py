"""The volume area's contract: what other areas (compute) call on ``hub.volume``, and what they get back.

Compute attaches volumes to servers and boots servers from volumes through
:class:`VolumeContract` (the volume service, ``cumulo_service_volume``,
implements it; neither imports the other). The flow of an attach::

    reserve(ctx, volume_id, server_id)            volume: available -> attaching
    attach(ctx, attachment_id, connector, device) -> ConnectionInfo; volume: in-use
    ... the hypervisor opens the volume with the ConnectionInfo ...
    detach(ctx, attachment_id)                    volume: in-use -> available (when the last goes)

``unreserve`` gives a reservation back when the attach failed before
``attach``. Since 1.1 the compute API's legacy volume proxies (``/os-volumes``,
``/os-snapshots``, Nova's volumes extension) list, create and delete volumes and
snapshots through :meth:`VolumeContract.list_volumes`, :meth:`VolumeContract.create_volume`
and the ``*_volume_snapshot(s)`` methods. Each call takes the caller's context (a volume the caller may not
see is :class:`NoSuchVolume`); an operation the volume's status does not
allow is :class:`VolumeNotAvailable` (409).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from cumulo import exception
from cumulo.context import RequestContext
from cumulo.interfaces.volume.records import ConnectionInfo, Connector

#: Version of this contract ("MAJOR.MINOR"): a new method, field or error is a minor change,
#: a removed or renamed one a major change.
CONTRACT_VERSION = "1.1"

#: Every status a volume can have; the transitional ones never outlive the process that set them
#: (the volume area's start sweep moves them to ``error`` or back to where they came from).
VOLUME_STATUSES: tuple[str, ...] = ("creating", "available", "reserved", "attaching", "in-use", "detaching",
                                    "extending", "deleting", "error", "error_deleting", "error_extending",
                                    "downloading", "uploading", "backing-up", "restoring-backup",
                                    "error_restoring", "maintenance")
#: The statuses a client waits through (nothing stays in them after a restart).
TRANSITIONAL_STATUSES: tuple[str, ...] = ("creating", "reserved", "attaching", "detaching", "extending",
                                          "deleting", "downloading", "uploading", "backing-up", "restoring-backup",
                                          "maintenance")
#: Every status a snapshot can have.
SNAPSHOT_STATUSES: tuple[str, ...] = ("creating", "available", "deleting", "error", "error_deleting")
#: An attachment's lifecycle.
ATTACH_STATUSES: tuple[str, ...] = ("reserved", "attaching", "attached", "detaching")

__all__ = ["ATTACH_STATUSES", "CONTRACT_VERSION", "SNAPSHOT_STATUSES", "TRANSITIONAL_STATUSES",
           "VOLUME_STATUSES", "AttachmentRecord", "NewVolume", "NoSuchVolume", "SnapshotRecord", "VolumeContract",
           "VolumeNotAvailable", "VolumeRecord"]


@dataclasses.dataclass(frozen=True)
class AttachmentRecord:
    """A volume reserved for or attached to server ``server_id`` (``attach_status``: :data:`ATTACH_STATUSES`)."""

    id: str
    volume_id: str
    server_id: str
    attach_status: str
    host: str | None = None
    mountpoint: str | None = None
    read_only: bool = False


@dataclasses.dataclass(frozen=True)
class VolumeRecord:
    """A volume as another area sees it. ``size_gib`` in GiB; ``status``: :data:`VOLUME_STATUSES`."""

    id: str
    name: str
    size_gib: int
    status: str
    project_id: str
    availability_zone: str
    bootable: bool
    multiattach: bool
    volume_type: str | None = None
    image_id: str | None = None  # the image a bootable volume was made from
    attachments: tuple[AttachmentRecord, ...] = ()
    # since 1.1
    description: str | None = None
    created_at: str | None = None  # ISO 8601, UTC
    snapshot_id: str | None = None  # the snapshot it was made from
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class NewVolume:
    """What :meth:`VolumeContract.create_volume` makes (1.1): an empty volume, or one from ``snapshot_id``."""

    size_gib: int | None
    name: str = ""
    description: str | None = None
    volume_type: str | None = None
    availability_zone: str | None = None
    snapshot_id: str | None = None
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class SnapshotRecord:
    """A volume snapshot as another area sees it (1.1). ``status``: :data:`SNAPSHOT_STATUSES`."""

    id: str
    volume_id: str
    name: str
    size_gib: int
    status: str
    project_id: str
    description: str | None = None
    created_at: str | None = None  # ISO 8601, UTC
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)


class NoSuchVolume(exception.NotFound):
    """No such volume or attachment, or the caller may not see it (404)."""

    msg_fmt = "%(resource)s %(id)s could not be found."


class VolumeNotAvailable(exception.Conflict):
    """The volume's status (or an existing attachment) does not allow the operation (409); nothing changed."""


class VolumeContract(Protocol):
    """What ``hub.volume`` offers other areas (the volume service implements it)."""

    def get_volume(self, ctx: RequestContext, volume_id: str) -> VolumeRecord:
        """The volume.

        :raises NoSuchVolume: no such volume, or ``ctx`` may not see it.
        """

    def reserve(self, ctx: RequestContext, volume_id: str, server_id: str) -> AttachmentRecord:
        """Reserve the volume for ``server_id`` (``attaching``); idempotent for the same server.

        :raises NoSuchVolume: no such volume, or ``ctx`` may not see it.
        :raises VolumeNotAvailable: not ``available`` (or ``in-use`` and ``multiattach``).
        """

    def unreserve(self, ctx: RequestContext, attachment_id: str) -> None:
        """Give back a reservation that was never attached; the volume returns to where it was.

        :raises NoSuchVolume: no such attachment.
        """

    def attach(self, ctx: RequestContext, attachment_id: str, connector: Connector,
               mountpoint: str | None = None) -> ConnectionInfo:
        """Export the reserved volume to ``connector``'s host; the volume is ``in-use``.

        The :class:`ConnectionInfo` holds the export's secrets: hand it to the hypervisor only.

        :raises NoSuchVolume: no such attachment.
        :raises VolumeNotAvailable: the attachment is not reserved (or already attached elsewhere).
        :raises cumulo.exception.ServiceUnavailable: the volume driver failed to export (the
            reservation stays; call :meth:`unreserve`).
        """

    def detach(self, ctx: RequestContext, attachment_id: str) -> None:
        """Stop the export and drop the attachment; the volume is ``available`` when none is left.

        No error for an attachment already gone.

        :raises cumulo.exception.ServiceUnavailable: the volume driver failed to stop the export
            (the attachment stays attached).
        """

    def create_from_image(self, ctx: RequestContext, image_id: str, size_gib: int, name: str = "",
                          volume_type: str | None = None,
                          availability_zone: str | None = None) -> VolumeRecord:
        """A new bootable volume of ``size_gib`` GiB holding the image (boot from volume); ``available``.

        :raises cumulo.exception.NotFound: no such image, or ``ctx`` may not see it.
        :raises cumulo.exception.Invalid: the image has no data, does not fit ``size_gib``, or is not
            a disk format the driver writes; an unknown volume type or zone.
        :raises cumulo.exception.QuotaExceeded: the project's volume quotas are used up.
        """

    def delete_volume(self, ctx: RequestContext, volume_id: str) -> None:
        """Delete a volume that is not attached (``delete_on_termination``). No error if already gone.

        :raises VolumeNotAvailable: it is attached, or has snapshots.
        """

    # -- since 1.1: the compute API's legacy proxies (/os-volumes, /os-snapshots)
    def list_volumes(self, ctx: RequestContext) -> list[VolumeRecord]:
        """The volumes of ``ctx``'s project, newest first."""

    def create_volume(self, ctx: RequestContext, spec: NewVolume) -> VolumeRecord:
        """A new volume as ``spec`` says (``available``, or ``error`` when the backend failed).

        :raises cumulo.exception.Invalid: a bad size, name or metadata (400); an unknown zone.
        :raises cumulo.exception.NotFound: an unknown volume type or snapshot.
        :raises cumulo.exception.QuotaExceeded: the project's volume quotas are used up.
        """

    def list_volume_snapshots(self, ctx: RequestContext) -> list[SnapshotRecord]:
        """The snapshots of ``ctx``'s project, newest first."""

    def get_volume_snapshot(self, ctx: RequestContext, snapshot_id: str) -> SnapshotRecord:
        """The snapshot.

        :raises cumulo.exception.NotFound: no such snapshot, or ``ctx`` may not see it.
        """

    def create_volume_snapshot(self, ctx: RequestContext, volume_id: str, name: str = "",
                               description: str | None = None, force: bool = False) -> SnapshotRecord:
        """A snapshot of the volume (an ``in-use`` one only with ``force``).

        :raises NoSuchVolume: no such volume, or ``ctx`` may not see it.
        :raises cumulo.exception.Invalid: the volume's status does not allow it (400).
        :raises cumulo.exception.QuotaExceeded: the project's snapshot quotas are used up.
        """

    def delete_volume_snapshot(self, ctx: RequestContext, snapshot_id: str) -> None:
        """Delete the snapshot.

        :raises cumulo.exception.NotFound: no such snapshot, or ``ctx`` may not see it.
        :raises VolumeNotAvailable: its status does not allow it.
        """
