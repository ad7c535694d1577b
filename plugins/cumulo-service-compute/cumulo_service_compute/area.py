"""The compute area as a ``service`` plugin: what the hub builds as ``hub.compute`` and what a node starts."""

from __future__ import annotations

from cumulo.interfaces.service import ModuleArea


class ComputeArea(ModuleArea):
    interface_version = "2.0"
    area = "compute"
    requires = ("identity", "scheduler")
    after = ("image", "network", "volume")
    manager = "cumulo_service_compute.service:Service"
    starter = "cumulo_service_compute.service:start"
