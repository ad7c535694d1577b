"""The scheduler area as a ``service`` plugin: what the hub builds as ``hub.scheduler`` and what a node starts."""

from __future__ import annotations

from oslo_config import cfg

from cumulo.interfaces.service import ModuleArea


class SchedulerArea(ModuleArea):
    """Scheduling (``hub.scheduler``): places instances on compute hosts with the configured scheduler driver."""

    interface_version = "2.0"
    area = "scheduler"
    requires = ()
    after = ("identity", "image", "network", "volume")
    manager = "cumulo_service_scheduler.manager:Service"
    starter = "cumulo_service_scheduler.manager:start"
    plugin_options = (("scheduler", "driver", "scheduler"),)

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        from cumulo_service_scheduler.opts import list_opts

        return list_opts()
