"""The API server: cheroot (CherryPy's production WSGI server), frontends mounted by path."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from cheroot import wsgi

LOG = logging.getLogger(__name__)
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


class PathDispatcher:
    """Mount apps under path prefixes; the longest prefix wins; ``""`` is the root app.

    SCRIPT_NAME/PATH_INFO are adjusted so each app sees its own root.
    """

    def __init__(self, mounts: dict[str, WSGIApp], not_found: WSGIApp | None = None) -> None:
        self.mounts = sorted(((p.rstrip("/"), a) for p, a in mounts.items()), key=lambda m: -len(m[0]))
        self.not_found = not_found

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "") or "/"
        for prefix, app in self.mounts:
            if prefix == "" or path == prefix or path.startswith(prefix + "/"):
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
                environ["PATH_INFO"] = path[len(prefix):]
                return app(environ, start_response)
        if self.not_found is not None:
            return self.not_found(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"error": {"code": 404, "title": "Not Found", "message": "No API is mounted at this path."}}']


class Server:
    """A threaded WSGI server on ``(host, port)``; port 0 picks a free one."""

    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 0, threads: int = 64,
                 name: str = "cumulo-api") -> None:
        self.server = wsgi.Server((host, port), app, numthreads=threads, server_name=name,
                                  request_queue_size=max(128, threads * 2), timeout=60,
                                  accepted_queue_timeout=30)
        # Large bodies stream through; cheroot must not cap them.
        self.server.max_request_body_size = 0
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server.bind_addr[1]

    @property
    def host(self) -> str:
        return self.server.bind_addr[0]

    def bind(self) -> None:
        """Bind the socket now, so ``port`` is known before the apps are built."""
        self.server.prepare()

    def start(self) -> None:
        """Bind (if not yet) and serve in a background thread."""
        if not self.server.ready:
            self.server.prepare()
        self._thread = threading.Thread(target=self.server.serve, name=self.server.server_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.stop()
        if self._thread:
            self._thread.join(timeout=10)
