"""The compute area (``hub.compute``) as a ``service`` plugin: servers, flavors, key pairs, server groups,
quotas, hosts and aggregates, and the per-host compute managers that drive the hypervisor.

:mod:`cumulo_service_compute.area` is the plugin the hub builds,
:mod:`cumulo_service_compute.service` the service and what a node starts,
:mod:`cumulo_service_compute.manager` the per-host RPC endpoint,
:mod:`cumulo_service_compute.models` its tables (created by the revisions in
:mod:`cumulo_service_compute.migrations`, branch ``cumulo_compute``). What the
Compute API frontend shares with it is the kernel contract
:mod:`cumulo.contracts.compute` and the kernel helpers
:mod:`cumulo.utils.metadata_proxy` and :mod:`cumulo.utils.passwords`; the
hypervisor drivers implement :mod:`cumulo.interfaces.hypervisor`. The
``[compute]`` and ``[quota]`` options are the area's own
(:mod:`cumulo_service_compute.opts`).

Importing the package imports nothing else: the service loads when the hub
first builds ``hub.compute``.
"""
