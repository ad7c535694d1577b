"""Objects on a device: ``objects/<part>/<suffix>/<hash>/<timestamp>.{data,meta,ts}``.

File and directory names come only from the md5 of the object's path and
from timestamps, never from the name itself, so no name can escape the
device. A ``.data`` file holds the body, then the metadata as JSON (name,
etag, size, content type, user metadata), then a footer (4-byte JSON length
+ ``CUMO``), so the body is written once as it streams in. It is written to
``tmp/``, fsync'd and renamed into place, so a reader sees a whole object or
none. ``.meta`` files carry newer user
metadata (POST), ``.ts`` files are tombstones. The newest ``.data``/``.ts``
wins; older files are removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import time
import uuid
from collections.abc import Iterator
from typing import Any, BinaryIO

from cumulo.utils.ranges import FileRange

MAGIC = b"CUMO"
FOOTER = struct.Struct(">I4s")
EXTS = (".data", ".meta", ".ts")


def normalize_timestamp(t: float | str) -> str:
    """Fixed-width timestamps sort as strings: ``0001700000000.00000``."""
    return f"{float(t):019.5f}"


def now_ts() -> str:
    return normalize_timestamp(time.time())


def fsync_dir(path: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class DiskFileError(Exception):
    pass


class Device:
    """One device directory of a storage node."""

    def __init__(self, root: str, name: str) -> None:
        if not name or "/" in name or name in (".", ".."):
            raise DiskFileError(f"Bad device name {name!r}")
        self.name = name
        self.path = os.path.join(root, name)
        self.tmp = os.path.join(self.path, "tmp")
        for sub in ("objects", "containers", "accounts", "tmp", "async_pending", "quarantined", "expiring"):
            os.makedirs(os.path.join(self.path, sub), exist_ok=True)

    # -- paths -----------------------------------------------------------------------------
    def hash_dir(self, kind: str, part: int, name_hash: str) -> str:
        if len(name_hash) != 32 or any(c not in "0123456789abcdef" for c in name_hash):
            raise DiskFileError(f"Bad hash {name_hash!r}")
        return os.path.join(self.path, kind, str(int(part)), name_hash[-3:], name_hash)

    def partitions(self, kind: str) -> list[int]:
        base = os.path.join(self.path, kind)
        return sorted(int(p) for p in os.listdir(base) if p.isdigit())

    def tmp_path(self) -> str:
        return os.path.join(self.tmp, uuid.uuid4().hex)


# ------------------------------------------------------------------------------------------
# files in a hash dir
# ------------------------------------------------------------------------------------------
def _split(fname: str) -> tuple[str, str]:
    base, ext = os.path.splitext(fname)
    return base, ext


def list_files(hash_dir: str) -> list[str]:
    try:
        return sorted(f for f in os.listdir(hash_dir) if f.endswith(EXTS))
    except (FileNotFoundError, NotADirectoryError):
        return []


def current_files(files: list[str]) -> tuple[str | None, str | None]:
    """(newest .data or .ts, newest .meta newer than it)."""
    newest: str | None = None
    meta: str | None = None
    for f in sorted(files, reverse=True):
        base, ext = _split(f)
        if ext in (".data", ".ts") and newest is None:
            newest = f
        elif ext == ".meta" and meta is None:
            meta = f
    if meta and (newest is None or _split(meta)[0] <= _split(newest)[0] or newest.endswith(".ts")):
        meta = None
    return newest, meta


def cleanup(hash_dir: str, reclaim_age: float | None = None) -> list[str]:
    """Remove obsolete files (and old tombstones); returns what remains."""
    files = list_files(hash_dir)
    newest, meta = current_files(files)
    keep = {f for f in (newest, meta) if f}
    for f in files:
        if f not in keep:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(hash_dir, f))
    if newest and newest.endswith(".ts") and reclaim_age is not None:
        if float(_split(newest)[0]) < time.time() - reclaim_age:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(hash_dir, newest))
            keep.discard(newest)
    if not keep:
        with contextlib.suppress(OSError):
            os.rmdir(hash_dir)
    return sorted(keep)


def read_header(f: BinaryIO) -> dict[str, Any]:
    """The metadata of a .data/.meta/.ts file (stored at its end); leaves ``f`` at offset 0."""
    return read_layout(f)[0]


def read_layout(f: BinaryIO) -> tuple[dict[str, Any], int]:
    """``(metadata, bytes before it)``: the body length as stored; leaves ``f`` at offset 0."""
    try:
        f.seek(-FOOTER.size, os.SEEK_END)
    except OSError:
        raise DiskFileError("truncated file") from None
    length, magic = FOOTER.unpack(f.read(FOOTER.size))
    if magic != MAGIC or length > 16 * 1024 * 1024:
        raise DiskFileError("bad footer")
    end = f.tell()
    if end < FOOTER.size + length:
        raise DiskFileError("truncated metadata")
    body_end = end - FOOTER.size - length
    f.seek(body_end)
    meta = json.loads(f.read(length))
    f.seek(0)
    return meta, body_end


def footer_bytes(meta: dict[str, Any]) -> bytes:
    blob = json.dumps(meta).encode()
    return blob + FOOTER.pack(len(blob), MAGIC)


def write_small(device: Device, hash_dir: str, fname: str, meta: dict[str, Any]) -> None:
    """Write a .meta or .ts file (metadata only) atomically."""
    tmp = device.tmp_path()
    with open(tmp, "wb") as f:
        f.write(footer_bytes(meta))
        f.flush()
        os.fsync(f.fileno())
    os.makedirs(hash_dir, exist_ok=True)
    os.replace(tmp, os.path.join(hash_dir, fname))
    fsync_dir(hash_dir)


class DataWriter:
    """Stream a body into tmp/, then :meth:`commit` it (metadata appended) into the hash dir."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.tmp = device.tmp_path()
        self._f = open(self.tmp, "wb")
        self._md5 = hashlib.md5()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._f.write(chunk)
        self._md5.update(chunk)
        self.size += len(chunk)

    @property
    def etag(self) -> str:
        return self._md5.hexdigest()

    def commit(self, hash_dir: str, timestamp: str, meta: dict[str, Any]) -> None:
        """Append the metadata, fsync, rename into place, fsync the directory."""
        try:
            self._f.write(footer_bytes(meta))
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            os.makedirs(hash_dir, exist_ok=True)
            os.replace(self.tmp, os.path.join(hash_dir, timestamp + ".data"))
            fsync_dir(hash_dir)
        finally:
            self.abort()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._f.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)


class ObjectState:
    """What a hash dir holds now: ``exists``, ``meta`` (merged), ``data_path``, ``timestamp``."""

    def __init__(self, hash_dir: str) -> None:
        self.hash_dir = hash_dir
        self.files = list_files(hash_dir)
        newest, meta_file = current_files(self.files)
        self.tombstone: str | None = None
        self.timestamp: str | None = None
        self.meta: dict[str, Any] = {}
        self.data_path: str | None = None
        self.exists = False
        if newest is None:
            return
        path = os.path.join(hash_dir, newest)
        if newest.endswith(".ts"):
            self.tombstone = _split(newest)[0]
            self.timestamp = self.tombstone
            return
        try:
            with open(path, "rb") as f:
                self.meta = read_header(f)
        except (FileNotFoundError, DiskFileError, ValueError):
            return
        self.data_path = path
        self.timestamp = _split(newest)[0]
        self.exists = True
        if meta_file:
            try:
                with open(os.path.join(hash_dir, meta_file), "rb") as f:
                    newer = read_header(f)
                self.meta["user"] = newer.get("user", {})
                self.meta["delete_at"] = newer.get("delete_at")
                self.meta["meta_timestamp"] = _split(meta_file)[0]
            except (FileNotFoundError, DiskFileError, ValueError):
                pass

    @property
    def expired(self) -> bool:
        delete_at = self.meta.get("delete_at")
        return bool(self.exists and delete_at is not None and float(delete_at) <= time.time())

    def open_body(self, chunk_size: int = 65536, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The body's bytes ``[start, end)`` (all of it by default), read in chunks."""
        assert self.data_path is not None
        size = int(self.meta["size"])
        end = size if end is None else min(end, size)
        return FileRange(open(self.data_path, "rb"), start, end, chunk_size)  # closes the file, read or not


def verify_data_file(path: str) -> str | None:
    """None when the .data file's body matches its etag and size; else what is wrong."""
    try:
        with open(path, "rb") as f:
            meta, body_end = read_layout(f)
            md5 = hashlib.md5()
            size = 0
            while size < body_end:
                chunk = f.read(min(1024 * 1024, body_end - size))
                if not chunk:
                    break
                md5.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        return None
    except (DiskFileError, ValueError, OSError) as err:
        return f"unreadable: {err}"
    if size != meta.get("size"):
        return f"size {size} != {meta.get('size')}"
    if md5.hexdigest() != meta.get("etag"):
        return f"md5 {md5.hexdigest()} != {meta.get('etag')}"
    return None


def quarantine(device: Device, hash_dir: str) -> str:
    """Move a hash dir out of the way (the replicator then restores a good copy)."""
    dest = os.path.join(device.path, "quarantined", "objects", os.path.basename(hash_dir) + "-" + uuid.uuid4().hex[:8])
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    os.replace(hash_dir, dest)
    return dest


def suffix_hashes(device: Device, part: int, reclaim_age: float | None = None) -> dict[str, str]:
    """md5 per suffix dir of the current file names in it (what replicas compare)."""
    base = os.path.join(device.path, "objects", str(part))
    out: dict[str, str] = {}
    try:
        suffixes = sorted(os.listdir(base))
    except FileNotFoundError:
        return out
    for suffix in suffixes:
        sdir = os.path.join(base, suffix)
        md5 = hashlib.md5()
        try:
            hashes = sorted(os.listdir(sdir))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for h in hashes:
            for f in cleanup(os.path.join(sdir, h), reclaim_age):
                md5.update(f"{h}/{f}\n".encode())
        if not hashes or not os.listdir(sdir):
            with contextlib.suppress(OSError):
                os.rmdir(sdir)
            continue
        out[suffix] = md5.hexdigest()
    return out


def suffix_listing(device: Device, part: int, suffix: str) -> dict[str, list[str]]:
    sdir = os.path.join(device.path, "objects", str(part), suffix)
    out: dict[str, list[str]] = {}
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for h in sorted(os.listdir(sdir)):
            files = cleanup(os.path.join(sdir, h))
            if files:
                out[h] = files
    return out
