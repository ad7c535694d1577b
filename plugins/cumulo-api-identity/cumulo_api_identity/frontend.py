"""The ``identity`` API frontend: Keystone v3 under ``/identity``."""

from __future__ import annotations

from typing import Any

from cumulo.conf import CONF
from cumulo.interfaces.api import FactoryFrontend, WSGIApp
from cumulo.wsgi.middleware import pipeline


class IdentityFrontend(FactoryFrontend):
    """OpenStack Identity v3: tokens, catalog, domains, projects, users, groups, roles,
    assignments, services, endpoints, regions, credentials, application credentials."""

    interface_version = "2.0"
    service_type = "identity"
    service_name = "keystone"
    path_prefix = "/identity"
    requires_auth = False  # it validates X-Auth-Token itself
    endpoint_suffix = "/v3"

    def build_app(self, services: Any) -> WSGIApp:
        """The router on the identity service, in the kernel pipeline without token validation."""
        from cumulo_api_identity.app import build_router

        # Unscoped tokens are for identity (list my projects, then rescope): not project_scoped.
        return pipeline(build_router(services.get("identity")), max_body=CONF.api.max_request_body_size,
                        project_scoped=False)
