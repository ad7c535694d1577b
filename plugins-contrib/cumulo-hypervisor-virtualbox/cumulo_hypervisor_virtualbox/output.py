"""Parsers of VBoxManage's output formats (the manual's VBoxManage chapter).

* ``--machinereadable``: ``key=value`` lines; strings are double-quoted with ``\\"`` and ``\\\\`` escaped,
  numbers bare, and keys holding a dash are quoted too (``"SATA-0-0"="/path/disk.vdi"``).
* ``list vms``: ``"name" {uuid}`` lines.
* ``list hostinfo``, ``showmediuminfo``, ``list hdds``: ``Key: value`` lines (blocks separated by blank lines).
"""

from __future__ import annotations

import re

_LIST_LINE = re.compile(r'^"(?P<name>.*)" \{(?P<uuid>[0-9a-fA-F-]{36})\}$')
_VERSION = re.compile(r"^(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)")


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r'\\(["\\])', r"\1", text[1:-1])
    return text


def _split_pair(line: str) -> tuple[str, str] | None:
    """``key=value`` where the key may itself be quoted (and hold ``=``)."""
    if line.startswith('"'):
        end = line.find('"=', 1)
        if end < 0:
            return None
        return line[1:end], line[end + 2:]
    key, sep, value = line.partition("=")
    return (key, value) if sep else None


def machinereadable(text: str) -> dict[str, str]:
    """``showvminfo --machinereadable`` output -> ``{key: value}`` (values unquoted; the last of a key wins)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        pair = _split_pair(line.rstrip("\r"))
        if pair is not None:
            found[pair[0]] = _unquote(pair[1])
    return found


def machine_list(text: str) -> list[tuple[str, str]]:
    """``list vms`` output -> ``[(name, uuid)]``."""
    found = []
    for line in text.splitlines():
        match = _LIST_LINE.match(line.strip())
        if match:
            found.append((match["name"], match["uuid"].lower()))
    return found


def fields(text: str) -> list[dict[str, str]]:
    """``Key: value`` blocks (``list hdds``, ``list hostinfo``, ``showmediuminfo``) -> one dict per block."""
    blocks: list[dict[str, str]] = [{}]
    for line in text.splitlines():
        if not line.strip():
            if blocks[-1]:
                blocks.append({})
            continue
        key, sep, value = line.partition(":")
        if sep:
            blocks[-1][key.strip()] = value.strip()
    return [b for b in blocks if b]


def version_number(text: str) -> int:
    """``7.0.14r161095`` -> ``7000014`` (major * 1,000,000 + minor * 1,000 + patch, as Nova reports versions).

    :raises ValueError: not a VirtualBox version.
    """
    match = _VERSION.match(text.strip())
    if not match:
        raise ValueError(f"{text.strip()!r} is not a VirtualBox version")
    return int(match["major"]) * 1_000_000 + int(match["minor"]) * 1_000 + int(match["patch"])


def megabytes(text: str) -> int:
    """``"24000 MByte"`` / ``"1024 MBytes"`` -> ``24000`` / ``1024``; 0 when there is no number."""
    match = re.match(r"\s*(\d+)", text)
    return int(match.group(1)) if match else 0
