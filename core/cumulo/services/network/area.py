"""The network area as a ``service`` plugin: what the hub builds as ``hub.network`` and what a node starts."""

from __future__ import annotations

from typing import Any

from cumulo.interfaces.service import AreaService, Hub, Stoppable


class NetworkArea(AreaService):
    interface_version = "1.0"
    area = "network"
    requires = ("identity",)
    after = ()

    def build(self, hub: Hub) -> Any:
        from cumulo.services.network import Service

        return Service(hub)

    def start(self, hub: Hub) -> list[Stoppable]:
        from cumulo.services.network import start

        return start(hub)
