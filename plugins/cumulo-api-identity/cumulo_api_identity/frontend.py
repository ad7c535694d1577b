"""The ``identity`` API frontend: Keystone v3 under ``/identity``."""

from __future__ import annotations

from typing import Any, ClassVar

from cumulo.conf import CONF
from cumulo.interfaces.api import APIFrontend, WSGIApp
from cumulo.wsgi.middleware import pipeline


class IdentityFrontend(APIFrontend):
    """OpenStack Identity v3: tokens, catalog, domains, projects, users, groups, roles,
    assignments, services, endpoints, regions, credentials, application credentials."""

    interface_version = "1.0"
    service_type: ClassVar[str] = "identity"
    service_name: ClassVar[str] = "keystone"
    path_prefix: ClassVar[str] = "/identity"
    requires_auth: ClassVar[bool] = False  # it validates X-Auth-Token itself

    def build_app(self, services: Any) -> WSGIApp:
        from cumulo_api_identity.app import build_router

        # Unscoped tokens are for identity (list my projects, then rescope): not project_scoped.
        return pipeline(build_router(services.identity), max_body=CONF.api.max_request_body_size,
                        project_scoped=False)

    def endpoint_url(self, base_url: str) -> str:
        return base_url.rstrip("/") + "/identity/v3"
