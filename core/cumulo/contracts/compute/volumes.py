"""The compute contract's volume parts: the block-device mapping a server is created with, and the
volumes attached to a server (contract 1.3).

A server's block-device mapping is Nova's ``block_device_mapping_v2``, one
:class:`BlockDeviceRequest` per entry (a typed record: the frontend parses the API body, the
service validates it). The service keeps one row per volume of a server (its mapping) and answers
:data:`~cumulo.contracts.compute.views.VolumeAttachmentView`. The volumes themselves are the volume
area's (``hub.volume``, :mod:`cumulo.contracts.volume`); compute reserves, attaches and detaches them
through that contract.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

from cumulo.context import RequestContext
from cumulo.contracts.compute.views import VolumeAttachmentView

__all__ = ["BDM_DESTINATION_TYPES", "BDM_SOURCE_TYPES", "BlockDeviceRequest", "ServerVolumeService"]

#: Where a block device's data comes from (Nova's ``source_type``).
BDM_SOURCE_TYPES: tuple[str, ...] = ("image", "volume", "snapshot", "blank")
#: What the device is: a disk the hypervisor makes (``local``) or a volume of the volume area.
BDM_DESTINATION_TYPES: tuple[str, ...] = ("local", "volume")


@dataclasses.dataclass(frozen=True)
class BlockDeviceRequest:
    """One entry of a new server's block-device mapping (Nova's ``block_device_mapping_v2`` item).

    ``uuid`` names the source (an image for ``image``, a volume for ``volume``); ``volume_size`` in
    GiB is the size of a volume made from an image. ``boot_index`` 0 is the boot device, None or
    negative not bootable. ``image`` -> ``local`` at boot index 0 is the ordinary image boot;
    ``image`` -> ``volume`` makes a new volume from the image (boot from volume);
    ``volume`` -> ``volume`` attaches an existing one.
    """

    source_type: str
    destination_type: str = "local"
    uuid: str | None = None
    boot_index: int | None = None
    volume_size: int | None = None
    device_name: str | None = None
    delete_on_termination: bool = False
    tag: str | None = None
    disk_bus: str | None = None
    device_type: str | None = None
    guest_format: str | None = None
    volume_type: str | None = None

    @property
    def is_volume(self) -> bool:
        """Whether the device is a volume of the volume area."""
        return self.destination_type == "volume"

    @property
    def is_root(self) -> bool:
        """Whether it is the boot device."""
        return self.boot_index == 0


@runtime_checkable
class ServerVolumeService(Protocol):
    """The volumes attached to a server (Nova's ``os-volume_attachments``; contract 1.3).

    Attaching and detaching need the volume service, a server in ACTIVE, SHUTOFF, PAUSED or
    RESIZED with no task under way (else Conflict: wrong state), not locked, and a host whose
    hypervisor attaches volumes (capability ``attach_volume``, else Conflict). Both answer once
    the volume is reserved (attach) or the detach is under way: the server's host finishes them
    (the volume goes ``attaching`` -> ``in-use``, ``in-use`` -> ``available``).
    """

    def list_volume_attachments(self, ctx: RequestContext, uuid: str) -> list[VolumeAttachmentView]:
        """The server's volumes, by device name. :raises NotFound: no such server."""

    def get_volume_attachment(self, ctx: RequestContext, uuid: str, volume_id: str) -> VolumeAttachmentView:
        """One of the server's volumes. :raises NotFound: no such server, or the volume is not attached to it."""

    def attach_volume(self, ctx: RequestContext, uuid: str, volume_id: str, *, device: str | None = None,
                      tag: str | None = None, delete_on_termination: bool = False) -> VolumeAttachmentView:
        """Reserve the volume for the server and have its host attach it (as ``device``, or the next free name).

        :raises NotFound: no such server or volume.
        :raises Invalid: the volume is not available (in use, or attached to this server already), or
            ``device`` is taken.
        :raises Conflict: locked, wrong state, no volume service, a hypervisor without volumes, host down.
        """

    def update_volume_attachment(self, ctx: RequestContext, uuid: str, volume_id: str, new_volume_id: str, *,
                                 delete_on_termination: bool | None = None) -> None:
        """Change ``delete_on_termination`` of an attached volume (``new_volume_id == volume_id``).

        Swapping to another volume is not supported.

        :raises NotFound: no such server, or the volume is not attached to it.
        :raises Conflict: a swap (``new_volume_id`` differs), locked.
        """

    def detach_volume(self, ctx: RequestContext, uuid: str, volume_id: str) -> None:
        """Have the server's host detach the volume (then given back to the volume area).

        :raises NotFound: no such server, or the volume is not attached to it.
        :raises Invalid: the volume is the server's root device.
        :raises Conflict: locked, wrong state, a hypervisor without volumes, host down, the volume
            still attaching or already detaching.
        """
