"""The API server: cheroot (CherryPy's production WSGI server), frontends mounted by path.

Requests cheroot refuses itself (a malformed request line or header, a bad
Content-Length) get the kernel's JSON fault body, not cheroot's plain text; and
it refuses two more framing mistakes cheroot would let through: duplicate
Content-Length headers (cheroot keeps the last one, so the body is misread) and
Content-Length together with Transfer-Encoding. A connection whose chunked body
was not read to its end is closed after the answer, never reused.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from cheroot import errors as cheroot_errors
from cheroot import server as cheroot_server
from cheroot import wsgi

LOG = logging.getLogger(__name__)
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


class _LineSpy:
    """A read-only stream proxy remembering the header names it returned (lower-cased)."""

    def __init__(self, rfile: Any) -> None:
        self.rfile = rfile
        self.names: list[bytes] = []

    def readline(self, *args: Any) -> bytes:
        line: bytes = self.rfile.readline(*args)
        if line[:1] not in (b" ", b"\t") and b":" in line:
            self.names.append(line.split(b":", 1)[0].strip().lower())
        return line


class _StrictHeaderReader(cheroot_server.HeaderReader):
    """cheroot's header reader, refusing ambiguous body framing (cheroot answers 400)."""

    def __call__(self, rfile: Any, hdict: dict[bytes, bytes] | None = None) -> dict[bytes, bytes]:
        spy = _LineSpy(rfile)
        headers: dict[bytes, bytes] = super().__call__(spy, hdict)
        if spy.names.count(b"content-length") > 1:
            raise ValueError("Duplicate Content-Length headers; send exactly one.")
        if b"content-length" in spy.names and b"transfer-encoding" in spy.names:
            raise ValueError("A request cannot have both Content-Length and Transfer-Encoding.")
        return headers


class _HTTPRequest(cheroot_server.HTTPRequest):
    header_reader = _StrictHeaderReader()

    def send_headers(self) -> None:
        # A chunked body not read to its last chunk (the app answered early, or the coding
        # was bad) would be parsed as the next request on this connection: close it instead.
        if self.chunked_read and not getattr(self.rfile, "closed", True):
            self.close_connection = True
        super().send_headers()

    def simple_response(self, status: Any, msg: Any = "") -> None:
        """cheroot's own answers (400, 408, 413, 414, 500...) as a JSON fault."""
        text = str(status)
        extra: list[bytes] = []
        if text[:3] in ("413", "414"):
            self.close_connection = True
            if self.response_protocol == "HTTP/1.1":
                extra.append(b"Connection: close\r\n")
            else:
                text = "400 Bad Request"  # HTTP/1.0 has neither status (as cheroot does)
        code = int(text[:3]) if text[:3].isdigit() else 500
        title = text[4:] or "Error"
        if isinstance(msg, bytes):
            msg = msg.decode("latin-1")
        message = str(msg) if msg and code < 500 else (title if code < 500 else
                                                         "The server could not handle the request.")
        body = json.dumps({"error": {"code": code, "title": title, "message": message}})
        # cheroot writes Content-Type: text/plain itself; a JSON body needs the header right.
        proto = f"{self.server.protocol} {text}\r\n".encode("latin-1")
        head = [proto, f"Content-Length: {len(body)}\r\n".encode(), b"Content-Type: application/json\r\n", *extra]
        try:
            self.conn.wfile.write(b"".join(head) + b"\r\n" + body.encode("latin-1"))
        except OSError as ex:
            if ex.args and ex.args[0] not in cheroot_errors.socket_errors_to_ignore:
                raise


class _HTTPConnection(cheroot_server.HTTPConnection):
    RequestHandlerClass = _HTTPRequest


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
        self.server.ConnectionClass = _HTTPConnection
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
