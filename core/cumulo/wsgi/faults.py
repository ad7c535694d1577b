"""The fault layer: every error becomes a JSON fault with the right status.

Client mistakes (CumuloError with a 4xx code, webob HTTP errors) keep their
status and message; a UnicodeError from decoding a path or query that is not
UTF-8 is a 400 too (whatever app decoded it); anything else is logged with its traceback and answered
500 with the request id, never with the traceback. Each API renders faults
in its own shape through a renderer ``(status, title, message, error) -> dict``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import webob
import webob.exc

from cumulo import exception
from cumulo.wsgi.request import REQUEST_ID_KEY, url_problem

LOG = logging.getLogger(__name__)

Renderer = Callable[[int, str, str, BaseException | None], dict[str, Any]]


def render_error(status: int, title: str, message: str, error: BaseException | None) -> dict[str, Any]:
    """Keystone's shape, the default: ``{"error": {"code", "title", "message"}}``."""
    return {"error": {"code": status, "title": title, "message": message}}


def classify(err: BaseException) -> tuple[int, str, str]:
    """(status, title, message) for any exception."""
    if isinstance(err, exception.CumuloError):
        return err.code, err.title, err.message
    if isinstance(err, webob.exc.WSGIHTTPException):  # every status class (a bare HTTPException has no code)
        status = err.code if isinstance(err.code, int) else 500
        return status, err.title, (err.detail or err.explanation or err.title)
    code = getattr(err, "code", None)  # plugin errors (ObjectNotFound...) carry an HTTP code
    if isinstance(code, int) and 400 <= code < 600:
        return code, webob.exc.status_map.get(code, webob.exc.HTTPError).title, str(err) or type(err).__name__
    return 500, "Internal Server Error", "An unexpected error prevented the server from fulfilling your request."


class FaultWrapper:
    """Middleware turning exceptions (raised or returned) into JSON faults."""

    def __init__(self, app: Callable[..., Any], renderer: Renderer = render_error) -> None:
        self.app = app
        self.renderer = renderer

    def fault_response(self, err: BaseException, environ: dict[str, Any]) -> webob.Response:
        status, title, message = classify(err)
        if status >= 500 and isinstance(err, UnicodeError):
            # An app that decodes a path or query that is not UTF-8 (webob raises): the client's mistake.
            problem = url_problem(environ)
            if problem:
                status, title, message = 400, "Bad Request", f"Invalid input: {problem}"
        if status >= 500:
            LOG.error("Request %s failed: %s", environ.get(REQUEST_ID_KEY, "-"), err,
                      exc_info=(type(err), err, err.__traceback__))
            if not isinstance(err, exception.CumuloError):
                message = f"{message} (request id {environ.get(REQUEST_ID_KEY, '-')})"
        resp = webob.Response(status=status, content_type="application/json", charset="UTF-8")
        resp.text = json.dumps(self.renderer(status, title, message, err))
        if status == 401:
            resp.headers["WWW-Authenticate"] = 'Keystone uri="/identity"'
        if status == 405 and isinstance(err, webob.exc.HTTPMethodNotAllowed):
            allow = err.headers.get("Allow")
            if allow:
                resp.headers["Allow"] = allow
        retry = getattr(err, "retry_after", None)
        if retry:
            resp.headers["Retry-After"] = str(retry)
        return resp

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        try:
            return self.app(environ, start_response)
        except Exception as err:  # the boundary: nothing escapes as a traceback
            return self.fault_response(err, environ)(environ, start_response)
