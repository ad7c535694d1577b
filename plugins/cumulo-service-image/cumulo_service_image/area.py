"""The image area as a ``service`` plugin: what the hub builds as ``hub.image`` and what a node starts."""

from __future__ import annotations

from oslo_config import cfg

from cumulo.interfaces.service import ModuleArea


class ImageArea(ModuleArea):
    """Images (``hub.image``): image records, sharing, quotas, and their data in pluggable image stores (Glance v2)."""

    interface_version = "2.0"
    area = "image"
    requires = ("identity",)
    after = ("object",)
    manager = "cumulo_service_image.manager:Service"
    starter = "cumulo_service_image.manager:start"
    plugin_options = (("image", "default_store", "image"), ("image", "stores", "image"))

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        from cumulo_service_image.opts import list_opts

        return list_opts()
