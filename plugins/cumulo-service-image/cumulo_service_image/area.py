"""The image area as a ``service`` plugin: what the hub builds as ``hub.image`` and what a node starts."""

from __future__ import annotations

from typing import Any

from cumulo.interfaces.service import AreaService, Hub, Stoppable


class ImageArea(AreaService):
    interface_version = "1.0"
    area = "image"
    requires = ("identity",)
    after = ("object",)

    def build(self, hub: Hub) -> Any:
        import cumulo_service_image.manager as manager

        return manager.Service(hub)

    def start(self, hub: Hub) -> list[Stoppable]:
        import cumulo_service_image.manager as manager

        return list(manager.start(hub) or [])
