"""Container and account databases: one SQLite file per container or account.

A container database lists its objects (a row per name, deleted rows kept
as markers so replicas converge); an account database lists its containers
with their statistics. Every row change takes a new ``seq``, and replicas
exchange rows newer than the last ``seq`` the peer has seen (``sync`` table).
Rows merge by timestamp: the newer one wins, so the order in which updates
arrive does not matter.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from cumulo_object_ring.diskfile import fsync_dir, normalize_timestamp

_create_lock = threading.Lock()

COMMON_SCHEMA = """
CREATE TABLE info (k TEXT PRIMARY KEY, v TEXT);
CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL, ts TEXT NOT NULL);
CREATE TABLE sync (remote_id TEXT PRIMARY KEY, point INTEGER NOT NULL);
"""

CONTAINER_SCHEMA = COMMON_SCHEMA + """
CREATE TABLE item (name TEXT PRIMARY KEY, created_at TEXT NOT NULL, size INTEGER NOT NULL DEFAULT 0,
                   content_type TEXT NOT NULL DEFAULT '', etag TEXT NOT NULL DEFAULT '',
                   deleted INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL);
CREATE INDEX item_seq ON item(seq);
"""

ACCOUNT_SCHEMA = COMMON_SCHEMA + """
CREATE TABLE item (name TEXT PRIMARY KEY, put_timestamp TEXT NOT NULL, delete_timestamp TEXT NOT NULL,
                   object_count INTEGER NOT NULL DEFAULT 0, bytes_used INTEGER NOT NULL DEFAULT 0,
                   stats_ts TEXT NOT NULL DEFAULT '0', deleted INTEGER NOT NULL DEFAULT 0,
                   seq INTEGER NOT NULL);
CREATE INDEX item_seq ON item(seq);
"""

ZERO = normalize_timestamp(0)


class DatabaseNotFound(Exception):
    pass


class Broker:
    """One account or container database file."""

    kind = "container"
    schema = CONTAINER_SCHEMA

    def __init__(self, path: str) -> None:
        self.path = path

    @contextlib.contextmanager
    def conn(self) -> Iterator[sqlite3.Connection]:
        if not os.path.exists(self.path):
            raise DatabaseNotFound(self.path)
        c = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            c.execute("PRAGMA synchronous=FULL")
            c.execute("BEGIN IMMEDIATE")
            try:
                yield c
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        finally:
            c.close()

    @property
    def exists(self) -> bool:
        return os.path.exists(self.path)

    def initialize(self, info: dict[str, str]) -> bool:
        """Create the database (atomically: built in a temp file, renamed). False when it existed."""
        with _create_lock:
            if os.path.exists(self.path):
                return False
            directory = os.path.dirname(self.path)
            os.makedirs(directory, exist_ok=True)
            tmp = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
            c = sqlite3.connect(tmp, isolation_level=None)
            try:
                # WAL: one fsync per commit instead of the rollback journal's several.
                c.execute("PRAGMA journal_mode=WAL")
                c.executescript(self.schema)
                c.execute("BEGIN")
                values = {"id": uuid.uuid4().hex, "put_timestamp": ZERO, "delete_timestamp": ZERO,
                          "created_at": info.get("put_timestamp", ZERO), **info}
                c.executemany("INSERT INTO info VALUES (?, ?)", list(values.items()))
                c.execute("COMMIT")
                c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                c.close()
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            for leftover in (tmp + "-wal", tmp + "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)
            os.replace(tmp, self.path)
            fsync_dir(directory)
            return True

    # -- info and metadata -----------------------------------------------------------------
    def get_info(self, c: sqlite3.Connection | None = None) -> dict[str, str]:
        if c is None:
            with self.conn() as c2:
                return self.get_info(c2)
        return dict(c.execute("SELECT k, v FROM info").fetchall())

    def set_info(self, c: sqlite3.Connection, **values: str) -> None:
        c.executemany("INSERT OR REPLACE INTO info VALUES (?, ?)", [(k, str(v)) for k, v in values.items()])

    def get_metadata(self, c: sqlite3.Connection) -> dict[str, str]:
        return {k: v for k, v in c.execute("SELECT k, v FROM meta ORDER BY k") if v != ""}

    def raw_metadata(self, c: sqlite3.Connection) -> dict[str, list[str]]:
        return {k: [v, ts] for k, v, ts in c.execute("SELECT k, v, ts FROM meta")}

    def update_metadata(self, c: sqlite3.Connection, metadata: dict[str, list[str]]) -> None:
        """Merge ``{key: [value, timestamp]}``; newer timestamps win; empty values mark removals."""
        for k, (v, ts) in metadata.items():
            row = c.execute("SELECT ts FROM meta WHERE k = ?", (k.lower(),)).fetchone()
            if row is None or row[0] < ts:
                c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?, ?)", (k.lower(), v, ts))

    def is_deleted(self, info: dict[str, str]) -> bool:
        return info.get("delete_timestamp", ZERO) > info.get("put_timestamp", ZERO)

    def update_timestamps(self, c: sqlite3.Connection, put_timestamp: str | None = None,
                          delete_timestamp: str | None = None) -> None:
        info = self.get_info(c)
        if put_timestamp and put_timestamp > info.get("put_timestamp", ZERO):
            self.set_info(c, put_timestamp=put_timestamp)
            if self.is_deleted(info):
                self.set_info(c, created_at=put_timestamp)
        if delete_timestamp and delete_timestamp > info.get("delete_timestamp", ZERO):
            self.set_info(c, delete_timestamp=delete_timestamp)

    def next_seq(self, c: sqlite3.Connection) -> int:
        return (c.execute("SELECT MAX(seq) FROM item").fetchone()[0] or 0) + 1

    # -- replication -----------------------------------------------------------------------
    def sync_point(self, remote_id: str) -> int:
        with self.conn() as c:
            row = c.execute("SELECT point FROM sync WHERE remote_id = ?", (remote_id,)).fetchone()
            return row[0] if row else -1

    def rows_since(self, point: int, limit: int = 1000) -> list[dict[str, Any]]:
        with self.conn() as c:
            c.row_factory = sqlite3.Row
            return [dict(r) for r in c.execute("SELECT * FROM item WHERE seq > ? ORDER BY seq LIMIT ?",
                                               (point, limit))]

    def max_seq(self) -> int:
        with self.conn() as c:
            return c.execute("SELECT COALESCE(MAX(seq), 0) FROM item").fetchone()[0]

    def merge(self, remote_id: str, info: dict[str, str], metadata: dict[str, list[str]],
              rows: list[dict[str, Any]], point: int) -> None:
        """Apply a peer's state: timestamps, metadata, rows; remember how far we are."""
        with self.conn() as c:
            self.update_timestamps(c, info.get("put_timestamp"), info.get("delete_timestamp"))
            self.update_metadata(c, metadata)
            for row in rows:
                self.merge_row(c, row)
            c.execute("INSERT OR REPLACE INTO sync VALUES (?, ?)", (remote_id, point))

    def merge_row(self, c: sqlite3.Connection, row: dict[str, Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class ContainerBroker(Broker):
    kind = "container"
    schema = CONTAINER_SCHEMA

    def put_object(self, name: str, created_at: str, size: int, content_type: str, etag: str,
                   deleted: bool = False) -> None:
        with self.conn() as c:
            self.merge_row(c, {"name": name, "created_at": created_at, "size": size,
                               "content_type": content_type, "etag": etag, "deleted": int(deleted)})

    def merge_row(self, c: sqlite3.Connection, row: dict[str, Any]) -> None:
        old = c.execute("SELECT created_at FROM item WHERE name = ?", (row["name"],)).fetchone()
        if old is not None and old[0] >= row["created_at"]:
            return
        c.execute("INSERT OR REPLACE INTO item (name, created_at, size, content_type, etag, deleted, seq) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?)",
                  (row["name"], row["created_at"], int(row["size"]), row["content_type"], row["etag"],
                   int(row["deleted"]), self.next_seq(c)))

    def stats(self, c: sqlite3.Connection) -> tuple[int, int]:
        n, b = c.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM item WHERE deleted = 0").fetchone()
        return int(n), int(b)

    def head(self) -> dict[str, Any]:
        with self.conn() as c:
            info = self.get_info(c)
            n, b = self.stats(c)
            return {"info": info, "object_count": n, "bytes_used": b, "metadata": self.get_metadata(c),
                    "deleted": self.is_deleted(info)}

    def list_objects(self, prefix: str = "", delimiter: str = "", marker: str = "", end_marker: str = "",
                     limit: int = 10000, reverse: bool = False) -> list[dict[str, Any]]:
        with self.conn() as c:
            return list_items(c, "SELECT name, created_at, size, content_type, etag FROM item",
                              prefix, delimiter, marker, end_marker, limit, reverse)


class AccountBroker(Broker):
    kind = "account"
    schema = ACCOUNT_SCHEMA

    def put_container(self, name: str, put_timestamp: str, delete_timestamp: str, object_count: int,
                      bytes_used: int, stats_ts: str) -> None:
        with self.conn() as c:
            self.merge_row(c, {"name": name, "put_timestamp": put_timestamp, "delete_timestamp": delete_timestamp,
                               "object_count": object_count, "bytes_used": bytes_used, "stats_ts": stats_ts})

    def merge_row(self, c: sqlite3.Connection, row: dict[str, Any]) -> None:
        old = c.execute("SELECT put_timestamp, delete_timestamp, object_count, bytes_used, stats_ts "
                        "FROM item WHERE name = ?", (row["name"],)).fetchone()
        put_ts, del_ts = row["put_timestamp"], row["delete_timestamp"]
        count, used, stats_ts = int(row["object_count"]), int(row["bytes_used"]), row["stats_ts"]
        if old is not None:
            new = (max(old[0], put_ts), max(old[1], del_ts))
            if old[4] >= stats_ts:
                count, used, stats_ts = old[2], old[3], old[4]
            if new == (old[0], old[1]) and (count, used, stats_ts) == tuple(old[2:]):
                return
            put_ts, del_ts = new
        deleted = int(del_ts > put_ts)
        c.execute("INSERT OR REPLACE INTO item (name, put_timestamp, delete_timestamp, object_count, bytes_used, "
                  "stats_ts, deleted, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  (row["name"], put_ts, del_ts, count, used, stats_ts, deleted, self.next_seq(c)))

    def head(self) -> dict[str, Any]:
        with self.conn() as c:
            info = self.get_info(c)
            n, objs, b = c.execute("SELECT COUNT(*), COALESCE(SUM(object_count), 0), COALESCE(SUM(bytes_used), 0) "
                                   "FROM item WHERE deleted = 0").fetchone()
            return {"info": info, "container_count": int(n), "object_count": int(objs), "bytes_used": int(b),
                    "metadata": self.get_metadata(c)}

    def list_containers(self, prefix: str = "", delimiter: str = "", marker: str = "", end_marker: str = "",
                        limit: int = 10000, reverse: bool = False) -> list[dict[str, Any]]:
        with self.conn() as c:
            return list_items(c, "SELECT name, put_timestamp, object_count, bytes_used FROM item",
                              prefix, delimiter, marker, end_marker, limit, reverse)


def _after(s: str) -> str:
    """The smallest string greater than every string starting with ``s``."""
    return s[:-1] + chr(ord(s[-1]) + 1)


def list_items(c: sqlite3.Connection, select: str, prefix: str, delimiter: str, marker: str, end_marker: str,
               limit: int, reverse: bool) -> list[dict[str, Any]]:
    """Swift listing semantics over ``item`` rows that are not deleted (names sort as code points).

    ``marker`` and ``end_marker`` are exclusive bounds; with ``reverse`` the listing runs
    from high to low and ``marker`` is the upper bound.
    """
    c.row_factory = sqlite3.Row
    out: list[dict[str, Any]] = []
    if limit <= 0:
        return out
    # [lo, hi) style bounds: lo is exclusive unless lo_incl, hi is exclusive.
    lo, hi = (end_marker, marker) if reverse else (marker, end_marker)
    lo_incl = False
    if prefix:
        if not lo or lo < prefix:
            lo, lo_incl = prefix, True
        if ord(prefix[-1]) < 0x10FFFF:
            upper = _after(prefix)
            if not hi or hi > upper:
                hi = upper
    while len(out) < limit:
        where, args = ["deleted = 0"], []
        if lo:
            where.append("name >= ?" if lo_incl else "name > ?")
            args.append(lo)
        if hi:
            where.append("name < ?")
            args.append(hi)
        want = limit - len(out)
        order = "DESC" if reverse else "ASC"
        batch = c.execute(f"{select} WHERE {' AND '.join(where)} ORDER BY name {order} LIMIT ?",
                          (*args, want)).fetchall()
        if not batch:
            break
        jumped = False
        for row in batch:
            name = row["name"]
            if delimiter:
                idx = name.find(delimiter, len(prefix))
                if idx >= 0:
                    subdir = name[:idx + len(delimiter)]
                    if subdir != marker:  # the marker's own subdir was listed on the previous page
                        out.append({"subdir": subdir})
                    if reverse:
                        hi = subdir  # everything under subdir is >= subdir
                    else:
                        lo, lo_incl = _after(subdir), True
                    jumped = True
                    break
            out.append(dict(row))
        if len(out) >= limit:
            return out
        if jumped:
            continue
        if len(batch) < want:
            break
        last = batch[-1]["name"]
        if reverse:
            hi = last
        else:
            lo, lo_incl = last, False
    return out
