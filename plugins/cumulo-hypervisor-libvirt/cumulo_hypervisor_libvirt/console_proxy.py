"""The compute process's console proxy: websockify in front of the guests' VNC servers, as Nova's novncproxy.

:class:`TokenStore` holds short-lived random tokens, each naming one console
(a TCP ``host:port``, a domain's VNC server); :meth:`LibvirtDriver.get_remote_console`
issues them (a serial console is a libvirt stream made a socket by
:func:`stream_socket`) and :class:`ConsoleProxy` (started by the driver's ``start_local``
hook, in a thread of the compute process) looks them up when a websocket
client connects with ``?token=<token>``, then relays bytes both ways. The store
is in memory: the proxy and the drivers issuing tokens share the process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import http.cookies
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from http.server import HTTPServer
from socketserver import ThreadingMixIn
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urlparse

from websockify.websocketproxy import ProxyRequestHandler  # type: ignore[import-untyped]
from websockify.websocketserver import WebSocketRequestHandlerMixIn  # type: ignore[import-untyped]

from cumulo.interfaces.hypervisor import HypervisorError

LOG = logging.getLogger(__name__)

#: Where Debian's ``novnc`` package puts ``vnc_auto.html`` and its scripts.
NOVNC_WEB = "/usr/share/novnc"


@dataclasses.dataclass(frozen=True)
class Target:
    """What a token opens: ``host:port`` over TCP, or what ``opener`` returns (a connected socket)."""

    host: str
    port: int
    opener: Callable[[], socket.socket] | None = dataclasses.field(default=None, compare=False)
    label: str = ""  # what log lines call it; host:port when empty

    def __str__(self) -> str:
        return self.label or f"{self.host}:{self.port}"

    def connect(self) -> socket.socket:
        """A socket connected to the console.

        :raises OSError: the console does not answer.
        """
        if self.opener is not None:
            return self.opener()
        sock = socket.create_connection((self.host, self.port), timeout=10)
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_TCP, socket.TCP_NODELAY, 1)
        return sock


class Stream(Protocol):
    """The part of a ``libvirt.virStream`` (blocking) that :func:`stream_socket` uses."""

    def recv(self, nbytes: int) -> bytes: ...
    def send(self, data: bytes) -> int: ...
    def abort(self) -> None: ...


def stream_socket(stream: Stream, name: str = "console") -> socket.socket:
    """A socket whose peer relays to and from ``stream`` (a domain's serial console), in two threads.

    The relay ends, and the stream is aborted, when either side closes.
    """
    ours, theirs = socket.socketpair()
    done = threading.Event()

    def finish() -> None:
        if not done.is_set():
            done.set()
            with contextlib.suppress(Exception):
                stream.abort()
            with contextlib.suppress(OSError):
                ours.shutdown(socket.SHUT_RDWR)

    def from_stream() -> None:
        try:
            while not done.is_set() and (data := stream.recv(65536)):
                if isinstance(data, bytes):  # -2 (would block) never comes from a blocking stream
                    ours.sendall(data)
        except Exception as err:  # libvirtError when the domain stops or the stream is aborted
            LOG.debug("%s stream ended: %s", name, err)
        finally:
            finish()

    def to_stream() -> None:
        try:
            while not done.is_set() and (data := ours.recv(65536)):
                stream.send(data)
        except Exception as err:
            LOG.debug("%s socket ended: %s", name, err)
        finally:
            finish()
            ours.close()

    for pump in (from_stream, to_stream):
        threading.Thread(target=pump, name=f"{name}-relay", daemon=True).start()
    return theirs


@dataclasses.dataclass
class _Entry:
    target: Target
    expires: float


class TokenStore:
    """Random console tokens, each valid for ``ttl`` seconds after it was issued (thread-safe).

    A token may be used more than once until it expires (noVNC reconnects with
    the same URL), as Nova's console tokens.
    """

    def __init__(self, ttl: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self._clock = ttl, clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def issue(self, target: Target, ttl: float | None = None) -> str:
        """A new token opening ``target`` for ``ttl`` seconds (the store's ``ttl`` when None)."""
        token = secrets.token_urlsafe(24)
        now = self._clock()
        with self._lock:
            self._expire(now)
            self._entries[token] = _Entry(target, now + (self.ttl if ttl is None else ttl))
        return token

    def lookup(self, token: str) -> Target | None:
        """The target of ``token``; None when unknown or expired."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            entry = self._entries.get(token)
            return entry.target if entry is not None else None

    def _expire(self, now: float) -> None:
        for token in [t for t, e in self._entries.items() if e.expires <= now]:
            del self._entries[token]


#: The store of this process: the proxy ``start_local`` runs and every driver instance share it.
TOKENS = TokenStore()


class _ConsoleHandler(ProxyRequestHandler):
    """websockify's relay, with the target looked up per connection in the server's :class:`TokenStore`.

    websockify's own handler keeps the target on the server object, which
    concurrent connections of a threaded server would overwrite; here it stays
    on the handler. A missing, unknown or expired token, or a foreign
    ``Origin``, is refused with 403 before the websocket handshake.
    """

    server: _ProxyServer
    target: Target
    directory: str

    def setup(self) -> None:
        super().setup()
        self.directory = self.server.web or self.directory  # static files (noVNC), never the cwd

    def _token(self) -> str:
        query = parse_qs(urlparse(self.path).query)
        if query.get("token"):
            return query["token"][0].strip()
        cookies = http.cookies.SimpleCookie(self.headers.get("Cookie", ""))  # noVNC may send it as a cookie
        return cookies["token"].value if "token" in cookies else ""

    def _origin_allowed(self) -> bool:
        origin = self.headers.get("Origin")
        if not origin:
            return True  # not a browser: a browser always sends Origin on a websocket
        hostname = urlparse(origin).hostname
        allowed = {urlparse(f"//{self.headers.get('Host', '')}").hostname, *self.server.allowed_origins}
        return hostname is not None and hostname in allowed

    def handle_upgrade(self) -> None:
        if not self._origin_allowed():
            self.send_error(403, "Origin not allowed")
            return
        target = self.server.tokens.lookup(self._token())
        if target is None:
            self.send_error(403, "Invalid or expired console token")
            return
        self.target = target
        # websockify's handle_upgrade would look the target up on the server again: skip to the handshake.
        WebSocketRequestHandlerMixIn.handle_upgrade(self)

    def new_websocket_client(self) -> None:
        try:
            target = self.target.connect()
        except Exception as err:  # OSError, or the opener's own (libvirtError)
            LOG.info("console proxy: %s does not answer: %s", self.target, err)
            raise self.CClose(1011, "Failed to connect to the console") from err
        try:
            with self.server.session(self.request):
                self.do_proxy(target)
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_RDWR)
            target.close()

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("console proxy %s: " + format, self.client_address[0], *args)


class _ProxyServer(ThreadingMixIn, HTTPServer):
    """A threaded HTTP server whose handlers relay websockets to console targets."""

    daemon_threads = True
    allow_reuse_address = True
    # What websockify's handlers read from their server.
    only_upgrade = False
    file_only = True  # no directory listings
    heartbeat = None
    verbose = False

    def __init__(self, address: tuple[str, int], tokens: TokenStore, web: str | None,
                 allowed_origins: set[str]) -> None:
        self.tokens, self.web, self.allowed_origins = tokens, web, allowed_origins
        self.only_upgrade = not web
        self._sessions: set[Any] = set()
        self._sessions_lock = threading.Lock()
        super().__init__(address, _ConsoleHandler)

    @contextlib.contextmanager
    def session(self, websocket: Any) -> Any:
        """Track a live relay so that :meth:`close_sessions` can end it."""
        with self._sessions_lock:
            self._sessions.add(websocket)
        try:
            yield
        finally:
            with self._sessions_lock:
                self._sessions.discard(websocket)

    def close_sessions(self) -> None:
        with self._sessions_lock:
            live = list(self._sessions)
        for websocket in live:
            with contextlib.suppress(Exception):
                websocket.socket.shutdown(socket.SHUT_RDWR)


class ConsoleProxy:
    """The websocket proxy serving ``tokens`` on ``host:port``, in a thread; a :class:`Stoppable`.

    ``port`` busy: when ``fixed_port`` is false (no base URL was configured, so
    clients learn the port from the URLs issued), any free port is taken
    instead, with a warning; else start fails. ``web``: a directory of static
    files (noVNC's ``vnc_auto.html``) served to plain GETs; None serves
    websockets only. ``base_url``: the URL clients are given, ``vnc_auto.html``
    on the bound address when empty.
    """

    def __init__(self, tokens: TokenStore, host: str = "127.0.0.1", port: int = 6080, *,
                 base_url: str = "", web: str | None = None, fixed_port: bool = False) -> None:
        self.tokens, self.web = tokens, web
        self._base_url = base_url
        origins = {h for h in (urlparse(base_url).hostname,) if h}
        try:
            self._server = _ProxyServer((host, port), tokens, web, origins)
        except OSError as err:
            if err.errno != errno.EADDRINUSE or fixed_port or port == 0:
                raise HypervisorError(f"the console proxy cannot listen on {host}:{port}: {err}") from err
            LOG.warning("console proxy: %s:%d is in use; listening on a free port instead", host, port)
            self._server = _ProxyServer((host, 0), tokens, web, origins)
        self._thread = threading.Thread(target=self._server.serve_forever, name="console-proxy", daemon=True)

    def __repr__(self) -> str:
        return f"<console proxy {self.address[0]}:{self.address[1]}>"

    @property
    def address(self) -> tuple[str, int]:
        """The bound ``(host, port)``."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def base_url(self) -> str:
        """Where clients open noVNC: the configured base URL or ``http://host:port/vnc_auto.html``."""
        if self._base_url:
            return self._base_url
        host, port = self.address
        return f"http://{host}:{port}/vnc_auto.html"

    def url(self, token: str) -> str:
        """The noVNC URL of ``token`` as Nova gives it: ``<base>?path=%3Ftoken%3D<token>``."""
        sep = "&" if "?" in self.base_url else "?"
        return f"{self.base_url}{sep}{urlencode({'path': f'?token={token}'})}"

    def websocket_url(self, token: str) -> str:
        """The websocket of ``token`` itself, as Nova's serial console URLs: ``ws://host:port/?token=<token>``."""
        base = urlparse(self.base_url)
        return f"{'wss' if base.scheme == 'https' else 'ws'}://{base.netloc}/?token={token}"

    def start(self) -> ConsoleProxy:
        self._thread.start()
        LOG.info("console proxy listening on %s:%d (noVNC %s)", *self.address,
                 f"from {self.web}" if self.web else "pages not installed; websockets only")
        return self

    def stop(self) -> None:
        """Stop listening and end the live relays."""
        global _ACTIVE
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self._server.close_sessions()
        if _ACTIVE is self:
            _ACTIVE = None


_ACTIVE: ConsoleProxy | None = None


def start(host: str, port: int, base_url: str = "", web: str | None = None,
          tokens: TokenStore = TOKENS) -> ConsoleProxy:
    """Start the process's console proxy (once; a second call returns the running one)."""
    global _ACTIVE
    if _ACTIVE is None:
        if web is not None and not os.path.isdir(web):
            web = None
        _ACTIVE = ConsoleProxy(tokens, host, port, base_url=base_url, web=web, fixed_port=bool(base_url)).start()
    return _ACTIVE


def active() -> ConsoleProxy | None:
    """The console proxy this process runs, if any."""
    return _ACTIVE
