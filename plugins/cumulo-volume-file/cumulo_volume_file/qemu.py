"""Running ``qemu-img`` and reading qcow2 headers without it."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import struct
import subprocess
from collections.abc import Sequence
from typing import Any

from cumulo.interfaces.volume import VolumeBusy, VolumeDriverError

QCOW2_MAGIC = b"QFI\xfb"
# qemu-img info of an image a user uploaded runs under these limits (bytes of address space, CPU seconds)
UNTRUSTED_INFO_MEMORY = 1024 ** 3
UNTRUSTED_INFO_CPU = 30
# magic, version, backing_file_offset, backing_file_size, cluster_bits, size (the start of every qcow2 header)
_HEADER = struct.Struct(">4sIQIIQ")


@dataclasses.dataclass(frozen=True)
class Header:
    """What the start of a qcow2 file says: its virtual size and the backing file it names (or None)."""

    virtual_size: int
    backing_file: str | None


def read_header(path: str) -> Header:
    """Read ``path``'s qcow2 header (cheap: a stats pass reads every file's).

    :raises FileNotFoundError: there is no such file.
    :raises VolumeDriverError: it is not a qcow2 file.
    """
    with open(path, "rb") as f:
        raw = f.read(_HEADER.size)
        if len(raw) < _HEADER.size:
            raise VolumeDriverError(f"{path} is not a qcow2 file (too short)")
        magic, _version, backing_offset, backing_size, _cluster_bits, size = _HEADER.unpack(raw)
        if magic != QCOW2_MAGIC:
            raise VolumeDriverError(f"{path} is not a qcow2 file")
        backing = None
        if backing_offset and backing_size:
            f.seek(backing_offset)
            backing = f.read(backing_size).decode("utf-8", "surrogateescape")
    return Header(virtual_size=size, backing_file=backing)


class QemuImg:
    """``qemu-img`` run in one directory (so relative backing names resolve there) with a timeout."""

    def __init__(self, binary: str, cwd: str, timeout: float) -> None:
        self.binary = binary
        self.cwd = cwd
        self.timeout = timeout

    def run(self, *args: str) -> str:
        """Run ``qemu-img args...``; its stdout.

        :raises VolumeBusy: a running process (an export, a guest) holds the file's lock.
        :raises VolumeDriverError: it failed or took longer than the timeout.
        """
        return run_command([self.binary, *args], cwd=self.cwd, timeout=self.timeout)

    def info(self, path: str, fmt: str, untrusted: bool = False) -> dict[str, Any]:
        """``qemu-img info --output=json`` of ``path`` read as ``fmt`` (never probed: probing raw data is unsafe).

        ``untrusted`` (an image a user uploaded): under ``prlimit``, 1 GiB of
        address space and 30 s of CPU, so a crafted header cannot exhaust the host.
        """
        argv = [self.binary, "info", "--output=json", "-f", fmt, path]
        prlimit = shutil.which("prlimit")
        if untrusted and prlimit:
            argv = [prlimit, f"--as={UNTRUSTED_INFO_MEMORY}", f"--cpu={UNTRUSTED_INFO_CPU}", "--", *argv]
        data: dict[str, Any] = json.loads(run_command(argv, cwd=self.cwd, timeout=self.timeout, label="qemu-img info"))
        return data

    def create(self, path: str, size: int, backing: str | None = None) -> None:
        """A new qcow2 file of ``size`` bytes, 0600, backed by the qcow2 file ``backing`` (a name in ``cwd``)."""
        args = ["create", "-q", "-f", "qcow2"]
        if backing:
            # -u: the backing file may not exist yet (a snapshot's, renamed into place next)
            args += ["-u", "-b", backing, "-F", "qcow2"]
        self.run(*args, path, str(size))
        os.chmod(os.path.join(self.cwd, path), 0o600)


def run_command(argv: Sequence[str], cwd: str | None = None, timeout: float = 60.0, label: str = "") -> str:
    """Run ``argv`` and return its stdout; see :meth:`QemuImg.run` for the errors (``label`` names it in them)."""
    label = label or f"{os.path.basename(argv[0])} {argv[1] if len(argv) > 1 else ''}".strip()
    try:
        proc = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as err:
        raise VolumeDriverError(f"{label} took longer than {timeout:g} s and was killed") from err
    except OSError as err:
        raise VolumeDriverError(f"cannot run {argv[0]}: {err}") from err
    if proc.returncode != 0:
        message = (proc.stderr or proc.stdout).strip().replace("\n", "; ")
        if "lock" in message and ("Failed to get" in message or "Is another process using" in message):
            raise VolumeBusy(f"the volume is in use by another process (attached or exported): {message}")
        raise VolumeDriverError(f"{label} failed: {message}")
    return proc.stdout
