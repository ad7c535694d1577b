"""The ``image`` API frontend plugin: OpenStack Image API v2 under ``/image``."""

from __future__ import annotations

from cumulo.interfaces.api import FactoryFrontend


class ImageFrontend(FactoryFrontend):
    """OpenStack Image API v2 (Glance-compatible): images, data, members, tags, discovery."""

    interface_version = "2.0"
    service_type = "image"
    service_name = "glance"
    path_prefix = "/image"
    app_factory = "cumulo_api_image.app:build"
