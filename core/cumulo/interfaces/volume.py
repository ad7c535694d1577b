"""Volume drivers (``cumulo.volume``): block storage backends."""

from __future__ import annotations

import abc
from typing import Any

from cumulo.interfaces.base import Plugin


class VolumeDriver(Plugin):
    """Creates and exports volumes. Each method is idempotent by volume id."""

    INTERFACE_VERSION = "1.0"

    @abc.abstractmethod
    def create_volume(self, volume: dict[str, Any]) -> dict[str, Any]:
        """Allocate ``volume['size']`` GiB; return provider fields to store on the volume."""

    @abc.abstractmethod
    def delete_volume(self, volume: dict[str, Any]) -> None:
        """Free the volume. No error if it is already gone."""

    @abc.abstractmethod
    def initialize_connection(self, volume: dict[str, Any], connector: dict[str, Any]) -> dict[str, Any]:
        """Export to the host described by ``connector``; return connection info for the hypervisor."""

    @abc.abstractmethod
    def terminate_connection(self, volume: dict[str, Any], connector: dict[str, Any]) -> None:
        """Stop exporting to that host."""

    @abc.abstractmethod
    def get_capacity(self) -> dict[str, Any]:
        """``total_capacity_gb``, ``free_capacity_gb``."""
