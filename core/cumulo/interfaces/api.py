"""API frontends (``cumulo.api``): a REST API mounted under a path of the API server."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from cumulo.interfaces.base import Plugin

if TYPE_CHECKING:
    from cumulo.services import ServiceHub

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


class APIFrontend(Plugin):
    """A REST API. Thin: parse, validate, call a kernel service, render.

    The API server mounts the app returned by :meth:`build_app` under
    ``path_prefix`` (``SCRIPT_NAME`` is set accordingly, so the app builds
    absolute links from ``request.application_url``). Authentication happens
    before the app is called unless ``requires_auth`` is false; the app finds
    the :class:`cumulo.context.RequestContext` in ``environ['cumulo.context']``.
    """

    INTERFACE_VERSION = "1.0"

    #: Catalog service type ("identity", "compute", "image", "network", "object-store", "ec2").
    service_type: ClassVar[str] = ""
    #: Catalog service name ("keystone", "nova", ...): clients sometimes match on it.
    service_name: ClassVar[str] = ""
    #: Path the app is mounted under on the API server, e.g. "/compute".
    path_prefix: ClassVar[str] = ""
    #: False for frontends that authenticate on their own (identity, EC2 signatures).
    requires_auth: ClassVar[bool] = True

    @abc.abstractmethod
    def build_app(self, services: ServiceHub) -> WSGIApp:
        """Return the WSGI application. Called once at server start.

        ``services`` gives the kernel services (managers) the app calls.
        Errors: raise :class:`cumulo.exception.ConfigError` when the frontend
        cannot run with the current configuration.
        """

    @abc.abstractmethod
    def endpoint_url(self, base_url: str) -> str:
        """The URL for the service catalog, given the server's public base URL.

        May contain ``$(project_id)s`` (Swift style) for per-project endpoints.
        """
