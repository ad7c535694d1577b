"""``[network]`` and ``[network_quotas]`` options of the network area. Imports only oslo.config.

Declared by :class:`cumulo_service_network.area.NetworkArea` (``list_opts``): the hub registers them
when it loads the installed areas; the sample generator reads this distribution's ``oslo.config.opts``.
"""

from __future__ import annotations

from oslo_config import cfg

GROUP = "network"
QUOTA_GROUP = "network_quotas"

network_opts: list[cfg.Opt] = [
    cfg.StrOpt("driver", default="noop", help="Network driver plugin (cumulo.network) that realises the model."),
    cfg.StrOpt("tenant_network_type", default="local", choices=["local", "vxlan", "vlan", "flat"],
               help="network_type of networks created without provider attributes."),
    cfg.BoolOpt("create_default_public_network", default=True,
                help="At start, create the default external network (flat, router:external, is_default) "
                     "when none exists, so 'networks: auto' and floating IPs work out of the box."),
    cfg.StrOpt("public_network_name", default="public", help="Name of the default external network."),
    cfg.StrOpt("public_physical_network", default="public",
               help="provider:physical_network of the default external network."),
    cfg.StrOpt("public_subnet_cidr", default="172.24.4.0/24",
               help="CIDR of the default external network's subnet (floating IPs and router gateways)."),
    cfg.StrOpt("public_gateway_ip", default="", help="Gateway of the public subnet; empty: the first address."),
    cfg.StrOpt("public_allocation_pool", default="",
               help="'start-end' pool of the public subnet; empty: the whole CIDR but the gateway."),
    cfg.StrOpt("auto_allocate_cidr", default="10.0.0.0/24",
               help="CIDR of the subnet of an auto-allocated project network (when no default subnet pool)."),
    cfg.ListOpt("auto_allocate_dns_nameservers", default=[],
                help="DNS servers of auto-allocated subnets."),
]

quota_opts: list[cfg.Opt] = [
    cfg.IntOpt("quota_network", default=100, help="Networks per project (-1: unlimited)."),
    cfg.IntOpt("quota_subnet", default=100, help="Subnets per project (-1: unlimited)."),
    cfg.IntOpt("quota_subnetpool", default=-1, help="Subnet pools per project (-1: unlimited)."),
    cfg.IntOpt("quota_port", default=500, help="Ports per project (-1: unlimited)."),
    cfg.IntOpt("quota_router", default=10, help="Routers per project (-1: unlimited)."),
    cfg.IntOpt("quota_floatingip", default=50, help="Floating IPs per project (-1: unlimited)."),
    cfg.IntOpt("quota_security_group", default=10, help="Security groups per project (-1: unlimited)."),
    cfg.IntOpt("quota_security_group_rule", default=100, help="Security group rules per project (-1: unlimited)."),
    cfg.IntOpt("quota_rbac_policy", default=10, help="RBAC policies per project (reported; RBAC is not supported)."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, network_opts), (QUOTA_GROUP, quota_opts)]
