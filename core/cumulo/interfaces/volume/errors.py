"""The errors a volume driver raises (:mod:`cumulo.interfaces.volume`).

The volume area turns each into the state and fault a client sees: a
:class:`VolumeNotFound` or :class:`SnapshotNotFound` for data the backend has
lost, :class:`VolumeBusy` and :class:`InvalidSize`/:class:`InvalidImage` into
a 4xx refusal that changes nothing, any other :class:`VolumeDriverError` into
the resource's ``error`` state with the message logged.
"""

from __future__ import annotations

from typing import ClassVar

from cumulo.interfaces.base import DriverError

__all__ = ["BackendFull", "InvalidImage", "InvalidSize", "SnapshotNotFound", "VolumeBusy", "VolumeDriverError",
           "VolumeNotFound"]


class VolumeDriverError(DriverError):
    """The backend failed an operation; the message is logged with the volume or snapshot."""

    error_code: ClassVar[str] = "volume.error"


class VolumeNotFound(VolumeDriverError):
    """The backend has no data for the volume (or for the source volume of a clone)."""

    error_code: ClassVar[str] = "volume.not_found"


class SnapshotNotFound(VolumeDriverError):
    """The backend has no data for the snapshot."""

    error_code: ClassVar[str] = "volume.snapshot_not_found"


class VolumeBusy(VolumeDriverError):
    """Refused, nothing changed: something depends on the volume or snapshot.

    It has snapshots, clones made from it or its snapshots still use its data,
    or it is exported to a host (attached) and the operation needs it detached.
    The message says which.
    """

    error_code: ClassVar[str] = "volume.busy"


class InvalidSize(VolumeDriverError):
    """Refused, nothing changed: a size the operation cannot take.

    Not a positive number of GiB, smaller than the volume (extend never
    shrinks) or than the snapshot or source it is made from, or too small for
    the image written into it.
    """

    error_code: ClassVar[str] = "volume.invalid_size"


class InvalidImage(VolumeDriverError):
    """Refused, nothing changed: image data the driver will not write or a disk format it cannot make.

    The bytes are not of the declared format, the format is not one the
    driver converts, or a ``qcow2`` image names a backing file (which would
    let an image read files of the host).
    """

    error_code: ClassVar[str] = "volume.invalid_image"


class BackendFull(VolumeDriverError):
    """The backend has no room for the volume; another backend may have."""

    error_code: ClassVar[str] = "volume.backend_full"
