"""WSGI foundation: routing, JSON bodies, faults, validation, microversions, middleware, server.

A frontend builds a :class:`Router`, adds handlers, and wraps it in the kernel
middleware with :func:`pipeline`. A handler receives a :class:`Request` and
the route's parameters and returns a dict (200 JSON), ``(status, dict)``,
``None`` (204) or a :class:`webob.Response`.
"""

from cumulo.wsgi.faults import FaultWrapper, render_error  # noqa: F401
from cumulo.wsgi.request import Request, json_response  # noqa: F401
from cumulo.wsgi.router import Router  # noqa: F401
from cumulo.wsgi.validation import validate  # noqa: F401
