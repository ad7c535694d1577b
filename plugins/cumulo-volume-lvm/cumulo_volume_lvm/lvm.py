"""The LVM command line (``lvm <command>``) with timeouts, JSON reports and errors that say what failed."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from collections.abc import Sequence
from typing import Any

from cumulo.interfaces.volume import BackendFull, VolumeDriverError

# lvm warns on stderr about every inherited descriptor (a service has many); the warnings are noise
_ENV = {"LVM_SUPPRESS_FD_WARNINGS": "1"}
_FULL = ("insufficient free space", "insufficient suitable allocatable extents", "free space in pool")


class LvmError(VolumeDriverError):
    """An LVM command failed; the message names the command and quotes LVM's own."""


@dataclasses.dataclass(frozen=True)
class VgInfo:
    """A volume group as ``vgs`` reports it (sizes in bytes)."""

    name: str
    size: int
    free: int


@dataclasses.dataclass(frozen=True)
class LvInfo:
    """A logical volume as ``lvs`` reports it (size in bytes; ``data_percent`` of a thin pool or thin LV)."""

    name: str
    size: int
    segtype: str
    pool: str
    origin: str
    tags: tuple[str, ...]
    data_percent: float
    active: bool


def run_command(argv: Sequence[str], timeout: float, label: str = "", env: dict[str, str] | None = None) -> str:
    """Run ``argv`` and return its stdout.

    :raises BackendFull: LVM says there is not enough space.
    :raises LvmError: it could not run, failed, or took longer than ``timeout`` seconds (then killed).
    """
    label = label or " ".join(os.path.basename(a) for a in argv[:2])
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False,
                              env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired as err:
        raise LvmError(f"{label} took longer than {timeout:g} s and was killed") from err
    except OSError as err:
        raise LvmError(f"cannot run {argv[0]}: {err}") from err
    if proc.returncode != 0:
        message = " ".join((proc.stderr or proc.stdout).split()) or f"exit status {proc.returncode}"
        if any(marker in message.lower() for marker in _FULL):
            raise BackendFull(f"{label}: {message}")
        raise LvmError(f"{label} failed: {message}")
    return proc.stdout


class Lvm:
    """``lvm`` run with the configured ``--config`` and a timeout; reports read as JSON."""

    def __init__(self, binary: str, config: str, timeout: float) -> None:
        self.binary = binary
        self.config = config
        self.timeout = timeout

    def run(self, command: str, *args: str) -> str:
        """Run ``lvm command [--config ...] args...``; its stdout (see :func:`run_command` for the errors)."""
        argv = [self.binary, command, *(["--config", self.config] if self.config else []), *args]
        return run_command(argv, self.timeout, label=f"lvm {command}", env=_ENV)

    def report(self, command: str, key: str, *args: str) -> list[dict[str, Any]]:
        """The rows of ``lvm command --reportformat json`` (``key`` is ``vg`` or ``lv``), sizes in bytes.

        :raises LvmError: the command failed or its output is not the JSON report LVM writes.
        """
        out = self.run(command, "--reportformat", "json", "--units", "b", "--nosuffix", *args)
        try:
            rows = [row for part in json.loads(out)["report"] for row in part.get(key, [])]
        except (ValueError, KeyError, TypeError) as err:
            raise LvmError(f"lvm {command} wrote no JSON report: {out[:200]!r}") from err
        return rows

    def vg(self, name: str) -> VgInfo | None:
        """Volume group ``name``, None when there is none (LVM says it is not found).

        :raises LvmError: the command failed for another reason.
        """
        try:
            rows = self.report("vgs", "vg", "-o", "vg_name,vg_size,vg_free", name)
        except LvmError as err:
            if "not found" in str(err).lower():
                return None
            raise
        for row in rows:
            if row.get("vg_name") == name:
                return VgInfo(name=name, size=_int(row.get("vg_size")), free=_int(row.get("vg_free")))
        return None

    def lvs(self, vg: str) -> dict[str, LvInfo]:
        """The logical volumes of ``vg`` by name.

        :raises LvmError: the command failed (the volume group is gone, LVM is broken).
        """
        rows = self.report("lvs", "lv", "-o", "lv_name,lv_size,segtype,pool_lv,origin,lv_tags,data_percent,"
                                               "lv_active", vg)
        found = {}
        for row in rows:
            name = str(row.get("lv_name", ""))
            tags = tuple(t for t in str(row.get("lv_tags", "")).split(",") if t)
            found[name] = LvInfo(name=name, size=_int(row.get("lv_size")), segtype=str(row.get("segtype", "")),
                                 pool=str(row.get("pool_lv", "")), origin=str(row.get("origin", "")), tags=tags,
                                 data_percent=_float(row.get("data_percent")),
                                 active=str(row.get("lv_active", "")) == "active")
        return found


def _int(value: object) -> int:
    try:
        return int(float(str(value)))
    except ValueError:
        return 0


def _float(value: object) -> float:
    try:
        return float(str(value))
    except ValueError:
        return 0.0
