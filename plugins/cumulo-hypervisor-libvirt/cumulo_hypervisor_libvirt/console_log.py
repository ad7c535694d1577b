"""Containers' consoles into their ``console.log``: what ``<log>`` does for a QEMU guest's serial port.

libvirt's LXC driver gives a container a pty console and logs nothing of it,
so ``console log show`` would stay empty. :class:`ConsoleFollowers` reads each
running container's console stream (``virDomainOpenConsole``) in a daemon
thread and appends what the container prints to its log file (0600). A
follower ends with its container, or when a serial-console client takes the
console over (``VIR_DOMAIN_CONSOLE_FORCE``); the container's next start, or the
driver's next reconnection, follows it again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import Any

import libvirt

LOG = logging.getLogger(__name__)

CHUNK = 4096


class ConsoleFollowers:
    """At most one thread per container, reading its console into a file."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}

    def follow(self, conn: Any, uuid: str, path: str) -> None:
        """Append the console of the running domain ``uuid`` to ``path``; nothing when it is followed already.

        Opening the console fails quietly (logged) when the domain is gone or another client holds it.
        """
        with self._lock:
            thread = self._threads.get(uuid)
            if thread is not None and thread.is_alive():
                return
            try:
                stream = conn.newStream(0)
                conn.lookupByUUIDString(uuid).openConsole(None, stream, 0)
            except libvirt.libvirtError as err:
                LOG.warning("console of %s not logged: %s", uuid, err.get_error_message())
                return
            thread = threading.Thread(target=self._copy, args=(stream, uuid, path), name=f"console-{uuid[:8]}",
                                      daemon=True)
            self._threads[uuid] = thread
            thread.start()

    def following(self) -> set[str]:
        """The uuids whose console a thread reads now."""
        with self._lock:
            return {uuid for uuid, thread in self._threads.items() if thread.is_alive()}

    @staticmethod
    def _copy(stream: Any, uuid: str, path: str) -> None:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        try:
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab", buffering=0) as log:
                while True:
                    data = stream.recv(CHUNK)
                    if not isinstance(data, bytes) or not data:  # end of stream (the container stopped)
                        break
                    log.write(data)
        except libvirt.libvirtError as err:  # the container stopped, or a serial client forced the console
            LOG.debug("console of %s: %s", uuid, err.get_error_message())
        except OSError:
            LOG.exception("console log of %s: cannot write %s", uuid, path)
        finally:
            with contextlib.suppress(libvirt.libvirtError):
                stream.abort()
