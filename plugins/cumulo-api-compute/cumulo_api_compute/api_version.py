"""Compute microversions: the supported range, the headers, and the negotiating middleware.

Microversions 2.1 to :data:`MAX_VERSION` are negotiated from
``OpenStack-API-Version: compute X.Y`` or the legacy ``X-OpenStack-Nova-API-Version``;
the negotiated version is left in the WSGI environ under :data:`VERSION_KEY` for the
controllers (see :meth:`cumulo_api_compute.controllers.base.Controller.ver`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import webob

from cumulo.wsgi import microversion as mv

MIN_VERSION = "2.1"
MAX_VERSION = "2.79"
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"
VERSION_KEY = "cumulo.compute.version"


def requested(environ: dict[str, Any]) -> mv.APIVersion:
    """The negotiated microversion of a request (:data:`MIN_VERSION` when none was negotiated)."""
    return environ.get(VERSION_KEY) or mv.APIVersion.parse(MIN_VERSION)


class Negotiate:
    """Microversion middleware: 406 out of range; response headers on every answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        req = webob.Request(environ)
        version = mv.negotiate(req.headers, "compute", MIN_VERSION, MAX_VERSION, legacy_header=LEGACY_HEADER)
        environ[VERSION_KEY] = version
        extra = mv.response_headers("compute", version, LEGACY_HEADER)

        def _start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            names = {k.lower() for k in extra}
            headers = [h for h in headers if h[0].lower() not in names] + list(extra.items())
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.app(environ, _start)
