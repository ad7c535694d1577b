"""The scheduler area (``hub.scheduler``) as a ``service`` plugin: chooses a compute host for each new server.

:mod:`cumulo_service_scheduler.area` is the plugin the hub builds,
:mod:`cumulo_service_scheduler.manager` the service, its RPC endpoint and
client and what a node starts. The service runs a scheduler plugin
(:class:`cumulo.interfaces.scheduler.Scheduler`, ``[scheduler] driver``); the
compute area calls it through ``hub.scheduler`` with the kernel's
:class:`~cumulo.interfaces.scheduler.RequestSpec` and
:class:`~cumulo.interfaces.scheduler.HostState`.

Importing the package imports nothing else: the service loads when the hub
first builds ``hub.scheduler``.
"""
