"""The volume area (``hub.volume``) as a ``service`` plugin: volumes, snapshots, types, quotas, attachments.

:mod:`cumulo_service_volume.area` is the plugin the hub builds,
:mod:`cumulo_service_volume.manager` the service (``manager.Service``),
:mod:`cumulo_service_volume.models` its tables (created by the revisions in
:mod:`cumulo_service_volume.migrations`, branch ``cumulo_volume``). Other
areas call it through the kernel contract :mod:`cumulo.contracts.volume`; the
data lives in the volume driver ``[volume] driver`` names
(:mod:`cumulo.interfaces.volume`).

Importing the package imports nothing else.
"""
