"""The compute area as a ``service`` plugin: what the hub builds as ``hub.compute`` and what a node starts."""

from __future__ import annotations

from oslo_config import cfg

from cumulo.interfaces.service import ModuleArea


class ComputeArea(ModuleArea):
    """Compute (``hub.compute``): servers, flavors, key pairs, server groups, quotas, hosts, aggregates (Nova v2.1)."""

    interface_version = "2.1"
    area = "compute"
    requires = ("identity", "scheduler")
    after = ("image", "network", "volume")
    manager = "cumulo_service_compute.service:Service"
    starter = "cumulo_service_compute.service:start"
    plugin_options = (("compute", "hypervisor_driver", "hypervisor"),)
    all_in_one_choices = (("compute", "hypervisor_driver", "hypervisor", ("libvirt", "fake")),)
    contracts = {"compute": "1.4", "network": "1.2", "volume": "1.0"}

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        from cumulo_service_compute.opts import list_opts

        return list_opts()
