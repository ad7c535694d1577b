"""Persistence: one engine per process, short transactions, retry on contention.

    from cumulo import db
    with db.transaction() as session:
        session.add(model)

SQLite (WAL mode) is the default, in ``state_path``; PostgreSQL and
MySQL/MariaDB work through ``[database] connection``. Schema changes are alembic
migrations (:mod:`cumulo.db.migrate`); nothing calls ``create_all``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc, orm

from cumulo.conf import CONF

T = TypeVar("T")


MAX_IDENTIFIER = 60  # PostgreSQL allows 63, MySQL/MariaDB 64


def _short(name: str) -> str:
    """Keep generated constraint names portable: long ones end in a stable hash."""
    if len(name) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[:MAX_IDENTIFIER - 9]}_{digest}"


def _fk_name(constraint: sa.ForeignKeyConstraint, table: sa.Table) -> str:
    column = next(iter(constraint.column_keys), "col")
    referred = constraint.elements[0].target_fullname.split(".")[0] if constraint.elements else "ref"
    return _short(f"{table.name}_{column}_{referred}")


def _uq_name(constraint: sa.UniqueConstraint, table: sa.Table) -> str:
    return _short(f"{table.name}_{'_'.join(c.name for c in constraint.columns)}")


def _ix_name(index: sa.Index, table: sa.Table) -> str:
    return _short(f"{table.name}_{'_'.join(c.name for c in index.columns)}")


class Base(orm.DeclarativeBase):
    """Declarative base of every table, the kernel's and the plugins'."""

    metadata = sa.MetaData(
        naming_convention={
            "fk_name": _fk_name,
            "uq_name": _uq_name,
            "ix_name": _ix_name,
            "ix": "ix_%(ix_name)s",
            "uq": "uq_%(uq_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(fk_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


_lock = threading.Lock()
_engine: sa.Engine | None = None
_sessionmaker: orm.sessionmaker[orm.Session] | None = None


def connection_url() -> str:
    url = CONF.database.connection
    if url:
        return url
    os.makedirs(CONF.state_path, exist_ok=True)
    return "sqlite:///" + os.path.join(CONF.state_path, "cumulo.sqlite")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across process crashes
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(CONF.database.sqlite_busy_timeout)}")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # Take the write lock at BEGIN so two writers never deadlock upgrading
    # read locks; readers under WAL are never blocked by it.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str | None = None) -> sa.Engine:
    url = url or connection_url()
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                                  pool_size=CONF.database.pool_size, max_overflow=CONF.database.max_overflow)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling is off; we issue BEGIN ourselves.
        event.listen(engine, "connect", lambda c, _r: setattr(c, "isolation_level", None))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs: dict[str, Any] = {"pool_pre_ping": True, "pool_size": CONF.database.pool_size,
                              "max_overflow": CONF.database.max_overflow, "pool_recycle": 3600}
    if url.startswith("mysql"):
        kwargs["isolation_level"] = "READ COMMITTED"
    return sa.create_engine(url, **kwargs)


def get_engine() -> sa.Engine:
    global _engine, _sessionmaker
    with _lock:
        if _engine is None:
            _engine = create_engine()
            _sessionmaker = orm.sessionmaker(bind=_engine, expire_on_commit=False)
        return _engine


def reset() -> None:
    """Forget the engine (tests, and after fork)."""
    global _engine, _sessionmaker
    with _lock:
        if _engine is not None:
            _engine.dispose()
        _engine = None
        _sessionmaker = None


def session() -> orm.Session:
    get_engine()
    assert _sessionmaker is not None
    return _sessionmaker()


@contextlib.contextmanager
def transaction() -> Iterator[orm.Session]:
    """A session in one transaction: committed on success, rolled back on error."""
    s = session()
    try:
        with s.begin():
            yield s
    finally:
        s.close()


def is_retryable(err: BaseException) -> bool:
    """Deadlocks, lock timeouts and serialization failures: safe to run the transaction again."""
    if not isinstance(err, exc.DBAPIError):
        return False
    text = str(err.orig).lower() if err.orig is not None else str(err).lower()
    return any(s in text for s in ("deadlock", "database is locked", "lock wait timeout",
                                   "could not serialize", "serialization failure"))


def retry_on_deadlock(fn: Callable[..., T]) -> Callable[..., T]:
    """Run ``fn`` again (it must open its own transaction) when the database says to."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        attempts = CONF.database.max_retries
        for attempt in range(attempts + 1):
            try:
                return fn(*args, **kwargs)
            except exc.DBAPIError as err:
                if attempt == attempts or not is_retryable(err):
                    raise
                time.sleep(min(0.05 * 2**attempt, 1.0) * random.random())
        raise AssertionError("unreachable")

    return wrapper


def is_duplicate(err: BaseException) -> bool:
    """A unique-constraint violation, on every supported backend."""
    if not isinstance(err, exc.IntegrityError):
        return False
    text = str(err.orig).lower()
    return "unique" in text or "duplicate" in text
