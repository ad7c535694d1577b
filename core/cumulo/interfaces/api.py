"""API frontends (``cumulo.api``): a REST API mounted under a path of the API server."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from cumulo.interfaces.base import Plugin, resolve

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

    INTERFACE_VERSION = "2.0"  # 2.0: built as cls(ctx)

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


class FactoryFrontend(APIFrontend):
    """An :class:`APIFrontend` that only declares itself: the common work is done here.

    A frontend sets ``interface_version``, :attr:`service_type`,
    :attr:`service_name`, :attr:`path_prefix`, :attr:`requires_auth` when it
    authenticates on its own, :attr:`app_factory` (say
    ``"cumulo_api_image.app:build"``) and :attr:`endpoint_suffix` if any.

    :meth:`build_app` imports ``app_factory`` when the server starts (listing
    or loading the plugin does not import the app) and calls it with the
    services; the factory builds the whole app, middleware pipeline and fault
    renderer included. :meth:`endpoint_url` is ``base_url`` + ``path_prefix``
    + ``endpoint_suffix``. A frontend that needs more overrides either method.
    """

    #: ``"package.module:callable"``: called with the ServiceHub, returns the WSGI app.
    app_factory: ClassVar[str] = ""
    #: What the catalog URL adds after the prefix: a version (``"/v2.1"``) or a
    #: per-project path (``"/v1/AUTH_$(project_id)s"``); empty for the prefix itself.
    endpoint_suffix: ClassVar[str] = ""

    def build_app(self, services: ServiceHub) -> WSGIApp:
        factory: Callable[[ServiceHub], WSGIApp] = resolve(self.app_factory, f"{type(self).__name__}.app_factory")
        return factory(services)

    def endpoint_url(self, base_url: str) -> str:
        return base_url.rstrip("/") + self.path_prefix + self.endpoint_suffix
