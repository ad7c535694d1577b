"""The simulator's HTTP server: XML-RPC on ``POST /``, and the ``/import_raw_vdi`` / ``/export_raw_vdi`` handlers.

Every XML-RPC answer is XAPI's envelope: ``{"Status": "Success", "Value": v}``
or ``{"Status": "Failure", "ErrorDescription": [code, params...]}``.
``Async.<class>.<method>`` returns a task at once and runs the call in a
thread; the task ends ``success`` with its result as an XML-RPC ``<value>``
fragment, or ``failure`` with the error description in ``error_info``.

The HTTP handlers take ``session_id``, ``vdi``, ``format`` (raw, vhd) and an
optional ``task_id`` (the task then carries the outcome) as XAPI's do; a bad
session is 403, an unknown VDI 404.
"""

from __future__ import annotations

import http.server
import socket
import socketserver
import threading
import traceback
import urllib.parse
import xmlrpc.client
from typing import Any

from . import vhd
from .api import Api
from .state import Database, Failure, Fault


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sim: XapiSimulator


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the call log instead
        pass

    def setup(self) -> None:
        super().setup()
        # headers and body go out as two writes: without this, Nagle and delayed ACKs cost 40 ms a call
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- XML-RPC ----------------------------------------------------------------------------------
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            params, method = xmlrpc.client.loads(body)
        except Exception:
            self._reply(200, xmlrpc.client.dumps(({"Status": "Failure", "ErrorDescription":
                                                   ["XMLRPC_UNMARSHAL_FAILURE", "methodCall", "?"]},),
                                                 methodresponse=True).encode())
            return
        envelope = self.server.sim.rpc(method or "", params)
        self._reply(200, xmlrpc.client.dumps((envelope,), methodresponse=True, allow_none=False).encode(),
                    "text/xml")

    def _reply(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # -- VDI transfers ------------------------------------------------------------------------------
    def _transfer_args(self) -> tuple[str, dict[str, str]] | None:
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        sim = self.server.sim
        if query.get("session_id") not in sim.api.sessions:
            self._reply(403, b"Forbidden")
            return None
        if not sim.db.exists("VDI", query.get("vdi", "")):
            self._finish(query, ["HANDLE_INVALID", "VDI", query.get("vdi", "")])
            self._reply(404, b"VDI not found")
            return None
        return url.path, query

    def _finish(self, query: dict[str, str], error: list[str] | None = None) -> None:
        if query.get("task_id"):
            with self.server.sim.db.lock:
                self.server.sim.api.finish_task(query["task_id"], error=error)

    def do_PUT(self) -> None:
        args = self._transfer_args()
        if args is None:
            return
        path, query = args
        if path != "/import_raw_vdi":
            self._reply(404, b"no such handler")
            return
        length = int(self.headers.get("Content-Length", "0"))
        data = bytearray()
        while len(data) < length:
            chunk = self.rfile.read(min(1 << 20, length - len(data)))
            if not chunk:
                break
            data.extend(chunk)
        error = self._import(query, bytes(data), length)
        self._finish(query, error)
        self._reply(500 if error else 200, (" ".join(error) if error else "").encode())

    def _import(self, query: dict[str, str], data: bytes, length: int) -> list[str] | None:
        sim = self.server.sim
        vdi = query["vdi"]
        try:
            sim.db.check_fault("import_raw_vdi")
        except Failure as err:
            return err.details
        if len(data) < length:
            return ["VDI_IO_ERROR", "Device I/O errors: the client closed the connection"]
        fmt = query.get("format", "raw")
        with sim.db.lock:
            size = int(sim.db.get("VDI", vdi)["virtual_size"])
            try:
                pieces = [(0, data)] if fmt == "raw" else list(vhd.extents(data)) if fmt == "vhd" else None
            except vhd.VhdError as err:
                return ["VDI_IO_ERROR", f"Device I/O errors: {err}"]
            if pieces is None:
                return ["INVALID_VALUE", "format", fmt]
            for offset, piece in pieces:
                if offset + len(piece) > size:
                    return ["VDI_IO_ERROR", "Device I/O errors: the data is larger than the VDI"]
                sim.db.write(vdi, offset, piece)
        return None

    def do_GET(self) -> None:
        args = self._transfer_args()
        if args is None:
            return
        path, query = args
        sim = self.server.sim
        if path != "/export_raw_vdi":
            self._reply(404, b"no such handler")
            return
        try:
            sim.db.check_fault("export_raw_vdi")
        except Failure as err:
            self._finish(query, err.details)
            self._reply(500, " ".join(err.details).encode())
            return
        with sim.db.lock:
            size = int(sim.db.get("VDI", query["vdi"])["virtual_size"])
            chunks = sim.db.read_blocks(query["vdi"], size)
        footer = vhd.fixed_footer(size) if query.get("format") == "vhd" else b""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size + len(footer)))
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(chunk)
        self.wfile.write(footer)
        self._finish(query)


class XapiSimulator:
    """A simulated pool of one host on ``http://127.0.0.1:<port>``; ``start()``, then point a driver at ``url``.

    Tests inject failures with :meth:`inject` and read :attr:`calls`, the
    methods called so far (``Async.`` stripped).
    """

    def __init__(self, username: str = "root", password: str = "xenroot", host_name: str = "xs-sim-1") -> None:
        self.db = Database()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.sim = self
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = Api(self.db, username, password, host_name, f"127.0.0.1:{self.port}")
        self._thread: threading.Thread | None = None

    def start(self) -> XapiSimulator:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="xapi-sim",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- the test's handles -------------------------------------------------------------------------
    def inject(self, method: str, error: list[str] | None = None, after: int = 0, times: int = 1) -> None:
        """Fail ``method`` (``"VBD.create"``, ``"VM.start"``, ``"import_raw_vdi"``) with ``error``."""
        with self.db.lock:
            self.db.faults.append(Fault(method, list(error or ["INTERNAL_ERROR", f"injected failure of {method}"]),
                                        after, times))

    @property
    def calls(self) -> list[str]:
        return list(self.db.calls)

    def records(self, cls: str) -> dict[str, dict[str, Any]]:
        with self.db.lock:
            return {ref: dict(rec) for ref, rec in self.db.table(cls).items()}

    # -- XML-RPC ------------------------------------------------------------------------------------
    def rpc(self, method: str, params: tuple[Any, ...]) -> dict[str, Any]:
        if method.startswith("Async."):
            return self._async(method[len("Async."):], params)
        try:
            return {"Status": "Success", "Value": self.api.dispatch(method, params)}
        except Failure as err:
            return {"Status": "Failure", "ErrorDescription": err.details}
        except Exception as err:  # a simulator bug: XAPI's INTERNAL_ERROR, with the traceback for the test log
            traceback.print_exc()
            return {"Status": "Failure", "ErrorDescription": ["INTERNAL_ERROR", repr(err)]}

    def _async(self, method: str, params: tuple[Any, ...]) -> dict[str, Any]:
        if not params or params[0] not in self.api.sessions:
            return {"Status": "Failure", "ErrorDescription": ["SESSION_INVALID", params[0] if params else ""]}
        with self.db.lock:
            task = self.api.new_task("Async." + method)

        def run() -> None:
            envelope = self.rpc(method, params)
            with self.db.lock:
                if self.db.exists("task", task) and self.db.get("task", task)["status"] == "pending":
                    if envelope["Status"] == "Success":
                        self.api.finish_task(task, result=str(envelope["Value"]))
                    else:
                        self.api.finish_task(task, error=envelope["ErrorDescription"])

        threading.Thread(target=run, name=f"xapi-sim-{method}", daemon=True).start()
        return {"Status": "Success", "Value": task}
