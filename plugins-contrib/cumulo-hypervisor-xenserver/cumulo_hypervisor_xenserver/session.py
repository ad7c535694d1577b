"""XAPI sessions: login, calls and tasks through the XenAPI package, and the HTTP import/export handlers.

XAPI answers every call with a ``Status``/``Value``/``ErrorDescription``
envelope; the XenAPI package unwraps it and raises ``XenAPI.Failure`` with the
error description (``["HANDLE_INVALID", "VM", "OpaqueRef:..."]``). Here that
becomes :class:`XapiError` (a :class:`HypervisorError` carrying the code), and
an unreachable pool master a plain :class:`HypervisorError`. One
``XenAPI.Session`` is an ``xmlrpc.client.ServerProxy``, which is not safe to
share between threads, so calls take a session from a small pool.
"""

from __future__ import annotations

import contextlib
import http.client
import queue
import re
import ssl
import threading
import time
import urllib.parse
import xmlrpc.client
from collections.abc import Iterable, Iterator
from typing import Any

import XenAPI  # type: ignore[import-untyped]

from cumulo.interfaces.hypervisor import HypervisorError

API_VERSION = "1.2"
ORIGINATOR = "cumulo"
CHUNK = 1024 * 1024

_TASK_RESULT = re.compile(r"<value>(.*)</value>", re.S)


class XapiError(HypervisorError):
    """XAPI refused a call: ``details`` is its ErrorDescription, ``xapi_code`` the first element
    (not ``code``: the compute area reads that as an HTTP status)."""

    error_code = "hypervisor.xapi"

    def __init__(self, details: list[Any], call: str = "") -> None:
        self.details = [str(d) for d in details] or ["INTERNAL_ERROR"]
        self.xapi_code = self.details[0]
        where = f" ({call})" if call else ""
        super().__init__(f"XenServer{where}: {' '.join(self.details)}")


def is_code(err: BaseException, *codes: str) -> bool:
    return isinstance(err, XapiError) and err.xapi_code in codes


class _Transport(xmlrpc.client.Transport):
    """XML-RPC over http with a connection timeout (the stdlib transport has none)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        conn = super().make_connection(host)
        conn.timeout = self.timeout
        return conn


class _SafeTransport(xmlrpc.client.SafeTransport):
    def __init__(self, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self.timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPSConnection:
        conn = super().make_connection(host)
        conn.timeout = self.timeout
        return conn


class XapiClient:
    """Sessions to one pool master: ``call`` a method, run ``call_async`` tasks, move VDI bytes."""

    def __init__(self, url: str, username: str, password: str, concurrent: int = 5, timeout: float = 10,
                 verify_tls: bool = True, task_timeout: float = 600, poll_interval: float = 0.2) -> None:
        if not url:
            raise HypervisorError("[xenserver] connection_url is not set")
        self.url = url.rstrip("/")
        self.username, self._password = username, password
        self.timeout, self.verify_tls = timeout, verify_tls
        self.task_timeout, self.poll_interval = task_timeout, poll_interval
        self._idle: queue.LifoQueue[XenAPI.Session] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(concurrent)
        self._parsed = urllib.parse.urlsplit(self.url)

    # -- sessions ----------------------------------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context() if self.verify_tls else ssl._create_unverified_context()

    def login(self, timeout: float | None = None) -> XenAPI.Session:
        """A new logged-in session (``timeout``: its socket timeout; the event stream's is longer)."""
        t = timeout or self.timeout
        transport: xmlrpc.client.Transport
        if self._parsed.scheme == "https":
            transport = _SafeTransport(t, self._ssl_context())
        else:
            transport = _Transport(t)
        session = XenAPI.Session(self.url, transport=transport)
        with self._errors("session.login_with_password"):
            session.login_with_password(self.username, self._password, API_VERSION, ORIGINATOR)
        return session

    def logout(self, session: XenAPI.Session) -> None:
        with contextlib.suppress(Exception):  # the session dies with the connection anyway
            session.xenapi.session.logout()

    @contextlib.contextmanager
    def session(self) -> Iterator[XenAPI.Session]:
        """A pooled session, for one call at a time."""
        with self._slots:
            try:
                session = self._idle.get_nowait()
            except queue.Empty:
                session = self.login()
            broken = False
            try:
                yield session
            except XapiError:  # XAPI answered: the session is fine
                raise
            except BaseException:  # a broken connection (or an interrupted call): start afresh next time
                broken = True
                raise
            finally:
                if broken:
                    self.logout(session)
                else:
                    self._idle.put(session)

    def close(self) -> None:
        while True:
            try:
                self.logout(self._idle.get_nowait())
            except queue.Empty:
                return

    @contextlib.contextmanager
    def _errors(self, call: str) -> Iterator[None]:
        try:
            yield
        except XenAPI.Failure as err:
            raise XapiError(list(err.details), call) from None
        except xmlrpc.client.Fault as err:
            raise HypervisorError(f"XenServer ({call}): {err.faultString}") from None
        except (OSError, http.client.HTTPException, xmlrpc.client.ProtocolError) as err:
            raise HypervisorError(f"XenServer at {self.url} unreachable ({call}): {err}") from None

    # -- calls ------------------------------------------------------------------------------------
    def call(self, method: str, *args: Any) -> Any:
        """``method`` (``"VM.start"``) with the session prepended; XAPI failures raise :class:`XapiError`."""
        with self.session() as session, self._errors(method):
            return session.xenapi_request(method, args)

    def call_async(self, method: str, *args: Any) -> str:
        """``Async.<method>``, waited for: the task's result (a reference, or "")."""
        task = self.call("Async." + method, *args)
        return self.wait_task(task, method)

    def wait_task(self, task: str, what: str, timeout: float | None = None) -> str:
        """Poll ``task`` until it ends (``timeout``: ``task_timeout``); its result on success,
        :class:`XapiError` on failure, :class:`HypervisorError` when it is cancelled for taking too long.
        Destroys it."""
        limit = timeout if timeout is not None else self.task_timeout
        deadline = time.monotonic() + limit
        try:
            while True:
                status = self.call("task.get_status", task)
                if status == "success":
                    return _task_value(self.call("task.get_result", task))
                if status in ("failure", "cancelled"):
                    info = self.call("task.get_error_info", task) or ["TASK_CANCELLED", task]
                    raise XapiError(info, what)
                if time.monotonic() > deadline:
                    with contextlib.suppress(HypervisorError):
                        self.call("task.cancel", task)
                    raise HypervisorError(f"XenServer ({what}): task {task} did not end in {limit} s")
                time.sleep(self.poll_interval)
        finally:
            with contextlib.suppress(HypervisorError):
                self.call("task.destroy", task)

    # -- HTTP handlers ----------------------------------------------------------------------------
    def _http(self) -> http.client.HTTPConnection:
        host, port = self._parsed.hostname or "", self._parsed.port
        if self._parsed.scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._ssl_context())
        return http.client.HTTPConnection(host, port, timeout=self.timeout)

    def _query(self, session: XenAPI.Session, **params: str) -> str:
        return urllib.parse.urlencode({"session_id": session.handle, **params})

    def import_vdi(self, vdi: str, chunks: Iterable[bytes], length: int, fmt: str) -> None:
        """PUT ``length`` bytes to ``/import_raw_vdi`` (``fmt`` raw or vhd), under a task that says how it went."""
        task = self.call("task.create", "cumulo import", f"import into {vdi}")
        try:
            with self.session() as session, self._errors("PUT /import_raw_vdi"):
                conn = self._http()
                try:
                    conn.putrequest("PUT", "/import_raw_vdi?" + self._query(session, vdi=vdi, format=fmt,
                                                                             task_id=task))
                    conn.putheader("Content-Length", str(length))
                    conn.endheaders()
                    for chunk in chunks:
                        conn.send(chunk)
                    resp = conn.getresponse()
                    status, body = resp.status, resp.read()
                except (TimeoutError, BrokenPipeError, ConnectionResetError):
                    status, body = 0, b""  # the server stopped reading: the task says why
                finally:
                    conn.close()
        except BaseException:  # the bytes could not all be sent (or were wrong): the task is ours to drop
            with contextlib.suppress(HypervisorError):
                self.call("task.cancel", task)
            with contextlib.suppress(HypervisorError):
                self.call("task.destroy", task)
            raise
        self.wait_task(task, "import_raw_vdi")
        if status != 200:
            raise HypervisorError(f"XenServer import_raw_vdi: HTTP {status} {body[:200]!r}")

    def export_vdi(self, vdi: str, fmt: str = "raw") -> Iterator[bytes]:
        """The bytes of ``vdi`` from ``/export_raw_vdi``, as they come."""
        with self.session() as session, self._errors("GET /export_raw_vdi"):
            conn = self._http()
            try:
                conn.request("GET", "/export_raw_vdi?" + self._query(session, vdi=vdi, format=fmt))
                resp = conn.getresponse()
                if resp.status != 200:
                    raise HypervisorError(f"XenServer export_raw_vdi: HTTP {resp.status} {resp.read()[:200]!r}")
                while chunk := resp.read(CHUNK):
                    yield chunk
            finally:
                conn.close()


def _task_value(result: str) -> str:
    """A task's result is an XML-RPC ``<value>`` fragment (or empty); its string."""
    match = _TASK_RESULT.search(result or "")
    return match.group(1) if match else ""

