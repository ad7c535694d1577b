"""The "dir" object backend: every object in one directory tree, an SQLite index beside it.

Layout under ``[object_dir] root`` (default ``<state_path>/objects``)::

    index.sqlite          accounts, containers (with their counters) and objects (with metadata)
    data/<xx>/<uuid hex>  object bytes; the file name is random, never derived from the object name
    tmp/                  uploads in progress

Object, container and account names live only in the index, so no name
(``../``, slashes, 1024-byte names, any UTF-8) can reach the file system.

Writes are atomic: the bytes go to a temp file, are fsynced and renamed into
``data/``, then one SQLite transaction points the index at the new file and
updates the container counters; the old file is removed after the commit. A
crash leaves either the old or the new object, plus at worst an unreferenced
file that :meth:`DirBackend.cleanup_orphans` removes at start.

Objects whose ``X-Delete-At`` has passed are invisible at once and purged
(rows, counters, files) by the next write or listing.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from oslo_config import cfg

from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.object import (
    ObjectBackend,
    ObjectConflict,
    ObjectEtagMismatch,
    ObjectInfo,
    ObjectNotFound,
)
from cumulo.utils.metadata import ci_get, ci_merge
from cumulo.utils.ranges import FileRange

LOG = logging.getLogger(__name__)
CHUNK = 64 * 1024
TOP = "\U0010ffff"

opts = [
    cfg.StrOpt("root", help="Directory of the store. Default: <state_path>/objects."),
    cfg.BoolOpt("fsync", default=True,
                help="fsync each object before it becomes visible (turn off only for throwaway test clouds)."),
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS account (
    name TEXT PRIMARY KEY, metadata TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS container (
    account TEXT NOT NULL, name TEXT NOT NULL, metadata TEXT NOT NULL, created_at REAL NOT NULL,
    last_modified REAL NOT NULL, object_count INTEGER NOT NULL, bytes_used INTEGER NOT NULL,
    PRIMARY KEY (account, name));
CREATE TABLE IF NOT EXISTS object (
    account TEXT NOT NULL, container TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL,
    etag TEXT NOT NULL, content_type TEXT NOT NULL, last_modified REAL NOT NULL, metadata TEXT NOT NULL,
    file TEXT NOT NULL, delete_at INTEGER,
    PRIMARY KEY (account, container, name));
CREATE INDEX IF NOT EXISTS object_delete_at ON object (delete_at) WHERE delete_at IS NOT NULL;
"""


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [("object_dir", opts)]


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def _delete_at(meta: dict[str, str]) -> int | None:
    raw = ci_get(meta, "X-Delete-At")
    if raw in (None, ""):
        return None
    try:
        return int(float(raw))
    except ValueError:
        return None


class DirBackend(ObjectBackend):
    """Objects as files in one directory, indexed by SQLite. Single node, no replication."""

    interface_version = "2.0"

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return [("object_dir", opts)]

    def __init__(self, ctx: PluginContext, root: str | os.PathLike[str] | None = None,
                 fsync: bool | None = None) -> None:
        super().__init__(ctx)
        conf = self.conf
        if root is None or fsync is None:
            conf.register_opts(opts, group="object_dir")  # idempotent for the same options
            root = root if root is not None else (conf.object_dir.root or os.path.join(conf.state_path, "objects"))
            fsync = conf.object_dir.fsync if fsync is None else fsync
        self.root = os.path.abspath(str(root))
        self.fsync = fsync
        self.data_dir = os.path.join(self.root, "data")
        self.tmp_dir = os.path.join(self.root, "tmp")
        os.makedirs(self.data_dir, exist_ok=True)
        os.makedirs(self.tmp_dir, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(os.path.join(self.root, "index.sqlite"), check_same_thread=False,
                                   isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._next_purge = 0.0
        self.cleanup_orphans()

    # -- plumbing ------------------------------------------------------------------------------
    def _tx(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = fn(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _path(self, file: str) -> str:
        return os.path.join(self.data_dir, file[:2], file)

    def _unlink(self, files: Iterable[str]) -> None:
        for f in files:
            try:
                os.unlink(self._path(f))
            except FileNotFoundError:
                pass

    def cleanup_orphans(self) -> int:
        """Remove temp files and data files no index row points at (left by a crash)."""
        removed = 0
        for name in os.listdir(self.tmp_dir):
            try:
                os.unlink(os.path.join(self.tmp_dir, name))
                removed += 1
            except OSError:
                pass
        with self._lock:
            known = {r[0] for r in self._db.execute("SELECT file FROM object")}
            for sub in os.listdir(self.data_dir):
                subdir = os.path.join(self.data_dir, sub)
                for name in os.listdir(subdir) if os.path.isdir(subdir) else []:
                    if name not in known:
                        os.unlink(os.path.join(subdir, name))
                        removed += 1
        return removed

    def purge_expired(self, force: bool = False) -> int:
        """Delete objects whose X-Delete-At has passed; returns how many."""
        now = time.time()
        if not force and now < self._next_purge:
            return 0
        self._next_purge = now + 1.0

        def _do(db: sqlite3.Connection) -> list[str]:
            rows = db.execute("SELECT account, container, name, size, file FROM object "
                              "WHERE delete_at IS NOT NULL AND delete_at <= ?", (now,)).fetchall()
            for account, container, name, size, _f in rows:
                db.execute("DELETE FROM object WHERE account=? AND container=? AND name=?",
                           (account, container, name))
                db.execute("UPDATE container SET object_count=object_count-1, bytes_used=bytes_used-?, "
                           "last_modified=? WHERE account=? AND name=?", (size, now, account, container))
            return [r[4] for r in rows]

        files = self._tx(_do)
        self._unlink(files)
        return len(files)

    # -- accounts ------------------------------------------------------------------------------
    def head_account(self, account: str) -> dict[str, Any]:
        self.purge_expired()
        rows = self._query("SELECT metadata, created_at FROM account WHERE name=?", (account,))
        stats = self._query("SELECT COUNT(*), COALESCE(SUM(object_count),0), COALESCE(SUM(bytes_used),0) "
                            "FROM container WHERE account=?", (account,))[0]
        meta, created = (json.loads(rows[0][0]), rows[0][1]) if rows else ({}, time.time())
        return {"container_count": stats[0], "object_count": stats[1], "bytes_used": stats[2],
                "metadata": meta, "created_at": created}

    def post_account(self, account: str, metadata: dict[str, str]) -> None:
        def _do(db: sqlite3.Connection) -> None:
            row = db.execute("SELECT metadata FROM account WHERE name=?", (account,)).fetchone()
            meta = ci_merge(json.loads(row[0]) if row else {}, metadata)
            db.execute("INSERT INTO account (name, metadata, created_at) VALUES (?, ?, ?) "
                       "ON CONFLICT(name) DO UPDATE SET metadata=excluded.metadata",
                       (account, json.dumps(meta), time.time()))

        self._tx(_do)

    def list_containers(self, account: str, prefix: str = "", delimiter: str = "", marker: str = "",
                        end_marker: str = "", limit: int = 10000, reverse: bool = False) -> list[dict[str, Any]]:
        self.purge_expired()

        def fetch(where: str, args: list[Any], order: str, n: int) -> list[tuple[Any, ...]]:
            return self._query("SELECT name, object_count, bytes_used, last_modified FROM container "
                               f"WHERE account=? AND {where} ORDER BY name {order} LIMIT ?",
                               (account, *args, n))

        def row(r: tuple[Any, ...]) -> dict[str, Any]:
            return {"name": r[0], "count": r[1], "bytes": r[2], "last_modified": _iso(r[3])}

        return _listing(fetch, row, prefix, delimiter, marker, end_marker, limit, reverse)

    # -- containers ----------------------------------------------------------------------------
    def put_container(self, account: str, container: str, metadata: dict[str, str]) -> bool:
        def _do(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT metadata FROM container WHERE account=? AND name=?",
                             (account, container)).fetchone()
            now = time.time()
            if row is None:
                meta = ci_merge({}, metadata)
                db.execute("INSERT INTO container (account, name, metadata, created_at, last_modified, "
                           "object_count, bytes_used) VALUES (?, ?, ?, ?, ?, 0, 0)",
                           (account, container, json.dumps(meta), now, now))
                return True
            meta = ci_merge(json.loads(row[0]), metadata)
            db.execute("UPDATE container SET metadata=? WHERE account=? AND name=?",
                       (json.dumps(meta), account, container))
            return False

        return self._tx(_do)

    def head_container(self, account: str, container: str) -> dict[str, Any]:
        self.purge_expired()
        rows = self._query("SELECT metadata, created_at, object_count, bytes_used, last_modified FROM container "
                           "WHERE account=? AND name=?", (account, container))
        if not rows:
            raise ObjectNotFound(f"Container {container} not found")
        meta, created, count, used, modified = rows[0]
        return {"object_count": count, "bytes_used": used, "metadata": json.loads(meta),
                "created_at": created, "last_modified": modified}

    def post_container(self, account: str, container: str, metadata: dict[str, str]) -> None:
        def _do(db: sqlite3.Connection) -> None:
            row = db.execute("SELECT metadata FROM container WHERE account=? AND name=?",
                             (account, container)).fetchone()
            if row is None:
                raise ObjectNotFound(f"Container {container} not found")
            db.execute("UPDATE container SET metadata=? WHERE account=? AND name=?",
                       (json.dumps(ci_merge(json.loads(row[0]), metadata)), account, container))

        self._tx(_do)

    def delete_container(self, account: str, container: str) -> None:
        self.purge_expired(force=True)

        def _do(db: sqlite3.Connection) -> None:
            row = db.execute("SELECT object_count FROM container WHERE account=? AND name=?",
                             (account, container)).fetchone()
            if row is None:
                raise ObjectNotFound(f"Container {container} not found")
            left = db.execute("SELECT 1 FROM object WHERE account=? AND container=? LIMIT 1",
                              (account, container)).fetchone()
            if left:
                raise ObjectConflict(f"Container {container} is not empty")
            db.execute("DELETE FROM container WHERE account=? AND name=?", (account, container))

        self._tx(_do)

    def list_objects(self, account: str, container: str, prefix: str = "", delimiter: str = "",
                     marker: str = "", end_marker: str = "", limit: int = 10000,
                     reverse: bool = False) -> list[dict[str, Any]]:
        self.purge_expired()
        if not self._query("SELECT 1 FROM container WHERE account=? AND name=?", (account, container)):
            raise ObjectNotFound(f"Container {container} not found")

        def fetch(where: str, args: list[Any], order: str, n: int) -> list[tuple[Any, ...]]:
            return self._query("SELECT name, size, etag, content_type, last_modified FROM object "
                               f"WHERE account=? AND container=? AND {where} ORDER BY name {order} LIMIT ?",
                               (account, container, *args, n))

        def row(r: tuple[Any, ...]) -> dict[str, Any]:
            return {"name": r[0], "bytes": r[1], "hash": r[2], "content_type": r[3], "last_modified": _iso(r[4])}

        return _listing(fetch, row, prefix, delimiter, marker, end_marker, limit, reverse)

    # -- objects -------------------------------------------------------------------------------
    def _container_exists(self, account: str, container: str) -> bool:
        return bool(self._query("SELECT 1 FROM container WHERE account=? AND name=?", (account, container)))

    def put_object(self, account: str, container: str, obj: str, chunks: Iterable[bytes],
                   content_type: str, metadata: dict[str, str], etag: str | None = None) -> ObjectInfo:
        if not self._container_exists(account, container):
            raise ObjectNotFound(f"Container {container} not found")
        file = uuid.uuid4().hex
        tmp = os.path.join(self.tmp_dir, file)
        md5, size = hashlib.md5(usedforsecurity=False), 0
        try:
            with open(tmp, "wb") as f:
                for chunk in chunks:
                    if chunk:
                        md5.update(chunk)
                        size += len(chunk)
                        f.write(chunk)
                f.flush()
                if self.fsync:
                    os.fsync(f.fileno())
            digest = md5.hexdigest()
            if etag is not None and etag.strip('"').lower() != digest:
                raise ObjectEtagMismatch(f"The ETag {etag} does not match the MD5 of the data ({digest})")
            final = self._path(file)
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.rename(tmp, final)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        meta = {k: v for k, v in metadata.items() if v != ""}
        now = time.time()

        def _do(db: sqlite3.Connection) -> str | None:
            if not db.execute("SELECT 1 FROM container WHERE account=? AND name=?", (account, container)).fetchone():
                raise ObjectNotFound(f"Container {container} not found")
            old = db.execute("SELECT size, file FROM object WHERE account=? AND container=? AND name=?",
                             (account, container, obj)).fetchone()
            db.execute("INSERT OR REPLACE INTO object (account, container, name, size, etag, content_type, "
                       "last_modified, metadata, file, delete_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (account, container, obj, size, digest, content_type, now, json.dumps(meta), file,
                        _delete_at(meta)))
            count_delta, bytes_delta = (0, size - old[0]) if old else (1, size)
            db.execute("UPDATE container SET object_count=object_count+?, bytes_used=bytes_used+?, "
                       "last_modified=? WHERE account=? AND name=?",
                       (count_delta, bytes_delta, now, account, container))
            return old[1] if old else None

        try:
            replaced = self._tx(_do)
        except BaseException:
            self._unlink([file])
            raise
        if replaced:
            self._unlink([replaced])
        return ObjectInfo(name=obj, size=size, etag=digest, last_modified=now, content_type=content_type,
                          metadata=meta)

    def _row(self, account: str, container: str, obj: str) -> tuple[Any, ...]:
        rows = self._db.execute("SELECT size, etag, content_type, last_modified, metadata, file, delete_at "
                                "FROM object WHERE account=? AND container=? AND name=?",
                                (account, container, obj)).fetchall()
        if not rows or (rows[0][6] is not None and rows[0][6] <= time.time()):
            raise ObjectNotFound(f"Object {obj} not found")
        return rows[0]

    def _info(self, obj: str, row: tuple[Any, ...]) -> ObjectInfo:
        size, etag, ctype, modified, meta, _file, _d = row
        return ObjectInfo(name=obj, size=size, etag=etag, last_modified=modified, content_type=ctype,
                          metadata=json.loads(meta))

    def head_object(self, account: str, container: str, obj: str) -> ObjectInfo:
        with self._lock:
            return self._info(obj, self._row(account, container, obj))

    def get_object(self, account: str, container: str, obj: str) -> ObjectInfo:
        return self.get_object_range(account, container, obj, 0, -1)

    def get_object_range(self, account: str, container: str, obj: str, start: int, end: int) -> ObjectInfo:
        # Open under the lock: a concurrent overwrite unlinks the old file only after
        # its commit, and an open handle keeps reading the old bytes.
        with self._lock:
            row = self._row(account, container, obj)
            fh = open(self._path(row[5]), "rb")
        info = self._info(obj, row)
        end = info.size if end < 0 else min(end, info.size)
        info.body = FileRange(fh, start, max(end, start), CHUNK)
        return info

    def post_object(self, account: str, container: str, obj: str, metadata: dict[str, str]) -> None:
        meta = {k: v for k, v in metadata.items() if v != ""}

        def _do(db: sqlite3.Connection) -> None:
            self._row(account, container, obj)
            db.execute("UPDATE object SET metadata=?, delete_at=?, last_modified=? "
                       "WHERE account=? AND container=? AND name=?",
                       (json.dumps(meta), _delete_at(meta), time.time(), account, container, obj))

        self._tx(_do)

    def delete_object(self, account: str, container: str, obj: str) -> None:
        def _do(db: sqlite3.Connection) -> str:
            if not db.execute("SELECT 1 FROM container WHERE account=? AND name=?", (account, container)).fetchone():
                raise ObjectNotFound(f"Container {container} not found")
            size, *_rest, file, _d = self._row(account, container, obj)
            db.execute("DELETE FROM object WHERE account=? AND container=? AND name=?", (account, container, obj))
            db.execute("UPDATE container SET object_count=object_count-1, bytes_used=bytes_used-?, "
                       "last_modified=? WHERE account=? AND name=?", (size, time.time(), account, container))
            return file

        self._unlink([self._tx(_do)])


def _listing(fetch: Callable[[str, list[Any], str, int], list[tuple[Any, ...]]],
             row: Callable[[tuple[Any, ...]], dict[str, Any]], prefix: str, delimiter: str, marker: str,
             end_marker: str, limit: int, reverse: bool) -> list[dict[str, Any]]:
    """Swift listing semantics over a name-ordered table.

    ``fetch(where, args, order, n)`` returns up to ``n`` rows (name first) matching ``where``.
    Forward: names in (marker, end_marker); reverse: names in (end_marker, marker), descending.
    With a delimiter, names sharing a prefix up to the delimiter collapse into one ``subdir``.
    """
    results: list[dict[str, Any]] = []
    if limit <= 0:
        return results
    # Bounds as (value, inclusive) pairs; None is unbounded.
    lower: tuple[str, bool] | None = None
    upper: tuple[str, bool] | None = None
    if prefix:
        lower = (prefix, True)
        upper = (prefix[:-1] + chr(ord(prefix[-1]) + 1), False) if ord(prefix[-1]) < 0x10FFFF else None
    lo_b, hi_b = (end_marker, marker) if reverse else (marker, end_marker)
    if lo_b and (lower is None or lo_b >= lower[0]):
        lower = (lo_b, False)
    if hi_b and (upper is None or hi_b <= upper[0]):
        upper = (hi_b, False)
    while len(results) < limit:
        where, args = ["1=1"], []
        if lower is not None:
            where.append("name >= ?" if lower[1] else "name > ?")
            args.append(lower[0])
        if upper is not None:
            where.append("name <= ?" if upper[1] else "name < ?")
            args.append(upper[0])
        want = limit - len(results)
        rows = fetch(" AND ".join(where), args, "DESC" if reverse else "ASC", want if not delimiter else max(want, 100))
        if not rows:
            break
        jumped = False
        for r in rows:
            name = r[0]
            if delimiter:
                idx = name.find(delimiter, len(prefix))
                if idx >= 0:
                    sub = name[:idx + len(delimiter)]
                    if sub != marker:
                        results.append({"subdir": sub})
                    # Skip every name under this subdir and fetch again.
                    if reverse:
                        upper = (sub, False)
                    else:
                        lower = (sub[:-1] + chr(ord(sub[-1]) + 1), True) if ord(sub[-1]) < 0x10FFFF \
                            else (sub + TOP, True)
                    jumped = True
                    break
            results.append(row(r))
            if reverse:
                upper = (name, False)
            else:
                lower = (name, False)
            if len(results) >= limit:
                break
        if not jumped and len(rows) < (want if not delimiter else max(want, 100)):
            break
    return results[:limit]
