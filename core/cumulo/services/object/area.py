"""The object area as a ``service`` plugin: what the hub builds as ``hub.object`` and what a node starts."""

from __future__ import annotations

from typing import Any

from cumulo.interfaces.service import AreaService, Hub, Stoppable


class ObjectArea(AreaService):
    interface_version = "1.0"
    area = "object"
    requires = ("identity",)
    after = ()

    def build(self, hub: Hub) -> Any:
        from cumulo.services.object import Service

        return Service(hub)

    def start(self, hub: Hub) -> list[Stoppable]:
        from cumulo.services.object import start

        return start(hub)
