"""The image area (``hub.image``) as a ``service`` plugin: image records, sharing, quotas and streamed data.

:mod:`cumulo_service_image.area` is the plugin the hub builds,
:mod:`cumulo_service_image.manager` the service (``manager.Service``, composed
of one component per resource: images, listing, attributes, tags, members,
image_data, stores, locations, quotas, housekeeping; its docstring lists them),
:mod:`cumulo_service_image.models` its tables (created by the revisions in
:mod:`cumulo_service_image.migrations`, branch ``cumulo_image``). What its
frontends share with it is the kernel contract :mod:`cumulo.contracts.image`;
the store plugins implement :mod:`cumulo.interfaces.image`.

Importing the package imports nothing else: the service and its policy rules
load when the hub first builds ``hub.image`` (the ``cumulo_service_image``
policy namespace lists the rules).
"""
