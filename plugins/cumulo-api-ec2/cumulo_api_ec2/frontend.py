"""The ``ec2`` API frontend plugin: the EC2 Query API under ``/ec2``."""

from __future__ import annotations

from typing import ClassVar

from cumulo.interfaces.api import FactoryFrontend


class Ec2Frontend(FactoryFrontend):
    """The EC2 Query API (``Action=...&Version=2016-11-15``, XML answers).

    It authenticates on its own: every request's AWS signature is verified by
    ``hub.identity.authenticate_aws`` (the frontend never sees a secret).
    """

    interface_version = "2.0"
    service_type = "ec2"
    service_name = "ec2"
    path_prefix = "/ec2"
    requires_auth: ClassVar[bool] = False
    app_factory = "cumulo_api_ec2.app:build"
