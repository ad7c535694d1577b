"""The identity area as a ``service`` plugin: what the hub builds as ``hub.identity`` and what a node starts."""

from __future__ import annotations

from cumulo.interfaces.service import ModuleArea


class IdentityArea(ModuleArea):
    interface_version = "1.0"
    area = "identity"
    requires = ()
    after = ()
    manager = "cumulo_service_identity.manager:Service"
    starter = ""
