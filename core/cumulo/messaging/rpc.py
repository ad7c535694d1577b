"""RPC: call (with reply), cast (one server, no reply) and fanout (every server).

Wire format of a request body (JSON)::

    {"v": 1, "method": "boot", "args": {...}, "context": {...} | null}

and of a reply body::

    {"result": ...}                       or
    {"failure": {"module": ..., "class": ..., "message": ..., "kwargs": {...},
                 "code": ..., "traceback": "..."}}
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
import traceback
from collections.abc import Iterable
from typing import Any

from cumulo import exception
from cumulo.conf import CONF
from cumulo.context import RequestContext
from cumulo.messaging.serializer import SerializationError, dumps, loads, to_primitive
from cumulo.messaging.transport import Dispatcher, Listener, ReplyFn, Transport

LOG = logging.getLogger(__name__)

WIRE_VERSION = 1


class RemoteError(exception.CumuloError):
    """An endpoint raised something that is not a :class:`~cumulo.exception.CumuloError`.

    ``exc_type`` is the remote class name, ``value`` its message, ``traceback``
    the remote traceback text.
    """

    code = 500
    msg_fmt = "Remote error: %(exc_type)s %(value)s"

    def __init__(self, exc_type: str | None = None, value: str | None = None,
                 traceback: str | None = None) -> None:
        self.exc_type = exc_type or "Exception"
        self.value = value or ""
        self.traceback = traceback or ""
        super().__init__(exc_type=self.exc_type, value=self.value)


class NoSuchMethod(exception.CumuloError):
    """The server has no public endpoint method of that name."""

    code = 500
    msg_fmt = "No endpoint on topic %(topic)s has a method %(method)s."


# -- helpers ------------------------------------------------------------------

def _context_dict(ctx: Any) -> dict[str, Any] | None:
    if ctx is None:
        return None
    if isinstance(ctx, dict):
        return ctx
    if hasattr(ctx, "to_dict"):
        return ctx.to_dict()
    raise TypeError(f"ctx must be a RequestContext, a dict or None, not {type(ctx).__name__}")


def _encode_request(ctx: Any, method: str, kwargs: dict[str, Any]) -> str:
    if not isinstance(method, str) or not method:
        raise TypeError("method must be a non-empty string")
    return dumps({"v": WIRE_VERSION, "method": method, "args": kwargs,
                             "context": _context_dict(ctx)}, what=f"arguments of {method}")


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        try:
            out[str(k)] = to_primitive(v)
        except SerializationError:
            out[str(k)] = str(v)
    return out


def serialize_failure(exc: BaseException) -> dict[str, Any]:
    """The reply dict describing ``exc`` (see :func:`deserialize_failure`)."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, RemoteError):  # pass a remote error through unchanged
        return {"module": "builtins", "class": exc.exc_type, "message": exc.value, "kwargs": {},
                "code": 500, "traceback": exc.traceback}
    cls = type(exc)
    kwargs = _jsonable(getattr(exc, "kwargs", None) or {}) if isinstance(exc, exception.CumuloError) else {}
    return {"module": cls.__module__, "class": cls.__qualname__, "message": str(exc), "kwargs": kwargs,
            "code": getattr(exc, "code", 500), "traceback": tb}


def _allowed_module(module: str) -> bool:
    top = module.split(".", 1)[0]
    return (module in sys.modules or top == "cumulo" or top.startswith("cumulo_")
            or module in (CONF.messaging.allowed_remote_exmods or []))


def _find_class(module: str, qualname: str) -> type | None:
    if not _allowed_module(module):
        return None
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception:
        return None
    return obj if isinstance(obj, type) else None


def deserialize_failure(failure: dict[str, Any]) -> Exception:
    """Rebuild the exception of a reply: the same CumuloError class, or a :class:`RemoteError`."""
    module = str(failure.get("module") or "")
    qualname = str(failure.get("class") or "Exception")
    message = str(failure.get("message") or "")
    kwargs = failure.get("kwargs") or {}
    tb = str(failure.get("traceback") or "")
    cls = _find_class(module, qualname)
    if cls is None or not issubclass(cls, exception.CumuloError) or cls is RemoteError:
        return RemoteError(qualname, message, tb)
    exc: exception.CumuloError | None = None
    try:
        exc = cls(message, **kwargs)
    except Exception:
        exc = None
    if exc is None or str(exc) != message:
        exc = cls.__new__(cls)
        Exception.__init__(exc, message)
        exc.message, exc.kwargs = message, dict(kwargs)
    code = failure.get("code")
    if isinstance(code, int) and code != exc.code:
        exc.code = code
    exc.remote_traceback = tb  # type: ignore[attr-defined]
    return exc


# -- client -------------------------------------------------------------------

class RPCClient:
    """Sends requests to the servers of one topic.

    Cheap to create; every client of a transport shares its connections. Safe to
    use from many threads at once.
    """

    def __init__(self, transport: Transport, topic: str, timeout: float | None = None) -> None:
        if not topic:
            raise ValueError("topic is required")
        self.transport, self.topic, self.timeout = transport, topic, timeout

    def call(self, ctx: RequestContext | None, method: str, *, server: str | None = None,
             timeout: float | None = None, **kwargs: Any) -> Any:
        """Run ``method`` on one server (``server`` if given) and return its result.

        Raises :class:`~cumulo.exception.MessagingTimeout` when no reply comes within
        ``timeout`` (default: the client's, then ``[messaging] rpc_timeout``), the
        endpoint's CumuloError, or :class:`RemoteError` for any other exception.
        """
        body = _encode_request(ctx, method, kwargs)
        wait = timeout if timeout is not None else self.timeout
        wait = float(wait if wait is not None else CONF.messaging.rpc_timeout)
        reply = self.transport.call(self.topic, server, body, wait)
        if reply is None:
            target = self.topic if server is None else f"{self.topic}.{server}"
            raise exception.MessagingTimeout(method=method, topic=target, timeout=f"{wait:g}")
        msg = loads(reply)
        if "failure" in msg:
            raise deserialize_failure(msg["failure"])
        return msg.get("result")

    def cast(self, ctx: RequestContext | None, method: str, *, server: str | None = None,
             **kwargs: Any) -> None:
        """Run ``method`` on one server without waiting; errors are logged by the server."""
        self.transport.cast(self.topic, server, _encode_request(ctx, method, kwargs))

    def fanout(self, ctx: RequestContext | None, method: str, **kwargs: Any) -> None:
        """Run ``method`` on every server listening on the topic now; no reply."""
        self.transport.fanout(self.topic, _encode_request(ctx, method, kwargs))


# -- server -------------------------------------------------------------------

class RPCServer:
    """Receives the requests of ``topic`` (shared with the topic's other servers),
    of ``topic.server`` and of the topic's fanout, and runs them on ``endpoints``.

    Endpoint methods are called as ``endpoint.method(ctx, **kwargs)`` in a pool of
    ``workers`` threads (default ``[messaging] rpc_workers``); the first endpoint
    with the method wins; names starting with ``_`` are never dispatched.
    """

    def __init__(self, transport: Transport, topic: str, server: str | None = None,
                 endpoints: Iterable[Any] = (), workers: int | None = None) -> None:
        if not topic:
            raise ValueError("topic is required")
        self.transport, self.topic = transport, topic
        self.server = server or CONF.host
        self.endpoints = list(endpoints)
        self.workers = int(workers or CONF.messaging.rpc_workers)
        self._lock = threading.Lock()
        self._listener: Listener | None = None
        self._dispatcher: Dispatcher | None = None

    @property
    def running(self) -> bool:
        return self._listener is not None

    def start(self) -> RPCServer:
        """Begin consuming; a no-op when already running."""
        with self._lock:
            if self._listener is None:
                dispatcher = Dispatcher(self.workers, f"rpc-{self.topic}")
                try:
                    self._listener = self.transport.listen(self.topic, self.server, self._handle, dispatcher)
                except BaseException:
                    dispatcher.shutdown()
                    raise
                self._dispatcher = dispatcher
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop consuming, then wait up to ``timeout`` (default ``[messaging]
        server_stop_timeout``) for requests already taken to finish. Idempotent."""
        with self._lock:
            listener, dispatcher = self._listener, self._dispatcher
            self._listener = self._dispatcher = None
        if listener is None or dispatcher is None:
            return
        listener.stop()
        wait = CONF.messaging.server_stop_timeout if timeout is None else timeout
        if not dispatcher.drain(wait):
            LOG.warning("RPC server %s.%s stopped with %d request(s) still running",
                        self.topic, self.server, dispatcher.inflight)
        dispatcher.shutdown()

    def _lookup(self, method: Any) -> Any:
        if isinstance(method, str) and method and not method.startswith("_"):
            for endpoint in self.endpoints:
                fn = getattr(endpoint, method, None)
                if fn is not None and callable(fn):
                    return fn
        raise NoSuchMethod(topic=self.topic, method=method)

    def _handle(self, body: str, reply: ReplyFn | None) -> None:
        """Decode, dispatch, encode and send the reply (if any). Runs in a worker."""
        method: Any = "?"
        try:
            msg = loads(body)
            method = msg.get("method")
            ctx_d = msg.get("context")
            ctx = RequestContext.from_dict(ctx_d) if isinstance(ctx_d, dict) else None
            fn = self._lookup(method)
            result = fn(ctx, **(msg.get("args") or {}))
            out = dumps({"result": result}, what=f"result of {method}") if reply else None
        except Exception as exc:
            if isinstance(exc, exception.CumuloError):
                LOG.debug("%s.%s on %s raised %s: %s", self.topic, method, self.server, type(exc).__name__, exc)
            else:
                LOG.exception("%s.%s on %s failed", self.topic, method, self.server)
            if reply is None:
                return
            out = dumps({"failure": serialize_failure(exc)}, what="failure")
        if reply is not None and out is not None:
            try:
                reply(out)
            except Exception:
                LOG.exception("Could not send the reply of %s.%s", self.topic, method)
