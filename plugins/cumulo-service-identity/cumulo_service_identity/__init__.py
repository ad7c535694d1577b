"""The identity area (``hub.identity``) as a ``service`` plugin: domains, projects, users, groups, roles,
assignments, catalog, credentials, application credentials and tokens.

:mod:`cumulo_service_identity.area` is the plugin the hub builds,
:mod:`cumulo_service_identity.manager` the service (one mixin module per kind
of resource), :mod:`cumulo_service_identity.models` its tables (created by the
revisions in :mod:`cumulo_service_identity.migrations`, branch
``cumulo_identity``), :mod:`cumulo_service_identity.cli` the ``cumulo identity
bootstrap`` and ``cumulo identity rotate-keys`` commands. The identity
backends and token providers it loads implement :mod:`cumulo.interfaces.auth`.

Importing the package imports nothing else: the service and its policy rules
load when the hub first builds ``hub.identity`` (the ``cumulo_service_identity``
policy namespace lists the rules).
"""
