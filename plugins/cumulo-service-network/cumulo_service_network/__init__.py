"""The network area (``hub.network``) as a ``service`` plugin: the Networking model with IPAM and a data-plane driver.

:mod:`cumulo_service_network.area` is the plugin the hub builds,
:mod:`cumulo_service_network.manager` the service (composed of the components
in :mod:`.networks`, :mod:`.subnets`, :mod:`.ports`, :mod:`.l3`,
:mod:`.secgroups`, :mod:`.quotas`, :mod:`.tags` and :mod:`.instances`),
:mod:`cumulo_service_network.models` its tables (created by the revisions in
:mod:`cumulo_service_network.migrations`, branch ``cumulo_network``). The
data-plane drivers implement :mod:`cumulo.interfaces.network`; the options
are the area's own (:mod:`cumulo_service_network.opts`).

Importing the package imports nothing else: the service and its policy rules
load when the hub first builds ``hub.network`` (the ``cumulo_service_network``
policy namespace lists the rules).
"""
