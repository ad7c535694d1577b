"""The ``s3`` API frontend plugin: the Amazon S3 REST API under ``/s3``."""

from __future__ import annotations

from oslo_config import cfg

from cumulo.interfaces.api import FactoryFrontend
from cumulo_api_s3 import opts


class S3Frontend(FactoryFrontend):
    """Amazon S3 (REST, path and virtual-host style) on the object area; AWS signatures checked by identity."""

    interface_version = "2.0"
    service_type = "s3"
    service_name = "s3"
    path_prefix = "/s3"
    requires_auth = False  # every request is AWS-signed: checked through hub.identity.authenticate_aws
    app_factory = "cumulo_api_s3.app:build"

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return opts.list_opts()
