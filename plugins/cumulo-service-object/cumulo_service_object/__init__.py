"""The object area (``hub.object``) as a ``service`` plugin: Swift semantics over a pluggable backend.

:mod:`cumulo_service_object.area` is the plugin the hub builds,
:mod:`cumulo_service_object.manager` the service (composed of one component
per concern, listed there). What its frontends share with it is the kernel
contract :mod:`cumulo.contracts.object`; the backend plugins implement
:mod:`cumulo.interfaces.object` (``[object] backend``); the ``[object]``
options are the area's own (:mod:`cumulo_service_object.opts`).

Importing the package imports nothing else: the service loads when the hub
first builds ``hub.object``. The area has no tables and no policy rules
(access follows the roles in ``[object]`` and the containers' ACLs).
"""
