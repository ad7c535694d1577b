"""A domain's consoles: the serial log's tail, and remote consoles behind this process's console proxy.

The proxy (:mod:`.console_proxy`) runs in the compute process (the driver's ``start_local``);
each remote console is a short-lived token of it, as Nova's noVNC and serial proxies issue.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from typing import Any

import libvirt

from cumulo.interfaces.hypervisor import HypervisorError, RemoteConsole
from cumulo_hypervisor_libvirt import console_proxy

LOG = logging.getLogger(__name__)


def log_tail(path: str, limit: int, uuid: str) -> str:
    """The last ``limit`` bytes of the console log at ``path``; empty before the first line."""
    try:
        with open(path, "rb") as f:
            f.seek(max(os.fstat(f.fileno()).st_size - limit, 0))
            return f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    except OSError as err:
        raise HypervisorError(f"console log of {uuid}: {err}") from err


def vnc(uuid: str, listen: str, port: int | None, ttl: int) -> RemoteConsole:
    """The domain's VNC server on ``listen:port`` as a noVNC console (``url`` None when no proxy runs here)."""
    if port is None:
        raise HypervisorError(f"instance {uuid} has no VNC port (is it running?)")
    token = console_proxy.TOKENS.issue(console_proxy.Target(listen, port), ttl=ttl)
    proxy = console_proxy.active()
    if proxy is None:  # a process without start_local (tools, tests): the bare VNC server, no URL
        LOG.warning("no console proxy runs in this process; the console of %s has no URL", uuid)
    return RemoteConsole(console_type="novnc", host=listen, port=port, token=token,
                         url=proxy.url(token) if proxy else None)


def serial(connection: Callable[[], Any], uuid: str, ttl: int) -> RemoteConsole:
    """The domain's serial console (libvirt's console stream) as a websocket of the console proxy.

    Each connection opens the console with VIR_DOMAIN_CONSOLE_FORCE: a new client takes over
    from a stale one. The console log is unaffected.
    """
    proxy = console_proxy.active()
    if proxy is None:
        raise HypervisorError("no console proxy runs in this compute process; the serial console needs it")

    def open_console() -> Any:
        conn = connection()
        stream = conn.newStream(0)
        try:
            conn.lookupByUUIDString(uuid).openConsole(None, stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
        except libvirt.libvirtError:
            with contextlib.suppress(libvirt.libvirtError):
                stream.abort()
            raise
        return console_proxy.stream_socket(stream, f"serial console of {uuid}")

    host_name, port = proxy.address
    target = console_proxy.Target(host_name, port, opener=open_console, label=f"serial console of {uuid}")
    token = console_proxy.TOKENS.issue(target, ttl=ttl)
    return RemoteConsole(console_type="serial", host=host_name, port=port, token=token,
                         url=proxy.websocket_url(token))
