"""The ``compute`` and ``metadata`` API frontends."""

from __future__ import annotations

from cumulo.interfaces.api import FactoryFrontend


class ComputeFrontend(FactoryFrontend):
    """OpenStack Compute v2.1 with microversions (see :mod:`cumulo_api_compute.app`).

    The instance metadata service is mounted too, at ``/compute/metadata``.
    """

    interface_version = "2.0"
    service_type = "compute"
    service_name = "nova"
    path_prefix = "/compute"
    app_factory = "cumulo_api_compute.app:build"
    endpoint_suffix = "/v2.1"


class MetadataFrontend(FactoryFrontend):
    """The instance metadata service on its own path (``/metadata``), for instances (no token)."""

    interface_version = "2.0"
    service_type = "metadata"
    service_name = "metadata"
    path_prefix = "/metadata"
    requires_auth = False
    app_factory = "cumulo_api_compute.metadata:build"
