"""The image area as a ``service`` plugin: what the hub builds as ``hub.image`` and what a node starts."""

from __future__ import annotations

from cumulo.interfaces.service import ModuleArea


class ImageArea(ModuleArea):
    interface_version = "1.0"
    area = "image"
    requires = ("identity",)
    after = ("object",)
    manager = "cumulo_service_image.manager:Service"
    starter = "cumulo_service_image.manager:start"
