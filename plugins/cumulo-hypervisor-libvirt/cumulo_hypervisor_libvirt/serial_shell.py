"""A shell on a running guest's serial console, through libvirt's console stream (tests, diagnostics).

:class:`SerialShell` logs in on a getty (the tiny guest's root has no password until a
config drive sets one) and runs commands, returning their output and failing on a non-zero
exit status. The stream is non-blocking and polled from a reader thread: blocking ``recv``
calls of two consoles on one connection deadlock a ``send``. Open it on a connection made
after :func:`cumulo_hypervisor_libvirt.events.ensure_event_loop` (non-blocking streams need
libvirt's event loop). The console is taken with ``VIR_DOMAIN_CONSOLE_FORCE``; the serial
port's ``console.log`` still records everything.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import threading
import time
from typing import Any

import libvirt


class SerialShell:
    """A root shell on a guest's serial console, through libvirt's console stream."""

    def __init__(self, conn: Any, dom: Any, name: str) -> None:
        self.name = name
        self.stream = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
        dom.openConsole(None, self.stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
        self.out = bytearray()
        self._lock = threading.Lock()
        self._closed = False
        self._reader = threading.Thread(target=self._read, name=f"console-{name}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            while not self._closed:
                data = self.stream.recv(4096)
                if data == -2:  # nothing yet
                    time.sleep(0.05)
                    continue
                if not isinstance(data, bytes) or not data:
                    return
                with self._lock:
                    self.out += data
        except Exception:  # the stream ended: the domain stopped, or another client forced the console
            return
        finally:  # aborted here, not from another thread while recv() blocks
            with contextlib.suppress(Exception):
                self.stream.abort()

    def text(self) -> str:
        with self._lock:
            return self.out.decode(errors="replace")

    def send(self, line: str) -> None:
        data = (line + "\n").encode()
        while data:
            sent = self.stream.send(data)
            if sent == -2:
                time.sleep(0.05)
                continue
            data = data[sent:]

    def expect(self, pattern: str, start: int = 0, timeout: float = 60) -> re.Match[str]:
        """The first match of ``pattern`` in the output from offset ``start``, waited for.

        :raises AssertionError: no match within ``timeout`` seconds (the message holds the output's end).
        """
        deadline = time.monotonic() + timeout
        while True:
            found = re.compile(pattern).search(self.text(), start)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {pattern!r} not on the console after {timeout:.0f} s:\n"
                                     f"{self.text()[-2000:]}")
            time.sleep(0.1)

    def login(self, timeout: float = 60, password: str | None = None) -> None:
        """Log in as root with ``password`` (the tiny guest's root has none until a config drive's
        ``admin_pass`` sets one); no echo and no prompt afterwards.

        :raises AssertionError: no login prompt or shell within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:  # press Enter until getty asks (it may have printed its prompt before we listened)
            mark = len(self.text())
            self.send("")
            with contextlib.suppress(AssertionError):
                self.expect(r"login: $", mark, timeout=3)
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no login prompt:\n{self.text()[-2000:]}")
        self.send("root")
        found = self.expect(r"~ # |Password: ", mark, timeout=20)
        if found.group(0) == "Password: ":
            if password is None:
                raise AssertionError(f"{self.name}: root has a password and none was given")
            self.send(password)
            self.expect(r"~ # ", found.end(), timeout=20)  # ash's default prompt (then a cursor query, ESC [6n)
        self.send("stty -echo; PS1=''")  # no echo, no prompt: the output is the commands' own

    def run(self, command: str, timeout: float = 60) -> str:
        """``command``'s output (stdout and stderr).

        :raises AssertionError: it exited non-zero, or did not end within ``timeout`` seconds.
        """
        token = secrets.token_hex(4)
        start = len(self.text())
        # The markers are computed by the shell, so an echoed command line does not match them.
        self.send(f"echo \"@{token}$((6*6))@\"; {command}; echo \"@{token}$((6*7))@ rc=$?\"")
        begin = self.expect(rf"@{token}36@\r?\n", start, timeout)
        end = self.expect(rf"@{token}42@ rc=(\d+)", begin.end(), timeout)
        output = self.text()[begin.end():end.start()].replace("\r", "")
        if end.group(1) != "0":
            raise AssertionError(f"{self.name}: {command!r} exited {end.group(1)}:\n{output}")
        return output

    def disk_with_serial(self, serial: str, timeout: int = 30) -> str:
        """The name (``vdc``) of the guest's virtio disk whose serial is ``serial`` (a volume id: its first
        20 characters, as QEMU keeps them), waited for, since a hot-plugged disk appears a moment later.

        :raises AssertionError: no such disk within ``timeout`` seconds.
        """
        return self.run(
            f"(i=0; while [ $i -lt {timeout * 10} ]; do for d in /sys/block/vd*; do "
            f"[ \"$(cat $d/serial 2>/dev/null)\" = '{serial[:20]}' ] && echo ${{d##*/}} && exit 0; done; "
            f"usleep 100000; i=$((i+1)); done; exit 1)", timeout=timeout + 10).strip()  # a subshell exits

    def alive(self) -> bool:
        """Whether the console stream still runs (it ends when the domain stops)."""
        return self._reader.is_alive()

    def close(self) -> None:
        """Stop reading; the stream ends when the next shell forces the console or the domain stops."""
        self._closed = True
