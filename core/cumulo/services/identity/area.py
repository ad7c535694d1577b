"""The identity area as a ``service`` plugin: what the hub builds as ``hub.identity`` and what a node starts."""

from __future__ import annotations

from typing import Any

from cumulo.interfaces.service import AreaService, Hub, Stoppable


class IdentityArea(AreaService):
    interface_version = "1.0"
    area = "identity"
    requires = ()
    after = ()

    def build(self, hub: Hub) -> Any:
        from cumulo.services.identity import Service

        return Service(hub)

    def start(self, hub: Hub) -> list[Stoppable]:
        return []
