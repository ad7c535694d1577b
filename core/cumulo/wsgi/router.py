"""URL routing on Routes: 404 for unknown paths, 405 (with Allow) for wrong methods, 400 for
a path or query that is not valid UTF-8 (before a handler sees a garbled parameter)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import routes
import routes.middleware
import webob
import webob.exc

from cumulo.wsgi.request import Request, check_url, json_response

Handler = Callable[..., Any]


def to_response(result: Any) -> webob.Response:
    """Turn what a handler returned into a response."""
    if isinstance(result, webob.Response):
        return result
    if result is None:
        return json_response(None, status=204)
    if isinstance(result, tuple):
        status, body, *rest = result
        return json_response(body, status=status, headers=rest[0] if rest else None)
    return json_response(result)


def _text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):  # already text (a test's environ)
        return value


class Router:
    """``router.add("GET", "/servers/{server_id}", handler)``; the handler gets ``(req, server_id=...)``."""

    def __init__(self) -> None:
        self.mapper = routes.Mapper()
        self.mapper.explicit = True
        self._methods: dict[str, set[str]] = {}
        self._path_mapper = routes.Mapper()
        self._app = routes.middleware.RoutesMiddleware(self._dispatch, self.mapper, singleton=False)

    def add(self, methods: str | list[str], path: str, handler: Handler) -> None:
        methods = [methods] if isinstance(methods, str) else list(methods)
        for method in methods:
            self.mapper.connect(path, handler=handler, conditions={"method": [method]})
        if path not in self._methods:
            self._path_mapper.connect(path, path_key=path)
            self._methods[path] = set()
        self._methods[path].update(methods)

    def routes(self) -> list[tuple[str, str]]:
        """Every ``(method, path template)`` pair added, sorted (for docs and fuzz tests)."""
        return sorted((method, path) for path, methods in self._methods.items() for method in methods)

    def _allowed(self, path_info: str) -> set[str] | None:
        match = self._path_mapper.match(path_info)
        if not match:
            return None
        return self._methods.get(match["path_key"])

    def _dispatch(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        # Errors propagate (not rendered here) so the frontend's FaultWrapper renders them its way.
        req = Request(environ)
        match = req.environ["wsgiorg.routing_args"][1]
        if not match:
            allowed = self._allowed(req.path_info)
            if allowed:
                allow = ", ".join(sorted(allowed))
                raise webob.exc.HTTPMethodNotAllowed(
                    detail=f"Method {req.method} is not allowed on {req.path_info}; allowed: {allow}",
                    headers={"Allow": allow})
            raise webob.exc.HTTPNotFound(detail=f"The resource {req.path_info} could not be found.")
        # Routes matches the WSGI (latin-1) PATH_INFO; handlers get text (UTF-8, checked in __call__).
        params = {k: _text(v) for k, v in match.items() if k not in ("handler", "controller", "action")}
        return to_response(match["handler"](req, **params))(environ, start_response)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        check_url(environ)  # 400 before any route parameter or query value is decoded
        if environ.get("PATH_INFO", "") == "":
            environ["PATH_INFO"] = "/"
        return self._app(environ, start_response)
