"""The errors a hypervisor driver raises (:mod:`cumulo.interfaces.hypervisor`)."""

from __future__ import annotations

from typing import ClassVar

from cumulo.interfaces.base import DriverError

__all__ = ["HypervisorError", "ImageVerificationError", "InstanceNotFound"]


class HypervisorError(DriverError):
    """The hypervisor failed an operation; the message is shown in the server's fault."""

    error_code: ClassVar[str] = "hypervisor.error"


class InstanceNotFound(HypervisorError):
    """The hypervisor does not know the instance."""

    error_code: ClassVar[str] = "hypervisor.instance_not_found"


class ImageVerificationError(HypervisorError):
    """The image's bytes do not match the size or checksum the image service recorded."""

    error_code: ClassVar[str] = "hypervisor.image_invalid"
