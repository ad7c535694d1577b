"""The volume area as a ``service`` plugin: what the hub builds as ``hub.volume`` and what a node starts."""

from __future__ import annotations

from oslo_config import cfg

from cumulo.interfaces.service import ModuleArea


class VolumeArea(ModuleArea):
    """Block storage (``hub.volume``): volumes, snapshots, types and quotas on one volume driver (Cinder v3)."""

    interface_version = "2.1"
    area = "volume"
    requires = ("identity",)
    after = ("image",)
    manager = "cumulo_service_volume.manager:Service"
    starter = "cumulo_service_volume.manager:start"
    plugin_options = (("volume", "driver", "volume"),)
    contracts = {"volume": "1.0"}

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        from cumulo_service_volume.opts import list_opts

        return list_opts()
