"""``[scheduler]`` options (read by :mod:`cumulo.services.scheduler`). Imports only oslo.config."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "scheduler"

DEFAULT_FILTERS = [
    "availability_zone", "compute", "ram", "vcpu", "disk", "image_properties",
    "server_group_affinity", "server_group_anti_affinity", "same_host", "different_host",
    "aggregate_instance_extra_specs",
]
DEFAULT_WEIGHERS = ["ram", "cpu", "disk", "soft_affinity", "soft_anti_affinity"]

scheduler_opts: list[cfg.Opt] = [
    cfg.StrOpt("driver", default="filter",
               help="Scheduler plugin (entry point in cumulo.scheduler): filter, chance, ..."),
    cfg.ListOpt("enabled_filters", default=DEFAULT_FILTERS,
                help="Host filters (entry points in cumulo.scheduler.filters) the filter scheduler "
                     "applies, in this order."),
    cfg.ListOpt("weighers", default=DEFAULT_WEIGHERS,
                help="Host weighers (entry points in cumulo.scheduler.weighers) the filter scheduler "
                     "adds up; multipliers are options of the plugin that provides them."),
    cfg.IntOpt("host_subset_size", default=1, min=1,
               help="Pick at random among this many best-weighed hosts (1: always the best). "
                    "Larger values spread concurrent schedulers over more hosts."),
    cfg.FloatOpt("claim_timeout", default=120.0, min=0.0,
                 help="Seconds the scheduler keeps counting an instance it placed on a host that has "
                      "not reported it yet."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, scheduler_opts)]
