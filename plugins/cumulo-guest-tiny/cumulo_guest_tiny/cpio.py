"""A writer for the cpio "newc" format, the one the Linux kernel unpacks as an initramfs.

Pure Python so a build needs no ``cpio`` tool and no root: device nodes such as
``/dev/console`` are written as entries, not created on the build host.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import stat
from collections.abc import Iterable, Iterator
from typing import Protocol

_MAGIC = b"070701"
_TRAILER = "TRAILER!!!"


@dataclasses.dataclass(frozen=True)
class Entry:
    """One archive member: ``name`` is relative (no leading ``/``); ``mode`` includes the file type bits."""

    name: str
    mode: int
    data: bytes = b""  # file content, or a symlink's target
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    rdev: tuple[int, int] = (0, 0)  # (major, minor) of a device node


def directory(name: str, perm: int = 0o755) -> Entry:
    """A directory entry."""
    return Entry(name, stat.S_IFDIR | perm)


def file(name: str, data: bytes, perm: int = 0o644) -> Entry:
    """A regular file entry."""
    return Entry(name, stat.S_IFREG | perm, data)


def symlink(name: str, target: str) -> Entry:
    """A symbolic link entry."""
    return Entry(name, stat.S_IFLNK | 0o777, target.encode())


def char_device(name: str, major: int, minor: int, perm: int = 0o600) -> Entry:
    """A character device node (e.g. ``dev/console``, 5:1)."""
    return Entry(name, stat.S_IFCHR | perm, rdev=(major, minor))


def tree_entries(root: str, mtime: int = 0) -> Iterator[Entry]:
    """Entries for every directory, file and symlink under ``root``, in sorted order (reproducible).

    Owners are written as root (0:0) whoever builds; ``mtime`` replaces the files' own times.
    """
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        if rel != ".":
            yield Entry(rel, stat.S_IFDIR | stat.S_IMODE(os.lstat(dirpath).st_mode), mtime=mtime)
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            arc = os.path.normpath(os.path.join(rel, name))
            if stat.S_ISLNK(st.st_mode):
                yield Entry(arc, st.st_mode, os.readlink(path).encode(), mtime=mtime)
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    yield Entry(arc, st.st_mode, f.read(), mtime=mtime)


class Writable(Protocol):
    """Where an archive goes: any binary file (a plain file, a ``GzipFile``, a ``BytesIO``)."""

    def write(self, data: bytes, /) -> object: ...


def _pad(n: int) -> bytes:
    return b"\0" * (-n % 4)


def _header(entry: Entry, ino: int) -> bytes:
    name = entry.name.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(entry.mode) else 1
    fields = (ino, entry.mode, entry.uid, entry.gid, nlink, entry.mtime, len(entry.data), 0, 0,
              entry.rdev[0], entry.rdev[1], len(name), 0)
    head = _MAGIC + b"".join(b"%08X" % v for v in fields) + name
    return head + _pad(len(head))


def write(out: Writable, entries: Iterable[Entry]) -> None:
    """Write ``entries`` then the trailer to ``out`` as an uncompressed newc archive."""
    ino = 0
    for ino, entry in enumerate(entries, start=1):
        if entry.name.startswith("/") or not entry.name:
            raise ValueError(f"cpio entry name must be relative: {entry.name!r}")
        out.write(_header(entry, ino))
        out.write(entry.data + _pad(len(entry.data)))
    out.write(_header(Entry(_TRAILER, 0), ino + 1))


def write_gzip(path: str, entries: Iterable[Entry]) -> None:
    """Write a gzip-compressed newc archive (what ``-initrd`` takes) to ``path``, atomically.

    Reproducible: the gzip header carries neither a time nor a file name.
    """
    tmp = path + ".tmp"
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=9, mtime=0) as gz:
        write(gz, entries)
    os.replace(tmp, path)
