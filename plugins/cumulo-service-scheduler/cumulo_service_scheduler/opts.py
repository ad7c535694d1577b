"""``[scheduler]`` options of the scheduler area (``hub.scheduler``). Imports only oslo.config.

Declared by :class:`cumulo_service_scheduler.area.SchedulerArea` (``list_opts``), registered by the hub
when it loads the installed areas.

The filter scheduler's options in this group (``enabled_filters``, ``weighers``,
``host_subset_size``) are declared by its plugin (``cumulo-scheduler-filter``),
which the registry registers when it loads the driver.
"""

from __future__ import annotations

from oslo_config import cfg

GROUP = "scheduler"

scheduler_opts: list[cfg.Opt] = [
    cfg.StrOpt("driver", default="filter",
               help="Scheduler plugin (entry point in cumulo.scheduler): filter, chance, ..."),
    cfg.FloatOpt("claim_timeout", default=120.0, min=0.0,
                 help="Seconds the scheduler keeps counting an instance it placed on a host that has "
                      "not reported it yet."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, scheduler_opts)]
