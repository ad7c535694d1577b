"""Kernel middleware: request ids, access log, request framing, body size limits,
authentication, and the standard pipeline."""

from __future__ import annotations

import logging
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from cumulo import exception
from cumulo.context import RequestContext, new_request_id
from cumulo.wsgi.faults import FaultWrapper, Renderer, render_error
from cumulo.wsgi.request import CONTEXT_KEY, REQUEST_ID_KEY, MalformedBody

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Any]
TokenValidator = Callable[[str], RequestContext]

ACCESS_LOG = logging.getLogger("cumulo.access")
UNSCOPED_MESSAGE = "This API needs a project-scoped token; this token has no project."


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


#: Query parameters whose values are secrets (TempURL and S3-style signatures, tokens).
_SECRET_PARAMS = re.compile(r"(?i)^(temp_url_sig|signature|x-amz-signature|x-amz-security-token|"
                            r"token|auth_token|x-auth-token|password|secret)$")


def _redacted_query(query: str) -> str:
    """The query string with secret values replaced by ``***`` (the names are kept)."""
    out = []
    for part in query.split("&"):
        name, sep, _value = part.partition("=")
        plain = urllib.parse.unquote(name.replace("+", " "))
        out.append(f"{name}=***" if sep and _SECRET_PARAMS.match(plain) else part)
    return "&".join(out)


def _printable(text: str) -> str:
    """A path or query for one log line: control, space and non-ASCII characters percent-encoded."""
    return urllib.parse.quote(text.encode("latin-1", "replace"), safe="/:@!$&'()*+,;=-._~%?")


class AccessLog:
    """One line per request on the ``cumulo.access`` logger, after the response is sent.

    ``METHOD path?query status= bytes= duration_ms= request_id= project_id= remote=``
    (the project read after the app returned, from the context the auth middleware
    or the app put in the environ; ``-`` when unauthenticated). Secrets in the query
    (``temp_url_sig`` and alike) are redacted; headers (tokens) are never logged. It
    sits outside the fault layer, so a 4xx or 5xx fault is logged like any answer.
    """

    def __init__(self, app: WSGIApp, logger: logging.Logger = ACCESS_LOG) -> None:
        self.app, self.log = app, logger

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("cumulo.access_logged"):  # a pipeline inside another: log once
            return self.app(environ, start_response)
        environ["cumulo.access_logged"] = True
        started = time.monotonic()
        path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
        query = str(environ.get("QUERY_STRING", ""))
        seen: dict[str, Any] = {"status": "-"}

        def _start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            body = self.app(environ, _start)
        except BaseException:
            self._write(environ, path, query, seen["status"] if seen["status"] != "-" else "500", 0, started)
            raise
        return _CountingBody(body, lambda sent: self._write(environ, path, query, seen["status"], sent, started))

    def _write(self, environ: dict[str, Any], path: str, query: str, status: str, sent: int,
               started: float) -> None:
        try:
            ctx = environ.get(CONTEXT_KEY)
            project = getattr(ctx, "project_id", None) or "-"
            target = _printable(path) + ("?" + _printable(_redacted_query(query)) if query else "")
            ms = (time.monotonic() - started) * 1000.0
            method = _printable(str(environ.get("REQUEST_METHOD", "-")))
            self.log.info("%s %s status=%s bytes=%d duration_ms=%.1f request_id=%s project_id=%s remote=%s",
                          method, target, status, sent, ms, environ.get(REQUEST_ID_KEY, "-"), project,
                          environ.get("REMOTE_ADDR") or "-",
                          extra={"method": method, "path": target, "status": status, "bytes": sent,
                                 "duration_ms": round(ms, 1), "request_id": environ.get(REQUEST_ID_KEY),
                                 "project_id": None if project == "-" else project,
                                 "remote_addr": environ.get("REMOTE_ADDR")})
        except Exception:  # logging must never break a response
            logging.getLogger(__name__).exception("Writing the access log failed")


class _CountingBody:
    """The response iterable, counting bytes; ``done(bytes)`` runs once at close (or exhaustion)."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]) -> None:
        self.body, self._done, self.sent, self._logged, self._closed = body, done, 0, False, False

    def _finish(self) -> None:
        if not self._logged:
            self._logged = True
            self._done(self.sent)

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.sent += len(chunk)
            yield chunk
        self._finish()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self._finish()


class _CheckedInput:
    """``wsgi.input`` that turns read errors and early ends into :class:`MalformedBody`.

    The server's stream raises its own errors for bad chunked coding and returns
    ``b""`` early when the client sends less than its Content-Length; either is
    the client's mistake, so it is a 400, never an unexpected error.
    """

    def __init__(self, stream: Any, length: int | None) -> None:
        self.stream, self.length, self.received = stream, length, 0

    def _got(self, data: bytes, asked: int | None, line: bool) -> bytes:
        before = self.received
        self.received += len(data)
        if self.length is None or asked == 0 or self.received >= self.length:
            return data
        # Server streams block until they have what was asked: less (or nothing) means the end.
        wanted = self.length - before if asked is None or asked < 0 else min(asked, self.length - before)
        if not data or (not line and len(data) < wanted):
            raise MalformedBody(reason=f"the body is incomplete: it ended after {self.received} of the "
                                       f"{self.length} bytes its Content-Length declares")
        return data

    def _call(self, fn: Callable[..., bytes], size: int | None, line: bool = False) -> bytes:
        try:
            data = fn() if size is None or size < 0 else fn(size)
        except exception.CumuloError:
            raise
        except Exception as err:  # cheroot: ValueError/IOError/MaxSizeExceeded for bad chunked coding
            raise MalformedBody(reason=f"{err} (after {self.received} bytes)") from None
        return self._got(data, size, line)

    def read(self, size: int | None = -1) -> bytes:
        return self._call(self.stream.read, size)

    def readline(self, size: int | None = -1) -> bytes:
        return self._call(self.stream.readline, size, line=True)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    def close(self) -> None:
        close = getattr(self.stream, "close", None)
        if close is not None:
            close()


class RequestFraming:
    """400 for a request whose body framing is wrong, before any app reads it.

    A Content-Length that is not a plain non-negative number, or one together with
    ``Transfer-Encoding: chunked`` (RFC 9112 section 6.3: a request-smuggling sign),
    is refused; the body stream is wrapped so a truncated body or bad chunked
    coding is a 400 when read (see :class:`_CheckedInput`). Duplicate
    Content-Length headers never reach here: the server refuses them
    (:mod:`cumulo.wsgi.server`).
    """

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        raw = environ.get("CONTENT_LENGTH")
        length = None
        if raw not in (None, ""):
            text = str(raw).strip()
            if not text.isdigit() or not text.isascii():
                raise exception.Invalid(reason=f"Content-Length '{raw}' is not a non-negative integer")
            length = int(text)
            environ["CONTENT_LENGTH"] = text
        chunked = "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()
        if chunked and length is not None:
            raise exception.Invalid(reason="A request cannot have both Content-Length and "
                                           "Transfer-Encoding: chunked")
        if "wsgi.input" in environ and not isinstance(environ["wsgi.input"], _CheckedInput):
            environ["wsgi.input"] = _CheckedInput(environ["wsgi.input"], length)
            environ.pop("webob.is_body_seekable", None)  # the wrapper streams; it cannot seek
        return self.app(environ, start_response)


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


#: Where the API server says which catalog service type the frontend answering a request is
#: (:class:`ServiceType`); access rules of application credentials are matched against it.
SERVICE_TYPE_KEY = "cumulo.service_type"


def _rule_path(glob: str) -> re.Pattern[str]:
    parts = re.split(r"(\*\*|\*)", glob)
    return re.compile("".join("[^/]*" if p == "*" else ".*" if p == "**" else re.escape(p) for p in parts) + r"\Z")


def access_rules_allow(rules: Any, service_type: str | None, method: str, path: str) -> bool:
    """Whether an application credential's ``rules`` allow ``method`` on ``path`` of ``service_type``.

    Each rule is ``{"service", "method", "path"}``; the path is a glob where ``*`` is one path
    segment and ``**`` any number of them, as keystonemiddleware matches them. No service type
    (a frontend not in the catalog) allows nothing.
    """
    if not service_type:
        return False
    for rule in rules or ():
        if rule.get("service") == service_type and str(rule.get("method", "")).upper() == method.upper() \
                and _rule_path(str(rule.get("path", ""))).match(path):
            return True
    return False


class ServiceType:
    """Tells the layers below which catalog service type answers (``environ[SERVICE_TYPE_KEY]``)."""

    def __init__(self, app: WSGIApp, service_type: str) -> None:
        self.app, self.service_type = app, service_type

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self.service_type:
            environ[SERVICE_TYPE_KEY] = self.service_type
        return self.app(environ, start_response)


class AuthMiddleware:
    """Validate ``X-Auth-Token`` and put the RequestContext in the environ.

    ``validate`` turns a token into a context or raises NotAuthenticated. Valid
    tokens are cached for ``cache_seconds`` (revocation takes effect within
    that time). With ``delay_auth_decision`` an absent or bad token is not a
    401 here: the app finds no context and decides (Swift public containers,
    TempURL).

    With ``project_scoped`` (the default, every API but identity) a token with
    no project that is not system-scoped (unscoped or domain-scoped) gets a 403,
    as Keystone-backed services give it nothing; with ``delay_auth_decision``
    such a token counts as an invalid one (the request goes on anonymous).

    A token of an application credential with access rules is a 401 (or anonymous, with
    ``delay_auth_decision``) unless a rule allows the request on the service type
    :class:`ServiceType` names (:func:`access_rules_allow`).
    """

    def __init__(self, app: WSGIApp, validate: TokenValidator, cache_seconds: float = 5.0,
                 delay_auth_decision: bool = False, project_scoped: bool = True) -> None:
        self.app, self.validate = app, validate
        self.cache_seconds, self.delay = cache_seconds, delay_auth_decision
        self.project_scoped = project_scoped
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
        if self.project_scoped and not base.project_id and not base.system_scope:
            if self.delay:
                environ["cumulo.auth_status"] = "invalid"
                return self.app(environ, start_response)
            raise exception.Forbidden(UNSCOPED_MESSAGE)
        rules = (base.token_info or {}).get("access_rules")
        if rules is not None and not access_rules_allow(rules, environ.get(SERVICE_TYPE_KEY),
                                                        environ.get("REQUEST_METHOD", "GET"),
                                                        environ.get("PATH_INFO", "") or "/"):
            # As keystonemiddleware: an application credential's token reaches only what its rules allow.
            if self.delay:
                environ["cumulo.auth_status"] = "invalid"
                return self.app(environ, start_response)
            raise exception.NotAuthenticated("The application credential's access rules do not allow this "
                                             "request.")
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
             token_cache_seconds: float = 5.0, project_scoped: bool = True) -> WSGIApp:
    """The standard stack, outermost first: request id, access log, faults, request framing,
    body limit, auth, app.

    ``project_scoped`` (with ``validate``): tokens without a project get a 403 (or, with
    ``delay_auth_decision``, count as anonymous); only the identity API passes False.
    """
    if validate is not None:
        app = AuthMiddleware(app, validate, token_cache_seconds, delay_auth_decision, project_scoped)
    if max_body is not None:
        app = BodySizeLimit(app, max_body)
    return RequestId(AccessLog(FaultWrapper(RequestFraming(app), renderer)))
