"""The compute area as a ``service`` plugin: what the hub builds as ``hub.compute`` and what a node starts."""

from __future__ import annotations

from typing import Any

from cumulo.interfaces.service import AreaService, Hub, Stoppable


class ComputeArea(AreaService):
    interface_version = "1.0"
    area = "compute"
    requires = ("identity", "scheduler")
    after = ("image", "network", "volume")

    def build(self, hub: Hub) -> Any:
        from cumulo.services.compute import Service

        return Service(hub)

    def start(self, hub: Hub) -> list[Stoppable]:
        from cumulo.services.compute import start

        return start(hub)
