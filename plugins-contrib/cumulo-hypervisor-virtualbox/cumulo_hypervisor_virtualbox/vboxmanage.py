"""Running ``VBoxManage``: argument lists (never a shell), a timeout per call, its errors as HypervisorErrors.

VBoxManage reports a failure with exit code 1 (2: bad syntax) and stderr lines such as::

    VBoxManage: error: Could not find a registered machine named 'instance-...'
    VBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001), component VirtualBoxWrap, interface IVirtualBox, callee nsISupports
    VBoxManage: error: Context: "FindMachine(...)" at line 2647 of file VBoxManageInfo.cpp

:func:`parse_error` turns them into a :class:`VBoxManageError` carrying the message and the ``VBOX_E_*`` code,
so callers tell a missing machine or a wrong machine state from anything else.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import subprocess
from collections.abc import Sequence
from typing import ClassVar

from cumulo.interfaces.hypervisor import HypervisorError

LOG = logging.getLogger(__name__)

OBJECT_NOT_FOUND = "VBOX_E_OBJECT_NOT_FOUND"
INVALID_VM_STATE = "VBOX_E_INVALID_VM_STATE"
INVALID_OBJECT_STATE = "VBOX_E_INVALID_OBJECT_STATE"
FILE_ERROR = "VBOX_E_FILE_ERROR"

_PREFIX = re.compile(r"^VBoxManage(?:\.exe)?: error: ?")
_DETAILS = re.compile(r"^Details: code (?P<code>\w+) \((?P<hex>0x[0-9a-fA-F]+)\)(?:, component (?P<component>[^,]*))?"
                      r"(?:, interface (?P<interface>[^,]*))?")


class VBoxManageError(HypervisorError):
    """A VBoxManage command failed; ``str()`` is VirtualBox's own message (what the server's fault shows)."""

    error_code: ClassVar[str] = "hypervisor.virtualbox"

    def __init__(self, message: str, code: str | None = None, command: str = "", exit_code: int | None = None,
                 component: str | None = None, interface: str | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.command, self.exit_code = message, code, command, exit_code
        self.component, self.interface = component, interface

    @property
    def machine_not_found(self) -> bool:
        """The machine named is not registered (as opposed to a missing medium, snapshot or controller)."""
        return self.code == OBJECT_NOT_FOUND and "registered machine" in self.message


@dataclasses.dataclass(frozen=True)
class ErrorReport:
    """What VBoxManage's stderr says: the message lines, and the Details line's code, component, interface."""

    message: str
    code: str | None = None
    component: str | None = None
    interface: str | None = None


def parse_error(stderr: str) -> ErrorReport:
    """Read VBoxManage's error lines; without any, the last non-progress line of ``stderr`` is the message."""
    messages: list[str] = []
    code = component = interface = None
    for line in stderr.splitlines():
        if not _PREFIX.match(line):
            continue
        text = _PREFIX.sub("", line).strip()
        details = _DETAILS.match(text)
        if details:
            code, component, interface = details["code"], details["component"], details["interface"]
        elif text and not text.startswith("Context:"):
            messages.append(text)
    if not messages:
        plain = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.strip().startswith("0%")]
        messages = plain[-1:] or ["(no message)"]
    return ErrorReport(" ".join(messages), code, component, interface)


class VBoxManage:
    """One VBoxManage program with its environment (``VBOX_USER_HOME``) and default timeout."""

    def __init__(self, path: str, user_home: str = "", timeout: float = 120) -> None:
        self.path = path
        self.timeout = timeout
        self.env = dict(os.environ)
        if user_home:
            self.env["VBOX_USER_HOME"] = user_home
        self.env["LC_ALL"] = "C"  # VirtualBox translates its messages; parse the English ones

    def __call__(self, *args: str, timeout: float | None = None, ok_codes: Sequence[str] = ()) -> str:
        """Run ``VBoxManage args...`` and return its stdout.

        :param ok_codes: ``VBOX_E_*`` codes that are not an error here (the stdout is returned).
        :raises VBoxManageError: a non-zero exit, with VirtualBox's message and code; or a timeout.
        """
        argv = [self.path, "-q", *args]
        limit = timeout or self.timeout
        LOG.debug("VBoxManage %s", " ".join(args))
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=limit, check=False)
        except subprocess.TimeoutExpired as err:  # subprocess.run has killed it
            raise VBoxManageError(f"VBoxManage {args[0]} did not finish in {limit:g} s and was killed",
                                  command=" ".join(args)) from err
        except OSError as err:
            raise VBoxManageError(f"cannot run {self.path}: {err.strerror}", command=" ".join(args)) from err
        if proc.returncode == 0:
            return proc.stdout
        report = parse_error(proc.stderr)
        if report.code is not None and report.code in ok_codes:
            return proc.stdout
        raise VBoxManageError(report.message, report.code, " ".join(args), proc.returncode, report.component,
                              report.interface)
