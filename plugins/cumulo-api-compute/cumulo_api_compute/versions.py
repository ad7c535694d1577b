"""The version documents (``/``, ``/v2`` and ``/v2.1``), served without a token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cumulo.wsgi import Request
from cumulo.wsgi.request import json_response
from cumulo_api_compute.api_version import MAX_VERSION, MIN_VERSION

#: PATH_INFO values answered by :func:`versions_app` (everything else needs a token).
PATHS = ("/", "/v2.1", "/v2.1/", "/v2", "/v2/")


def version_doc(base: str) -> dict[str, Any]:
    """The v2.1 version document, its links under ``base``."""
    return {"id": "v2.1", "status": "CURRENT", "version": MAX_VERSION, "min_version": MIN_VERSION,
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": base.rstrip("/") + "/v2.1/"},
                      {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.compute+json;version=2.1"}]}


def _v20_doc(base: str) -> dict[str, Any]:
    return {"id": "v2.0", "status": "DEPRECATED", "version": "", "min_version": "",
            "updated": "2025-07-04T12:00:00Z", "links": [{"rel": "self", "href": base.rstrip("/") + "/v2/"}]}


def versions_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    """WSGI app: ``/v2.1`` and ``/v2`` give one version document, anything else the list of both."""
    req = Request(environ)
    base = req.application_url
    path = req.path_info
    if path in ("/v2.1", "/v2.1/"):
        body: dict[str, Any] = {"version": version_doc(base)}
    elif path in ("/v2", "/v2/"):
        body = {"version": _v20_doc(base)}
    else:
        body = {"versions": [_v20_doc(base), version_doc(base)]}
    return json_response(body, status=200)(environ, start_response)
