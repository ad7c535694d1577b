"""How the compute API reaches the per-host compute managers.

Normally over :mod:`cumulo.messaging` (topic ``compute``, one server per host).
When the kernel has no messaging module (early development) or a test asks for
it, :class:`LocalRPC` dispatches to managers registered in this process: casts
run on a thread pool, calls run inline. Both expose ``call(ctx, method, server=,
**kw)`` and ``cast(ctx, method, server=, **kw)``.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from typing import Any

from cumulo import exception
from cumulo.context import RequestContext

LOG = logging.getLogger(__name__)
TOPIC = "compute"


class LocalRPC:
    """In-process stand-in for ``messaging.RPCClient`` + ``RPCServer``."""

    def __init__(self, workers: int = 32) -> None:
        self.managers: dict[str, Any] = {}
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="compute-cast")
        self._lock = threading.Lock()

    def register(self, host: str, manager: Any) -> None:
        with self._lock:
            self.managers[host] = manager

    def unregister(self, host: str) -> None:
        with self._lock:
            self.managers.pop(host, None)

    def _target(self, server: str | None, method: str) -> Any:
        manager = self.managers.get(server or "")
        if manager is None:
            raise exception.MessagingTimeout(method=method, topic=f"{TOPIC}.{server}", timeout=0)
        return getattr(manager, method)

    def call(self, ctx: RequestContext, method: str, *, server: str | None = None, timeout: float | None = None,
             **kwargs: Any) -> Any:
        return self._target(server, method)(ctx, **kwargs)

    def cast(self, ctx: RequestContext, method: str, *, server: str | None = None, **kwargs: Any) -> None:
        fn = self.managers.get(server or "")
        if fn is None:
            LOG.warning("Cast %s to unknown compute host %s dropped", method, server)
            return  # like a lost message: the task-state sweeper turns it into an ERROR
        target = getattr(fn, method)

        def _run() -> None:
            try:
                target(ctx, **kwargs)
            except Exception:
                LOG.exception("Compute cast %s to %s failed", method, server)

        self._pool.submit(_run)

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def messaging_available() -> bool:
    try:
        from cumulo import messaging

        return hasattr(messaging, "RPCClient") and hasattr(messaging, "RPCServer")
    except ImportError:
        return False


#: The process-wide local dispatcher used when messaging is unavailable.
_local: LocalRPC | None = None
_local_lock = threading.Lock()


def local() -> LocalRPC:
    global _local
    with _local_lock:
        if _local is None:
            _local = LocalRPC()
        return _local


def client(hub: Any) -> Any:
    """An RPC client for topic ``compute`` (messaging when available, else :func:`local`)."""
    if messaging_available():
        from cumulo import messaging

        return messaging.RPCClient(hub.transport, TOPIC)
    return local()


def serve(hub: Any, host: str, manager: Any) -> Any:
    """Start serving ``manager`` for ``host``; returns something with ``stop()``."""
    if messaging_available():
        from cumulo import messaging
        from cumulo.conf import CONF

        server = messaging.RPCServer(hub.transport, TOPIC, server=host, endpoints=[manager],
                                     workers=CONF.compute.host_rpc_workers)
        server.start()
        return server
    local().register(host, manager)

    class _Stop:
        def stop(self) -> None:
            local().unregister(host)

    return _Stop()
