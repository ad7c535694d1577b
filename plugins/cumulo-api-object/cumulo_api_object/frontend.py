"""The ``object-store`` API frontend plugin: OpenStack Object Storage v1 under ``/object-store``."""

from __future__ import annotations

from cumulo.interfaces.api import FactoryFrontend


class ObjectStoreFrontend(FactoryFrontend):
    """OpenStack Object Storage API v1 (Swift-compatible): accounts, containers, objects, /info."""

    interface_version = "2.0"
    service_type = "object-store"
    service_name = "swift"
    path_prefix = "/object-store"
    app_factory = "cumulo_api_object.app:build"
    endpoint_suffix = "/v1/AUTH_$(project_id)s"
