"""The ``volumev3`` API frontend plugin: OpenStack Block Storage API v3 under ``/volume``."""

from __future__ import annotations

from cumulo.interfaces.api import FactoryFrontend


class VolumeFrontend(FactoryFrontend):
    """OpenStack Block Storage API v3 (Cinder-compatible): volumes, snapshots, types, quotas, limits, zones.

    The catalog type is ``block-storage``, the official type; keystoneauth
    matches its aliases (``volumev3``, ``volume``, ``block-store``), so
    openstacksdk, python-openstackclient and python-cinderclient find it. The
    endpoint is per project (``/volume/v3/<project_id>``), as Cinder's.
    """

    interface_version = "2.0"
    service_type = "block-storage"
    service_name = "cinderv3"
    path_prefix = "/volume"
    endpoint_suffix = "/v3/$(project_id)s"
    app_factory = "cumulo_api_volume.app:build"
