"""The filter scheduler's ``[scheduler]`` options: which filters and weighers, and how to pick.

They keep the group and names they had in the kernel, so existing
configuration files work unchanged; the kernel's ``[scheduler]`` options
(``driver``, ``claim_timeout``) are the scheduler area's. Imports only
oslo.config.
"""

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
    cfg.ListOpt("enabled_filters", default=DEFAULT_FILTERS,
                help="Host filters (entry points in cumulo.scheduler.filters) the filter scheduler "
                     "applies, in this order."),
    cfg.ListOpt("weighers", default=DEFAULT_WEIGHERS,
                help="Host weighers (entry points in cumulo.scheduler.weighers) the filter scheduler "
                     "adds up; multipliers are options of the plugin that provides them."),
    cfg.IntOpt("host_subset_size", default=1, min=1,
               help="Pick at random among this many best-weighed hosts (1: always the best). "
                    "Larger values spread concurrent schedulers over more hosts."),
]
