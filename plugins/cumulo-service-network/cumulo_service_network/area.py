"""The network area as a ``service`` plugin: what the hub builds as ``hub.network`` and what a node starts."""

from __future__ import annotations

from oslo_config import cfg

from cumulo.interfaces.service import ModuleArea


class NetworkArea(ModuleArea):
    """Networking (``hub.network``): networks, subnets, ports, routers, floating IPs, security groups (Neutron v2)."""

    interface_version = "2.1"
    area = "network"
    requires = ("identity",)
    after = ()
    manager = "cumulo_service_network.manager:Service"
    starter = "cumulo_service_network.manager:start"
    plugin_options = (("network", "driver", "network"),)
    all_in_one_choices = (("network", "driver", "network", ("linuxbridge", "noop")),)

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        from cumulo_service_network.opts import list_opts

        return list_opts()
