"""The ``compute`` and ``metadata`` API frontends."""

from __future__ import annotations

from oslo_config import cfg

from cumulo.interfaces.api import FactoryFrontend

#: The Compute API's own option (Nova has it in ``[api]``; kept in ``[compute]`` for existing configurations).
instance_password_opt = cfg.BoolOpt(
    "enable_instance_password", default=True,
    help="Return the generated admin password (adminPass) when creating or rebuilding a server.")


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
    # The network contract's 1.3 methods back the legacy proxies (os-security-groups, os-floating-ips...).
    contracts = {"compute": "1.4", "network": "1.3"}

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return list_opts()


class MetadataFrontend(FactoryFrontend):
    """The instance metadata service on its own path (``/metadata``), for instances (no token)."""

    interface_version = "2.0"
    service_type = "metadata"
    service_name = "metadata"
    path_prefix = "/metadata"
    requires_auth = False
    app_factory = "cumulo_api_compute.metadata:build"


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """The Compute API's options (``oslo.config.opts`` entry point, and :meth:`ComputeFrontend.list_opts`)."""
    return [("compute", [instance_password_opt])]
