"""The scheduler area as a ``service`` plugin: what the hub builds as ``hub.scheduler`` and what a node starts."""

from __future__ import annotations

from typing import Any

from cumulo.interfaces.service import AreaService, Hub, Stoppable


class SchedulerArea(AreaService):
    interface_version = "1.0"
    area = "scheduler"
    requires = ()
    after = ("identity", "image", "network", "volume")

    def build(self, hub: Hub) -> Any:
        from cumulo.services.scheduler import Service

        return Service(hub)

    def start(self, hub: Hub) -> list[Stoppable]:
        from cumulo.services.scheduler import start

        return start(hub)
