"""Conformance suite for volume drivers (``cumulo.volume``).

Subclass and provide ``driver`` (an instance ready to use)."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from cumulo.interfaces.volume import VolumeDriver
from cumulo.testing.conformance import RegistryConformance

CONNECTOR = {"host": "compute-1", "initiator": "iqn.2026-11.org.cumulo:compute-1", "ip": "127.0.0.1"}


def _volume(size: int = 1) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "size": size, "name": "conformance"}


class VolumeDriverConformance(RegistryConformance):
    kind: ClassVar[str] = "volume"

    def test_is_a_volume_driver(self, driver: VolumeDriver) -> None:
        assert isinstance(driver, VolumeDriver)

    def test_capacity_report(self, driver: VolumeDriver) -> None:
        cap = driver.get_capacity()
        assert cap["total_capacity_gb"] >= cap["free_capacity_gb"] >= 0

    def test_create_export_and_delete(self, driver: VolumeDriver) -> None:
        vol = _volume()
        fields = driver.create_volume(vol)
        assert isinstance(fields, dict)
        vol.update(fields)
        info = driver.initialize_connection(vol, CONNECTOR)
        assert info.get("driver_volume_type") and isinstance(info.get("data"), dict)
        driver.terminate_connection(vol, CONNECTOR)
        driver.delete_volume(vol)

    def test_delete_is_idempotent(self, driver: VolumeDriver) -> None:
        vol = _volume()
        vol.update(driver.create_volume(vol))
        driver.delete_volume(vol)
        driver.delete_volume(vol)  # already gone: no error
