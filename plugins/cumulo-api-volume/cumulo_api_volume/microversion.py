"""Block Storage microversions: the range served, and the negotiating middleware.

``OpenStack-API-Version: volume 3.x`` (or the legacy ``OpenStack-Volume-microversion``
header); no header is 3.0, ``latest`` is :data:`MAX_VERSION`, outside the
range a 406. The version is left in the environ under :data:`VERSION_KEY`.

What the range promises, beyond 3.0 (each served as Cinder does):
3.1 visibility and protected of os-volume_upload_image; 3.3 user messages; 3.9 backup update;
3.11 group types; 3.13 groups and ``group_id`` in volumes; 3.14 group snapshots and groups from a source;
3.19/3.20 their reset_status; 3.18
``os-backup-project-attr:project_id`` for admins; 3.21 ``provider_id`` for admins; 3.27 the attachments API; 3.30 snapshot
sorting; 3.34 inexact (``name~``) filters; 3.36 ``/volumes/summary``; 3.41
``user_id`` in snapshots; 3.42 extending in-use volumes (when the driver can);
3.43 backup metadata; 3.44 ``os-complete`` of attachments; 3.45 ``with_count``; 3.48 ``shared_targets``/``service_uuid``; 3.50
multiattach; 3.55 ``/volume-transfers`` (3.57 its project fields); 3.56 ``user_id`` in backups; 3.60 ``created_at``/``updated_at`` filters with ``gt:``/``lt:``...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import webob

from cumulo.wsgi import microversion as mv

MIN_VERSION = "3.0"
MAX_VERSION = "3.60"
SERVICE = "volume"
LEGACY_HEADER = "OpenStack-Volume-microversion"
VERSION_KEY = "cumulo.volume.version"


def requested(environ: dict[str, Any]) -> mv.APIVersion:
    return environ.get(VERSION_KEY) or mv.APIVersion.parse(MIN_VERSION)


def at_least(environ: dict[str, Any], version: str) -> bool:
    return requested(environ) >= mv.APIVersion.parse(version)


class Negotiate:
    """406 out of range; the negotiated version in every answer's headers."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        version = mv.negotiate(webob.Request(environ).headers, SERVICE, MIN_VERSION, MAX_VERSION,
                               legacy_header=LEGACY_HEADER)
        environ[VERSION_KEY] = version
        extra = mv.response_headers(SERVICE, version)

        def _start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            names = {k.lower() for k in extra}
            headers = [h for h in headers if h[0].lower() not in names] + list(extra.items())
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.app(environ, _start)
