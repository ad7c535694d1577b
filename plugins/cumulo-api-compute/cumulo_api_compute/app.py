"""The OpenStack Compute v2.1 API app: the router from the controllers' routes, the middleware
pipeline, Nova's fault bodies, and the mounts beside it.

Microversions 2.1 to :data:`~cumulo_api_compute.api_version.MAX_VERSION` are negotiated from
``OpenStack-API-Version: compute X.Y`` or the legacy ``X-OpenStack-Nova-API-Version``
(:mod:`cumulo_api_compute.api_version`); behaviour that changed across versions follows the
negotiated one (the handlers in :mod:`cumulo_api_compute.controllers`, the rendering in
:mod:`cumulo_api_compute.views`). The version documents (``/`` and ``/v2.1``) need no token;
the instance metadata service is mounted at ``/metadata``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cumulo import registry
from cumulo.wsgi import Router
from cumulo.wsgi.middleware import pipeline
from cumulo_api_compute import controllers, metadata, policies
from cumulo_api_compute.api_version import Negotiate
from cumulo_api_compute.faults import nova_fault
from cumulo_api_compute.frontend import ComputeFrontend
from cumulo_api_compute.versions import PATHS as VERSION_PATHS
from cumulo_api_compute.versions import versions_app

ROOT = "/v2.1"


def router(hub: Any) -> Router:
    """Every controller's routes, below ``/v2.1``."""
    r = Router()
    for controller in controllers.create(hub):
        for methods, path, handler in controller.routes():
            r.add(methods, ROOT + path, handler)
    return r


class VersionedApp:
    """Serves the version documents and negotiates the microversion of every other request."""

    def __init__(self, public: Any, protected: Any) -> None:
        self.public, self.protected = public, protected

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "") or "/"
        if path in VERSION_PATHS:
            return self.public(environ, start_response)
        return self.protected(environ, start_response)


def build(hub: Any) -> Any:
    """The WSGI app of the compute frontend (mounted at ``/compute``)."""
    policies.register()
    registry.register_plugin_opts(ComputeFrontend, hub.conf)  # when built without the registry (tests)
    protected = pipeline(Negotiate(router(hub)), renderer=nova_fault, validate=hub.token_validator(),
                         max_body=hub.conf.api.max_request_body_size,
                         token_cache_seconds=hub.conf.api.token_cache_time)
    public = pipeline(versions_app, renderer=nova_fault)
    meta = metadata.build(hub)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "") or "/"
        if path == "/metadata" or path.startswith("/metadata/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + "/metadata"
            environ["PATH_INFO"] = path[len("/metadata"):]
            return meta(environ, start_response)
        return VersionedApp(public, protected)(environ, start_response)

    return app
