"""Metadata proxies: 169.254.169.254:80 in router and DHCP namespaces, forwarded signed to the metadata service.

No extra processes: the driver process makes each listening socket inside its
namespace (:func:`netns.in_namespace`; a socket stays in the namespace it was
made in) and serves it with threads started from this process's own
namespace, so the forwarding connection to the metadata service (an HTTP app
on 127.0.0.1 of that namespace) is made from there.

For each request the proxy asks its :data:`Lookup` which instance owns the
source address in that namespace, drops every header of the instance's but a
few harmless ones (the upstream believes ``X-Instance-ID`` and friends from a
proxy, so an instance must not be able to write them), and adds the signed
headers of :mod:`cumulo.utils.metadata_proxy` (Nova's scheme). Unknown
sources get 404, methods other than GET and HEAD 405, requests whose line and
headers exceed :data:`MAX_REQUEST_HEAD` 431, slow clients 408 and upstream
failures 502 (504 on a timeout). One line per request is logged at DEBUG.
"""

from __future__ import annotations

import dataclasses
import http.client
import http.server
import io
import logging
import os
import socket
import socketserver
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from cumulo.interfaces.network import NetworkDriverError
from cumulo.utils import metadata_proxy as proxy_auth
from cumulo_network_linux import netns

LOG = logging.getLogger(__name__)

#: Bytes of request line and headers an instance may send.
MAX_REQUEST_HEAD = 8192
#: Bytes of an upstream answer the proxy relays (user data is at most 64 KiB).
MAX_RESPONSE = 1 << 20
#: Connections served at once per namespace; more are closed unanswered (a thread each).
MAX_CONNECTIONS = 64
#: Seconds a removed proxy's serving loop takes at most to notice it must stop.
POLL_INTERVAL = 0.2
#: Linux's IP_FREEBIND (the socket module of Python 3.11 lacks the name): bind before the address exists,
#: so the proxy does not depend on whether the DHCP interface or ``lo`` got 169.254.169.254 first.
IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)

#: Request headers of the instance's that are passed on; every other one is dropped.
PASSED_HEADERS = frozenset({"accept", "accept-encoding", "accept-language", "user-agent", "if-none-match",
                            "if-modified-since", "cache-control"})
#: Response headers not relayed: hop-by-hop ones, and those the proxy sets itself.
DROPPED_RESPONSE_HEADERS = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-connection", "te",
                                      "trailer", "transfer-encoding", "upgrade", "server", "date",
                                      "content-length"})


@dataclasses.dataclass(frozen=True)
class InstanceRef:
    """Who is asking: the instance that owns the request's source address, and its project."""

    instance_id: str
    project_id: str


#: ``(namespace, source address) -> InstanceRef | None``, called from a serving thread for every request;
#: None means no instance of that namespace's networks has that address (the request gets 404).
Lookup = Callable[[str, str], "InstanceRef | None"]


class MetadataProxies:
    """The metadata proxies of this host, one per namespace, each served by threads of this process.

    :param upstream_url: the metadata service, ``http(s)://host:port/prefix``; a request for ``/x`` is
        forwarded to ``prefix/x``.
    :param secret: ``[metadata] proxy_shared_secret``, which signs the instance ids; empty: no proxy
        starts (:meth:`ensure` raises), since the metadata service would trust none.
    :param lookup: tells which instance asks (see :data:`Lookup`).
    :param address: where each proxy listens in its namespace, with ``port``.
    :param upstream_timeout: seconds for connecting to the metadata service and for each read from it.
    :param client_timeout: seconds an instance has to send its request line and headers, and for each
        write of the answer.
    """

    def __init__(self, upstream_url: str, secret: str, lookup: Lookup, address: str = "169.254.169.254",
                 port: int = 80, *, upstream_timeout: float = 10.0, client_timeout: float = 10.0) -> None:
        self.upstream_url = upstream_url
        self.secret = secret
        self.lookup = lookup
        self.address = address
        self.port = port
        self.upstream_timeout = upstream_timeout
        self.client_timeout = client_timeout
        url = urllib.parse.urlsplit(upstream_url)
        self._scheme = url.scheme
        self._upstream_host = url.hostname or ""
        try:
            self._upstream_port = url.port
        except ValueError:  # a port that is not a number; ensure() reports the URL
            self._upstream_host = ""
            self._upstream_port = None
        self.prefix = url.path.rstrip("/")
        self._lock = threading.Lock()
        self._proxies: dict[str, _Proxy] = {}

    def ensure(self, namespace: str) -> None:
        """Serve metadata in ``namespace``; nothing when its proxy runs there already.

        A proxy whose namespace was deleted and made again (its socket is in the old one) is replaced.

        :raises NetworkDriverError: the secret is empty, the upstream URL is not one, the namespace
            does not exist, or the socket cannot be made there.
        """
        if not self.secret:
            raise NetworkDriverError("metadata proxy not started: [metadata] proxy_shared_secret is empty, so "
                                     "the metadata service would trust no proxy")
        if self._scheme not in ("http", "https") or not self._upstream_host:
            raise NetworkDriverError(f"metadata proxy not started: the metadata service URL {self.upstream_url!r} "
                                     "is not http(s)://host[:port][/prefix] ([linux_network] metadata_url)")
        try:
            current = os.stat(os.path.join(netns.NETNS_RUN_DIR, namespace))
        except OSError as err:
            raise NetworkDriverError(f"metadata proxy: namespace {namespace} does not exist ({err})") from err
        with self._lock:
            proxy = self._proxies.get(namespace)
            if proxy is not None and proxy.alive() and proxy.netns_id == (current.st_dev, current.st_ino):
                return
            if proxy is not None:
                LOG.info("metadata proxy of %s had stopped or its namespace was made again: restarting it",
                         namespace)
                del self._proxies[namespace]
                proxy.stop()
            self._proxies[namespace] = self._start(namespace)
        LOG.debug("metadata proxy listening on %s:%d in %s", self.address, self.port, namespace)

    def remove(self, namespace: str) -> None:
        """Stop the proxy of ``namespace`` and close its socket; nothing when it has none."""
        with self._lock:
            proxy = self._proxies.pop(namespace, None)
        if proxy is not None:
            proxy.stop()
            LOG.debug("metadata proxy of %s stopped", namespace)

    def running(self) -> set[str]:
        """The namespaces with a proxy serving."""
        with self._lock:
            return {ns for ns, proxy in self._proxies.items() if proxy.alive()}

    def close(self) -> None:
        """Stop every proxy."""
        with self._lock:
            proxies, self._proxies = list(self._proxies.values()), {}
        for proxy in proxies:
            proxy.stop()

    # -- inside ------------------------------------------------------------------------------------
    def _start(self, namespace: str) -> _Proxy:
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET

        def listen() -> tuple[socket.socket, tuple[int, int]]:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.IPPROTO_IPV6 if family == socket.AF_INET6 else socket.IPPROTO_IP,
                                IP_FREEBIND, 1)
                sock.bind((self.address, self.port))
                sock.listen(128)
                here = os.stat("/proc/thread-self/ns/net")
            except BaseException:
                sock.close()
                raise
            return sock, (here.st_dev, here.st_ino)

        try:
            sock, netns_id = netns.in_namespace(namespace, listen)
        except OSError as err:
            raise NetworkDriverError(f"metadata proxy: cannot listen on {self.address}:{self.port} in "
                                     f"{namespace}: {err}") from err
        server = _Server(sock, self, namespace)
        thread = threading.Thread(target=server.serve_forever, args=(POLL_INTERVAL,),
                                  name=f"metadata-proxy-{namespace}", daemon=True)
        thread.start()
        return _Proxy(server, thread, netns_id)

    def upstream(self) -> http.client.HTTPConnection:
        """A new connection to the metadata service (made from this process's namespace when used)."""
        if self._scheme == "https":
            return http.client.HTTPSConnection(self._upstream_host, self._upstream_port,
                                               timeout=self.upstream_timeout)
        return http.client.HTTPConnection(self._upstream_host, self._upstream_port, timeout=self.upstream_timeout)


@dataclasses.dataclass
class _Proxy:
    server: _Server
    thread: threading.Thread
    netns_id: tuple[int, int]  # (st_dev, st_ino) of the namespace the socket is in

    def alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """An HTTP server around a socket made elsewhere (in the namespace), a thread per connection, a few at once."""

    daemon_threads = True
    block_on_close = False  # stopping a proxy does not wait for requests in flight (they time out)

    def __init__(self, sock: socket.socket, proxies: MetadataProxies, namespace: str) -> None:
        # Not HTTPServer.__init__: it would make and bind a socket of its own, in this process's namespace.
        socketserver.BaseServer.__init__(self, sock.getsockname()[:2], _Handler)
        self.socket = sock
        self.proxies = proxies
        self.namespace = namespace
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            LOG.debug("metadata proxy %s: %d connections already, one from %s closed", self.namespace,
                      MAX_CONNECTIONS, client_address[0])
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        LOG.exception("metadata proxy %s: request from %s failed", self.namespace, client_address[0])


class _HeadTooLarge(Exception):
    pass


def _upstream_path(target: str) -> str | None:
    """The path (and query) to ask upstream for request target ``target``; None when it is not a plain path.

    Dot segments are refused so that no request leaves the metadata service's prefix.
    """
    if not target.startswith("/"):
        url = urllib.parse.urlsplit(target)
        if url.scheme != "http" or not url.path.startswith("/"):
            return None
        target = url.path + (f"?{url.query}" if url.query else "")
    if any(ord(c) <= 0x20 or ord(c) >= 0x7F for c in target):
        return None
    path = target.partition("?")[0]
    if any(urllib.parse.unquote(segment) in (".", "..") for segment in path.split("/")):
        return None
    return target


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    server_version = "cumulo-metadata-proxy"
    sys_version = ""
    protocol_version = "HTTP/1.0"  # one request per connection

    def handle(self) -> None:
        started = time.monotonic()
        self.command, self.path, self.requestline, self.request_version = "", "", "", "HTTP/1.0"
        self._status = 0
        self._instance: InstanceRef | None = None
        try:
            head = self._read_head()
            if head is not None:
                self.rfile.close()
                self.rfile = io.BytesIO(head)
                self.handle_one_request()
        except OSError as err:  # the instance went away, or stopped reading, while it was answered
            LOG.debug("metadata proxy %s: connection from %s lost: %s", self.server.namespace,
                      self.client_address[0], err)
        finally:
            if self._status:
                LOG.debug("metadata proxy %s: %s %r from %s (instance %s): %d in %.3f s", self.server.namespace,
                          self.command or "-", self.path or "-", self.client_address[0],
                          self._instance.instance_id if self._instance else "-", self._status,
                          time.monotonic() - started)

    def _read_head(self) -> bytes | None:
        """The request line and headers, read within ``client_timeout`` in all; None: answered or gone."""
        deadline = time.monotonic() + self.server.proxies.client_timeout
        data = b""
        try:
            while True:
                ends = [pos + len(blank) for blank in (b"\r\n\r\n", b"\n\n") if (pos := data.find(blank)) >= 0]
                if ends:
                    return data[:min(ends)]
                if len(data) > MAX_REQUEST_HEAD:
                    raise _HeadTooLarge
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                self.connection.settimeout(remaining)
                chunk = self.connection.recv(MAX_REQUEST_HEAD + 1 - len(data))
                if not chunk:
                    return None
                data += chunk
        except TimeoutError:
            self._settle()
            self._reply(408, "Request Timeout", "The request did not arrive in time.")
        except _HeadTooLarge:
            self._settle()
            self._reply(431, "Request Header Fields Too Large",
                        f"The request line and headers exceed {MAX_REQUEST_HEAD} bytes.")
        except OSError:  # the instance went away
            pass
        return None

    def _settle(self) -> None:
        """Writes of the answer get the client timeout again (reading may have used it up)."""
        self.connection.settimeout(self.server.proxies.client_timeout)

    def do_GET(self) -> None:
        self._settle()
        self._forward()

    do_HEAD = do_GET

    def _not_allowed(self) -> None:
        self._settle()
        self._reply(405, "Method Not Allowed", "The metadata service is read-only.", {"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def _forward(self) -> None:
        proxies = self.server.proxies
        path = _upstream_path(self.path)
        if path is None:
            self._reply(400, "Bad Request", "The request target is not a metadata path.")
            return
        source = self.client_address[0]
        try:
            self._instance = proxies.lookup(self.server.namespace, source)
        except Exception:  # the lookup's failure is the proxy's, not the instance's: say so, do not crash
            LOG.exception("metadata proxy %s: cannot tell who %s is", self.server.namespace, source)
            self._reply(503, "Service Unavailable", "The metadata proxy cannot tell who is asking right now.")
            return
        if self._instance is None:
            self._reply(404, "Not Found", "The resource could not be found.")
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() in PASSED_HEADERS and v.isprintable()}
        headers.update({
            proxy_auth.INSTANCE_ID_HEADER: self._instance.instance_id,
            proxy_auth.SIGNATURE_HEADER: proxy_auth.sign(self._instance.instance_id, proxies.secret),
            proxy_auth.TENANT_HEADER: self._instance.project_id,
            proxy_auth.FORWARDED_HEADER: source,
        })
        conn = proxies.upstream()
        try:
            conn.request(self.command, proxies.prefix + path, headers=headers)
            resp = conn.getresponse()
            body = resp.read(MAX_RESPONSE + 1)
            answer = [(k, v) for k, v in resp.getheaders() if k.lower() not in DROPPED_RESPONSE_HEADERS]
            length = resp.getheader("Content-Length") if self.command == "HEAD" else str(len(body))
        except TimeoutError:
            LOG.warning("metadata proxy %s: the metadata service did not answer in %s s", self.server.namespace,
                        proxies.upstream_timeout)
            self._reply(504, "Gateway Timeout", "The metadata service did not answer in time.")
            return
        except (OSError, http.client.HTTPException) as err:
            LOG.warning("metadata proxy %s: the metadata service failed: %s", self.server.namespace, err)
            self._reply(502, "Bad Gateway", "The metadata service is unavailable.")
            return
        finally:
            conn.close()
        if len(body) > MAX_RESPONSE:
            LOG.warning("metadata proxy %s: an answer of more than %d bytes refused", self.server.namespace,
                        MAX_RESPONSE)
            self._reply(502, "Bad Gateway", "The metadata service's answer is too large.")
            return
        self.send_response(resp.status, resp.reason)
        for key, value in answer:
            self.send_header(key, value)
        if length is not None:
            self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _reply(self, code: int, reason: str, explain: str, headers: dict[str, str] | None = None) -> None:
        """A plain-text answer, as Nova's metadata service gives (``404 Not Found\\n\\n...``)."""
        body = f"{int(code)} {reason}\n\n{explain}\n\n".encode()
        self.send_response(code, reason)
        for key, value in {"Content-Type": "text/plain; charset=UTF-8", "Content-Length": str(len(body)),
                           **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # -- the stdlib's hooks: plain-text errors, our own log line --------------------------------------
    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        self.close_connection = True
        reason = message or self.responses.get(code, ("Error",))[0]
        self._reply(code, reason, explain or reason)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        super().send_response(code, message)

    def log_message(self, format: str, *args: Any) -> None:
        """Nothing: :meth:`handle` logs one line per request."""
