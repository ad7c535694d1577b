"""The image area's contract: the values and errors shared by ``hub.image`` and its frontends.

The image service (``cumulo_service_image``) validates against these values
and raises these errors; the Image API frontend publishes the values in its
JSON schemas and raises :class:`ClientDisconnected` for an upload the client
cut short. Neither imports the other.
"""

from __future__ import annotations

from cumulo import exception

#: Version of this contract ("MAJOR.MINOR"): a new value or error is a minor
#: change, a removed or renamed one a major change.
CONTRACT_VERSION = "1.0"

#: Every status an image can have (its lifecycle, in the order the API lists them).
STATUSES: tuple[str, ...] = ("queued", "saving", "active", "killed", "deactivated", "deleted", "uploading",
                             "importing")
#: Who may see an image.
VISIBILITIES: tuple[str, ...] = ("public", "private", "shared", "community")
#: The disk formats an image may declare.
DISK_FORMATS: tuple[str, ...] = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
#: The container formats an image may declare.
CONTAINER_FORMATS: tuple[str, ...] = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
#: The status of a project's membership of a shared image.
MEMBER_STATUSES: tuple[str, ...] = ("pending", "accepted", "rejected")

__all__ = ["CONTAINER_FORMATS", "CONTRACT_VERSION", "DISK_FORMATS", "MEMBER_STATUSES", "STATUSES", "VISIBILITIES",
           "ClientDisconnected", "ImageQuotaExceeded"]


class ImageQuotaExceeded(exception.QuotaExceeded):
    """An image quota or size cap is exceeded; Glance answers such overruns with 413."""

    code = 413
    title = "Request Entity Too Large"


class ClientDisconnected(Exception):
    """The client stopped sending before the data was complete (the upload is abandoned, the image queued)."""
