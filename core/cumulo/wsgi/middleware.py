"""Kernel middleware: request ids, body size limits, authentication, and the standard pipeline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from cumulo import exception
from cumulo.context import RequestContext, new_request_id
from cumulo.wsgi.faults import FaultWrapper, Renderer, render_error
from cumulo.wsgi.request import CONTEXT_KEY, REQUEST_ID_KEY

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Any]
TokenValidator = Callable[[str], RequestContext]


class RequestId:
    """Give every request an id (``x-openstack-request-id`` on the response)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        req_id = environ.setdefault(REQUEST_ID_KEY, new_request_id())

        def _start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers = [h for h in headers if h[0].lower() != "x-openstack-request-id"]
            headers.append(("x-openstack-request-id", req_id))
            headers.append(("X-Compute-Request-Id", req_id))
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.app(environ, _start)


class _LimitedInput:
    def __init__(self, stream: Any, limit: int) -> None:
        self.stream, self.limit, self.read_so_far = stream, limit, 0

    def _count(self, data: bytes) -> bytes:
        self.read_so_far += len(data)
        if self.read_so_far > self.limit:
            raise exception.RequestTooLarge(limit=self.limit)
        return data

    def read(self, size: int = -1) -> bytes:
        cap = self.limit + 1 - self.read_so_far
        return self._count(self.stream.read(cap if size is None or size < 0 else min(size, cap)))

    def readline(self, size: int = -1) -> bytes:
        return self._count(self.stream.readline(size))

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


class BodySizeLimit:
    """413 for bodies over ``limit`` bytes, declared (Content-Length) or streamed (chunked)."""

    def __init__(self, app: WSGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        length = environ.get("CONTENT_LENGTH")
        if length:
            try:
                if int(length) > self.limit:
                    raise exception.RequestTooLarge(limit=self.limit)
            except ValueError:
                raise exception.Invalid(reason=f"Content-Length '{length}' is not a number") from None
        if "wsgi.input" in environ:
            environ["wsgi.input"] = _LimitedInput(environ["wsgi.input"], self.limit)
            environ.pop("webob.is_body_seekable", None)  # the wrapper streams; it cannot seek
        return self.app(environ, start_response)


class AuthMiddleware:
    """Validate ``X-Auth-Token`` and put the RequestContext in the environ.

    ``validate`` turns a token into a context or raises NotAuthenticated. Valid
    tokens are cached for ``cache_seconds`` (revocation takes effect within
    that time). With ``delay_auth_decision`` an absent or bad token is not a
    401 here: the app finds no context and decides (Swift public containers,
    TempURL).
    """

    def __init__(self, app: WSGIApp, validate: TokenValidator, cache_seconds: float = 5.0,
                 delay_auth_decision: bool = False) -> None:
        self.app, self.validate = app, validate
        self.cache_seconds, self.delay = cache_seconds, delay_auth_decision
        self._cache: dict[str, tuple[float, RequestContext]] = {}
        self._lock = threading.Lock()

    def _context(self, token: str) -> RequestContext:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(token)
            if hit and hit[0] > now:
                return hit[1]
        ctx = self.validate(token)
        with self._lock:
            if len(self._cache) > 10000:
                self._cache.clear()
            self._cache[token] = (now + self.cache_seconds, ctx)
        return ctx

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        token = environ.get("HTTP_X_AUTH_TOKEN") or environ.get("HTTP_X_STORAGE_TOKEN")
        try:
            if not token:
                raise exception.NotAuthenticated()
            base = self._context(token)
        except exception.NotAuthenticated:
            if self.delay:
                environ["cumulo.auth_status"] = "invalid" if token else "absent"
                return self.app(environ, start_response)
            raise
        # A fresh copy per request: its own request id, no shared mutation.
        ctx = RequestContext.from_dict({**base.to_dict(), "request_id": environ.get(REQUEST_ID_KEY, base.request_id)})
        ctx.token_info = base.token_info
        environ[CONTEXT_KEY] = ctx
        environ["cumulo.auth_status"] = "confirmed"
        return self.app(environ, start_response)


def noauth_validator(token: str) -> RequestContext:
    """For development and API unit tests: token ``user_id:project_id[:role,role]``.

    Never enabled by default; ``[api] auth_strategy = noauth`` turns it on.
    """
    parts = token.split(":")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise exception.NotAuthenticated("noauth tokens look like 'user:project[:role,role]'.")
    roles = parts[2].split(",") if len(parts) > 2 and parts[2] else ["member", "reader"]
    return RequestContext(user_id=parts[0], project_id=parts[1], roles=roles, auth_token=token)


def pipeline(app: WSGIApp, *, renderer: Renderer = render_error, validate: TokenValidator | None = None,
             max_body: int | None = None, delay_auth_decision: bool = False,
             token_cache_seconds: float = 5.0) -> WSGIApp:
    """The standard stack, outermost first: request id, faults, body limit, auth, app."""
    if validate is not None:
        app = AuthMiddleware(app, validate, token_cache_seconds, delay_auth_decision)
    if max_body is not None:
        app = BodySizeLimit(app, max_body)
    return RequestId(FaultWrapper(app, renderer))
