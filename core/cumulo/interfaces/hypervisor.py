"""Hypervisor drivers (``cumulo.hypervisor``): run instances on one compute host.

One driver instance serves one compute host (``host``). The compute manager
calls it from worker threads; calls for *different* instances may run at the
same time, calls for the same instance never do. Every method that changes an
instance is idempotent where the text says so, so a retried message is safe.

Capabilities: a driver declares what it can do in ``capabilities``; the compute
service refuses the rest with 409 before calling. Optional operations have a
default that raises :class:`cumulo.exception.NotImplementedByDriver`.
"""

from __future__ import annotations

import abc
import enum
from typing import Any, ClassVar

from cumulo import exception
from cumulo.interfaces.base import Plugin


class PowerState(enum.IntEnum):
    """As Nova reports ``OS-EXT-STS:power_state``."""

    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7


CAPABILITIES = (
    "pause", "suspend", "rescue", "resize", "snapshot", "rebuild", "console_output",
    "remote_console", "attach_volume", "attach_interface", "set_admin_password", "soft_reboot",
)


class HypervisorDriver(Plugin):
    """The contract between the compute manager and a hypervisor.

    ``instance`` arguments are plain dicts with at least ``uuid``, ``name``,
    ``vcpus``, ``memory_mb``, ``root_gb``, ``ephemeral_gb``, ``image_ref``,
    ``user_data`` and ``metadata``. ``network_info`` is a list of port dicts
    (``id``, ``mac_address``, ``fixed_ips``, ``network_id``).
    Errors: raise :class:`InstanceNotFound` for an unknown instance,
    :class:`HypervisorError` for any failure (the message ends up in the
    server's fault).
    """

    INTERFACE_VERSION = "1.0"
    #: Operations this driver supports, a subset of :data:`CAPABILITIES`.
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, host: str, **kwargs: Any) -> None:
        self.host = host

    @classmethod
    def host_names(cls) -> list[str]:
        """The compute hosts an all-in-one process runs with this driver.

        Default: one host, ``[DEFAULT] host``. A driver that can present many
        hosts from one process (the fake one) returns their names; the compute
        service builds one driver instance per name (``cls(host=name)``).
        """
        from cumulo.conf import CONF

        return [CONF.host]

    # -- host ------------------------------------------------------------
    @abc.abstractmethod
    def get_host_resources(self) -> dict[str, Any]:
        """``vcpus``, ``memory_mb``, ``local_gb``, ``hypervisor_type``,
        ``hypervisor_version`` (int), ``hypervisor_hostname``, ``cpu_info`` (dict,
        with ``arch`` when known).

        Optional keys: ``vcpus_used``, ``memory_mb_used``, ``local_gb_used`` (as
        the hypervisor sees them), ``supported_instances`` (``[[arch,
        hypervisor_type, vm_mode], ...]``, for the image properties filter).
        """

    @abc.abstractmethod
    def list_power_states(self) -> dict[str, PowerState]:
        """uuid -> power state for every instance the hypervisor knows (for the sync task)."""

    # -- lifecycle ---------------------------------------------------------
    @abc.abstractmethod
    def spawn(self, instance: dict[str, Any], image: dict[str, Any], network_info: list[dict[str, Any]],
              admin_password: str | None = None, block_device_info: dict[str, Any] | None = None) -> None:
        """Create and start the instance. On failure, leave nothing behind."""

    @abc.abstractmethod
    def destroy(self, instance: dict[str, Any], network_info: list[dict[str, Any]]) -> None:
        """Stop and remove the instance and its local disks. Idempotent: no error if already gone."""

    @abc.abstractmethod
    def reboot(self, instance: dict[str, Any], hard: bool) -> None:
        """Soft (guest ACPI) or hard (power cycle) reboot; the instance ends RUNNING."""

    @abc.abstractmethod
    def power_off(self, instance: dict[str, Any], timeout: int = 0) -> None:
        """Stop the instance (graceful for ``timeout`` seconds first). Idempotent."""

    @abc.abstractmethod
    def power_on(self, instance: dict[str, Any]) -> None:
        """Start a stopped instance. Idempotent."""

    @abc.abstractmethod
    def get_power_state(self, instance: dict[str, Any]) -> PowerState:
        """The instance's power state now."""

    # -- optional operations (declare them in ``capabilities``) -----------
    def _unsupported(self, capability: str) -> exception.NotImplementedByDriver:
        return exception.NotImplementedByDriver(driver=type(self).__name__, capability=capability)

    def pause(self, instance: dict[str, Any]) -> None:
        raise self._unsupported("pause")

    def unpause(self, instance: dict[str, Any]) -> None:
        raise self._unsupported("pause")

    def suspend(self, instance: dict[str, Any]) -> None:
        raise self._unsupported("suspend")

    def resume(self, instance: dict[str, Any]) -> None:
        raise self._unsupported("suspend")

    def rescue(self, instance: dict[str, Any], image: dict[str, Any], rescue_password: str) -> None:
        raise self._unsupported("rescue")

    def unrescue(self, instance: dict[str, Any]) -> None:
        raise self._unsupported("rescue")

    def migrate_disk_and_power_off(self, instance: dict[str, Any], dest_host: str, flavor: dict[str, Any]) -> dict[str, Any]:
        """Resize step 1 on the source host; returns disk info for :meth:`finish_migration`."""
        raise self._unsupported("resize")

    def finish_migration(self, instance: dict[str, Any], disk_info: dict[str, Any], network_info: list[dict[str, Any]],
                         image: dict[str, Any], resize_instance: bool, power_on: bool = True) -> None:
        """Resize step 2 on the destination host: the instance runs with the new flavor."""
        raise self._unsupported("resize")

    def confirm_migration(self, instance: dict[str, Any], network_info: list[dict[str, Any]]) -> None:
        """Resize confirmed: drop what the source host kept for a revert."""
        raise self._unsupported("resize")

    def finish_revert_migration(self, instance: dict[str, Any], network_info: list[dict[str, Any]],
                                power_on: bool = True) -> None:
        """Resize reverted: the instance runs again on the source host with the old flavor."""
        raise self._unsupported("resize")

    def snapshot(self, instance: dict[str, Any], write_chunk: Any) -> dict[str, Any]:
        """Stream the root disk to ``write_chunk(bytes)``; return ``disk_format``/``container_format``."""
        raise self._unsupported("snapshot")

    def rebuild(self, instance: dict[str, Any], image: dict[str, Any], network_info: list[dict[str, Any]],
                admin_password: str | None = None) -> None:
        """Re-create the root disk from ``image`` keeping identity and addresses."""
        raise self._unsupported("rebuild")

    def get_console_output(self, instance: dict[str, Any]) -> str:
        raise self._unsupported("console_output")

    def get_remote_console(self, instance: dict[str, Any], console_type: str) -> dict[str, Any]:
        """``{"host", "port", "internal_access_path", "token"}`` of a VNC/SPICE/serial console."""
        raise self._unsupported("remote_console")

    def set_admin_password(self, instance: dict[str, Any], password: str) -> None:
        raise self._unsupported("set_admin_password")

    def attach_volume(self, instance: dict[str, Any], connection_info: dict[str, Any], mountpoint: str) -> None:
        raise self._unsupported("attach_volume")

    def detach_volume(self, instance: dict[str, Any], connection_info: dict[str, Any], mountpoint: str) -> None:
        raise self._unsupported("attach_volume")

    def attach_interface(self, instance: dict[str, Any], port: dict[str, Any]) -> None:
        raise self._unsupported("attach_interface")

    def detach_interface(self, instance: dict[str, Any], port: dict[str, Any]) -> None:
        raise self._unsupported("attach_interface")


class HypervisorError(Exception):
    """The hypervisor failed an operation; the message is shown in the server fault."""


class InstanceNotFound(HypervisorError):
    """The hypervisor does not know the instance."""
