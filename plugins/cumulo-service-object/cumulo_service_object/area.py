"""The object area as a ``service`` plugin: what the hub builds as ``hub.object`` and what a node starts."""

from __future__ import annotations

from oslo_config import cfg

from cumulo.interfaces.service import ModuleArea


class ObjectArea(ModuleArea):
    """Object Storage (``hub.object``): accounts, containers and objects on a pluggable backend (Swift v1)."""

    interface_version = "2.0"
    area = "object"
    requires = ("identity",)
    after = ()
    manager = "cumulo_service_object.manager:Service"
    starter = "cumulo_service_object.manager:start"
    plugin_options = (("object", "backend", "object"),)

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        from cumulo_service_object.opts import list_opts

        return list_opts()
