"""The identity area as a ``service`` plugin: what the hub builds as ``hub.identity`` and what a node starts."""

from __future__ import annotations

from oslo_config import cfg

from cumulo.interfaces.service import ModuleArea


class IdentityArea(ModuleArea):
    """Identity (``hub.identity``): domains, projects, users, groups, roles, tokens and the catalog (Keystone v3)."""

    interface_version = "2.0"
    area = "identity"
    requires = ()
    after = ()
    manager = "cumulo_service_identity.manager:Service"
    starter = ""
    plugin_options = (("identity", "backend", "auth"), ("identity", "token_provider", "token"))

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        from cumulo_service_identity.opts import list_opts

        return list_opts()
