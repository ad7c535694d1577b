"""Objects on a device: ``objects/<part>/<suffix>/<hash>/<timestamp>.{data,meta,ts}``.

File and directory names come only from the md5 of the object's path and
from timestamps, never from the name itself, so no name can escape the
device. A ``.data`` file starts with a header (``CUMO`` + 4-byte length +
JSON metadata: name, etag, size, content type, user metadata) and holds the
body after it; it is written to ``tmp/``, fsync'd and renamed into place, so
a reader sees a whole object or none. ``.meta`` files carry newer user
metadata (POST), ``.ts`` files are tombstones. The newest ``.data``/``.ts``
wins; older files are removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import struct
import time
import uuid
from collections.abc import Iterator
from typing import Any, BinaryIO

MAGIC = b"CUMO"
HEADER = struct.Struct(">4sI")
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
    raw = f.read(HEADER.size)
    if len(raw) != HEADER.size:
        raise DiskFileError("truncated header")
    magic, length = HEADER.unpack(raw)
    if magic != MAGIC or length > 16 * 1024 * 1024:
        raise DiskFileError("bad header")
    blob = f.read(length)
    if len(blob) != length:
        raise DiskFileError("truncated metadata")
    return json.loads(blob)


def header_bytes(meta: dict[str, Any]) -> bytes:
    blob = json.dumps(meta).encode()
    return HEADER.pack(MAGIC, len(blob)) + blob


def write_small(device: Device, hash_dir: str, fname: str, meta: dict[str, Any]) -> None:
    """Write a .meta or .ts file (header only) atomically."""
    tmp = device.tmp_path()
    with open(tmp, "wb") as f:
        f.write(header_bytes(meta))
        f.flush()
        os.fsync(f.fileno())
    os.makedirs(hash_dir, exist_ok=True)
    os.replace(tmp, os.path.join(hash_dir, fname))
    fsync_dir(hash_dir)


class DataWriter:
    """Stream a body into tmp/, then :meth:`commit` it into the hash dir."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.tmp = device.tmp_path()
        self._f = open(self.tmp, "wb")  # noqa: SIM115 - closed in commit/abort
        self._md5 = hashlib.md5()
        self.size = 0
        self._f.write(HEADER.pack(MAGIC, 0))  # the real header is rewritten at commit

    def write(self, chunk: bytes) -> None:
        self._f.write(chunk)
        self._md5.update(chunk)
        self.size += len(chunk)

    @property
    def etag(self) -> str:
        return self._md5.hexdigest()

    def commit(self, hash_dir: str, timestamp: str, meta: dict[str, Any]) -> None:
        """Put the header in front (copying the body once into the final temp file), fsync, rename."""
        self._f.flush()
        self._f.close()
        final = self.device.tmp_path()
        try:
            with open(final, "wb") as out, open(self.tmp, "rb") as src:
                out.write(header_bytes(meta))
                src.seek(HEADER.size)
                shutil.copyfileobj(src, out, 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
            os.makedirs(hash_dir, exist_ok=True)
            os.replace(final, os.path.join(hash_dir, timestamp + ".data"))
            fsync_dir(hash_dir)
        finally:
            for p in (self.tmp, final):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(p)

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
        self.body_offset = 0
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
                self.body_offset = f.tell()
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

    def open_body(self, chunk_size: int = 65536) -> Iterator[bytes]:
        assert self.data_path is not None
        f = open(self.data_path, "rb")  # noqa: SIM115 - closed by the generator
        f.seek(self.body_offset)

        def gen() -> Iterator[bytes]:
            try:
                while True:
                    chunk = f.read(chunk_size)
                    if not chunk:
                        return
                    yield chunk
            finally:
                f.close()

        return gen()


def verify_data_file(path: str) -> str | None:
    """None when the .data file's body matches its etag and size; else what is wrong."""
    try:
        with open(path, "rb") as f:
            meta = read_header(f)
            md5 = hashlib.md5()
            size = 0
            while True:
                chunk = f.read(1024 * 1024)
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
