"""Persistence: one engine per process, short transactions, retry on contention.

    from cumulo import db

    with db.transaction() as session:      # reads and writes
        session.add(model)

    with db.reader() as session:           # reads only: never waits for a writer
        rows = session.scalars(query).all()

    db.run_in_transaction(fn, *args)       # fn(session, *args), re-run whole on deadlock

SQLite (WAL mode) is the default, in ``state_path``; PostgreSQL and
MySQL/MariaDB work through ``[database] connection``. Schema changes are alembic
migrations (:mod:`cumulo.db.migrate`); nothing calls ``create_all``.

Two kinds of transaction
------------------------
:func:`transaction` is a *write* transaction and :func:`reader` (the same as
``transaction(readonly=True)``) a *read* transaction. Switching a read path is
a one-word change, ``db.transaction()`` to ``db.reader()``.

* SQLite allows one writer at a time. A write transaction takes the write lock
  at its start, ``BEGIN IMMEDIATE``, issued lazily when the session first
  touches the database. It cannot start deferred and upgrade at its first
  write: a read transaction that tries to write while another writer holds
  the lock, or after one committed since its snapshot, gets ``SQLITE_BUSY``
  at once, without the busy handler (waiting could deadlock), and then only
  running the whole body again would help, which a ``with`` block cannot do.
  Taking the lock first means the only
  place a write transaction can meet the lock is its ``BEGIN``, before any
  statement of the body has run, so that ``BEGIN`` is retried right there
  (below) for every caller, with no change to the caller.
* A read transaction is a plain deferred ``BEGIN``: under WAL it reads a
  snapshot and neither waits for the writer nor delays it. SQLite's
  ``PRAGMA query_only`` (PostgreSQL and MariaDB: a ``READ ONLY`` transaction)
  makes the database refuse a write inside it, so a mislabelled writer fails
  in tests instead of racing for the lock.
* On PostgreSQL and MariaDB both are ordinary transactions (READ COMMITTED);
  rows are locked by the statements that change them.

Waiting, retrying, giving up
----------------------------
Every lock wait is bounded by ``[database] lock_timeout`` (seconds): SQLite's
busy timeout (never more than ``sqlite_busy_timeout``), PostgreSQL's
``lock_timeout`` and MariaDB's ``innodb_lock_wait_timeout``.

* SQLite, write transactions of this process queue for the write lock on an
  in-process lock (:class:`_WriteGate`) before ``BEGIN IMMEDIATE``. SQLite's
  own busy handler polls with sleeps growing to 100 ms, so a newcomer keeps
  beating writers that have waited long: under load some waited 30 s and more.
  A writer waits on the gate for at most ``lock_timeout * (max_retries + 1)``;
  a ``BEGIN IMMEDIATE`` that still finds the lock taken (another process)
  waits ``lock_timeout`` per attempt with back-off between attempts, within
  the same deadline.
* A deadlock, lock timeout or serialization failure inside a transaction
  (PostgreSQL 40001, 40P01, 55P03; MariaDB 1213, 1205, 1020; SQLite
  ``SQLITE_BUSY``/``SQLITE_LOCKED``; matched by error code, by message only
  when the driver gives none) rolls the transaction back; the work is safe to
  redo only from its start. :func:`run_in_transaction`, :func:`transactional`
  and :func:`retry_on_deadlock` redo it, at most ``max_retries`` times, with
  exponential back-off and jitter (``RETRY_INTERVAL`` doubling up to
  ``MAX_RETRY_INTERVAL``, each sleep a random point in its upper half).
* Contention that is not retried, or still there when the retries are spent,
  leaves :func:`transaction` as :class:`DatabaseBusy`: a
  :class:`cumulo.exception.ServiceUnavailable` (HTTP 503, ``Retry-After:
  retry_after``) that is also a SQLAlchemy ``OperationalError``, so code that
  catches ``DBAPIError`` and asks :func:`is_retryable` keeps working. A
  :class:`DatabaseBusy` whose retries are spent (``retried``) is not retried
  again by an outer loop. A pool with no free connection in time is a
  :class:`DatabaseBusy` too.

Keep write transactions short: on SQLite the write lock is held from the
first statement until the connection goes back to the pool, every writer of
the process waits meanwhile, and one held longer than ``lock_timeout`` is
logged. No RPC call, HTTP request or other wait belongs inside one. A write
transaction opened on a thread whose previous write transaction is still open
would wait for itself: it raises ``RuntimeError`` at once (one that has not
touched the database yet holds nothing, so opening another there is fine).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc, orm

from cumulo import exception
from cumulo.conf import CONF

T = TypeVar("T")
P = ParamSpec("P")

LOG = logging.getLogger(__name__)

#: First back-off between attempts (seconds); doubles per attempt up to MAX_RETRY_INTERVAL.
RETRY_INTERVAL = 0.05
MAX_RETRY_INTERVAL = 2.0

MAX_IDENTIFIER = 60  # PostgreSQL allows 63, MySQL/MariaDB 64

_MODE = "cumulo_transaction"  # execution option: "write" or "read" (set on the sessions' binds)
_WRITE, _READ = "write", "read"


def _short(name: str) -> str:
    """Keep generated constraint names portable: long ones end in a stable hash."""
    if len(name) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[:MAX_IDENTIFIER - 9]}_{digest}"


# SQLAlchemy types the naming-convention callables as taking any Constraint; each
# is only used in its own template ("fk", "uq"), so the narrowing never fails.
def _fk_name(constraint: sa.Constraint, table: sa.Table) -> str:
    if not isinstance(constraint, sa.ForeignKeyConstraint):
        return _short(f"{table.name}_{constraint.name}")
    column = next(iter(constraint.column_keys), "col")
    referred = constraint.elements[0].target_fullname.split(".")[0] if constraint.elements else "ref"
    return _short(f"{table.name}_{column}_{referred}")


def _uq_name(constraint: sa.Constraint, table: sa.Table) -> str:
    if not isinstance(constraint, sa.UniqueConstraint):
        return _short(f"{table.name}_{constraint.name}")
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


# -- contention -----------------------------------------------------------------

# ignore[misc]: ``code`` is the HTTP status (503) the fault layer and RPC read,
# where SQLAlchemy's errors keep an error-code string; on purpose, as __str__ is
# our own and never builds SQLAlchemy's message from it.
class DatabaseBusy(exception.ServiceUnavailable, exc.OperationalError):  # type: ignore[misc]
    """The database could not be had in time: answer 503 and let the client retry.

    ``retry_after`` (seconds) becomes the Retry-After header; ``reason`` says
    what was met (deadlock, lock timeout...); ``retried`` is true when the
    retries were already spent, so no outer loop runs the work again. The
    original driver error is ``orig`` and ``__cause__``.
    """

    msg_fmt = "The database is busy; retry the request."

    def __init__(self, message: str | None = None, *, retry_after: int | None = None, reason: str = "busy",
                 retried: bool = False, error: BaseException | None = None, **kwargs: object) -> None:
        orig = error.orig if isinstance(error, exc.DBAPIError) else error
        statement = error.statement if isinstance(error, exc.StatementError) else None
        params = error.params if isinstance(error, exc.StatementError) else None
        # Not CumuloError.__init__: its super() call would land in SQLAlchemy's signature.
        # ignore[arg-type]: SQLAlchemy annotates ``orig`` as required, but takes None (a busy
        # error rebuilt from an RPC reply, or one with no driver error under it).
        exc.OperationalError.__init__(self, statement, params, orig)  # type: ignore[arg-type]
        self.retry_after = int(retry_after if retry_after is not None else CONF.database.busy_retry_after)
        self.reason, self.retried = reason, retried
        self.kwargs = {"retry_after": self.retry_after, **kwargs}  # what an RPC reply carries
        self.message = message or self.msg_fmt

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Any:
        return (type(self), (self.message,), {"retry_after": self.retry_after, "reason": self.reason,
                                              "retried": self.retried, "kwargs": self.kwargs})


_PG_CODES = {"40001": "serialization failure", "40P01": "deadlock", "55P03": "lock timeout"}
_MYSQL_CODES = {1205: "lock wait timeout", 1213: "deadlock", 1020: "record changed since it was read"}
_SQLITE_CODES = {5: "database is locked", 6: "database table is locked"}  # SQLITE_BUSY, SQLITE_LOCKED
_MYSQL_DRIVERS = ("pymysql", "MySQLdb", "mysql", "mariadb")
_TEXTS = ("deadlock", "database is locked", "database table is locked", "lock wait timeout", "lock timeout",
          "could not obtain lock", "could not serialize", "serialization failure")


def contention(err: BaseException) -> str | None:
    """What contention ``err`` (a DBAPIError or a driver's exception) reports, or None.

    Error codes decide when the driver gives one (MySQL error number,
    PostgreSQL SQLSTATE, SQLite result code); the message only otherwise.
    """
    if isinstance(err, DatabaseBusy):
        return err.reason
    orig = err.orig if isinstance(err, exc.DBAPIError) and err.orig is not None else err
    args = getattr(orig, "args", ())
    if type(orig).__module__.split(".")[0] in _MYSQL_DRIVERS and args and isinstance(args[0], int):
        return _MYSQL_CODES.get(args[0])  # before SQLSTATE: MySQL's is HY000 for a lock wait timeout
    sqlstate = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return _PG_CODES.get(sqlstate)
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return _SQLITE_CODES.get(code & 0xFF)  # extended codes (BUSY_SNAPSHOT...) keep the primary in the low byte
    text = str(orig).lower()
    return next((t for t in _TEXTS if t in text), None)


def is_retryable(err: BaseException) -> bool:
    """Deadlocks, lock timeouts and serialization failures: safe to run the transaction again."""
    if isinstance(err, DatabaseBusy):
        return not err.retried
    return isinstance(err, exc.DBAPIError) and contention(err) is not None


def backoff(attempt: int) -> float:
    """Seconds to sleep before attempt ``attempt + 1``: exponential, capped, jittered in its upper half."""
    ceiling = min(MAX_RETRY_INTERVAL, RETRY_INTERVAL * 2 ** max(attempt - 1, 0))
    return ceiling / 2 + random.random() * ceiling / 2


def _busy(err: BaseException, retried: bool, reason: str | None = None) -> DatabaseBusy:
    return DatabaseBusy(reason=reason or contention(err) or "busy", retried=retried, error=err)


# -- SQLite write gate ------------------------------------------------------------

class _WriteGate:
    """The SQLite write lock, as this process sees it: writers queue here instead of polling.

    Held from a write transaction's ``BEGIN IMMEDIATE`` until its connection
    goes back to the pool (the commit or rollback is done by then). The owner
    is the DBAPI connection, so the pool's check-in and invalidation events
    release it whatever path the connection takes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mutex = threading.Lock()
        self._owner: Any = None
        self._thread = 0
        self._since = 0.0

    def acquire(self, owner: Any, timeout: float) -> bool:
        if self._owner is not None and self._thread == threading.get_ident():
            # Waiting would wait for this very thread: a write transaction opened inside another.
            raise RuntimeError("A write transaction was opened while this thread's previous one is still "
                               "open; SQLite has one writer, so it would wait for itself. Finish the first one.")
        if not self._lock.acquire(timeout=max(timeout, 0.0)):
            return False
        with self._mutex:
            self._owner, self._thread, self._since = owner, threading.get_ident(), time.monotonic()
        return True

    def release(self, owner: Any, report: bool = True) -> None:
        with self._mutex:
            if owner is None or self._owner is not owner:
                return
            self._owner, self._thread = None, 0
            held = time.monotonic() - self._since
        self._lock.release()
        if report and held > CONF.database.lock_timeout:
            LOG.warning("A write transaction held the SQLite write lock for %.1f s; other writers waited", held)

    def locked(self) -> None:
        """The owner has SQLite's lock now: the time it holds it counts from here."""
        self._since = time.monotonic()

    @property
    def held(self) -> bool:
        return self._owner is not None


_gates: dict[str, _WriteGate] = {}
_gates_lock = threading.Lock()


def _gate(url: str) -> _WriteGate:
    """One gate per database file: every engine of this process on the file shares it."""
    with _gates_lock:
        return _gates.setdefault(url, _WriteGate())


def _budget() -> float:
    """Seconds a transaction may spend getting its locks, all attempts together."""
    return CONF.database.lock_timeout * (CONF.database.max_retries + 1)


def _sqlite_busy_ms(limit: float | None = None) -> int:
    seconds = CONF.database.lock_timeout if limit is None else min(limit, CONF.database.lock_timeout)
    return max(0, min(int(CONF.database.sqlite_busy_timeout), int(seconds * 1000)))


# -- engine -----------------------------------------------------------------------

_lock = threading.Lock()
_engine: sa.Engine | None = None
_writers: orm.sessionmaker[orm.Session] | None = None
_readers: orm.sessionmaker[orm.Session] | None = None


def connection_url() -> str:
    url = CONF.database.connection
    if url:
        return url
    os.makedirs(CONF.state_path, exist_ok=True)
    return "sqlite:///" + os.path.join(CONF.state_path, "cumulo.sqlite")


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is off; the begin event issues BEGIN.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across process crashes
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={_sqlite_busy_ms()}")
    cur.close()


def _driver(conn: sa.Connection) -> Any:
    """The DB-API connection under ``conn`` (typed Any: sqlite3's, psycopg2's and PyMySQL's differ)."""
    raw = conn.connection.dbapi_connection
    if raw is None:  # only once the pool has let it go; never inside a transaction
        raise exc.ResourceClosedError("The database connection is closed")
    return raw


def _query_only(conn: sa.Connection, on: bool) -> None:
    info = conn.connection.info
    if info.get("query_only", False) != on:
        _driver(conn).execute(f"PRAGMA query_only={int(on)}")
        info["query_only"] = on


def _sqlite_begin(gate: _WriteGate, conn: sa.Connection) -> None:
    mode = conn.get_execution_options().get(_MODE)
    dbapi = _driver(conn)
    if mode == _READ:
        _query_only(conn, True)
        dbapi.execute("BEGIN")
        return
    _query_only(conn, False)
    if mode != _WRITE:  # a connection used directly (migrations, tools): as before, SQLite's busy handler
        dbapi.execute("BEGIN IMMEDIATE")
        return
    _sqlite_begin_write(gate, conn, dbapi)


def _sqlite_begin_write(gate: _WriteGate, conn: sa.Connection, dbapi: Any) -> None:
    """Queue on the gate, then take SQLite's write lock; retried here, before the body runs."""
    started = time.monotonic()
    deadline = started + _budget()
    if not gate.acquire(dbapi, deadline - started):
        LOG.warning("No SQLite write lock after %.1f s in this process's queue", time.monotonic() - started)
        raise DatabaseBusy(reason="database is locked", retried=True)
    try:
        attempt = 0
        while True:
            attempt += 1
            busy_ms = _sqlite_busy_ms(deadline - time.monotonic())
            if conn.connection.info.get("busy_ms") != busy_ms:
                dbapi.execute(f"PRAGMA busy_timeout={busy_ms}")
                conn.connection.info["busy_ms"] = busy_ms
            try:
                dbapi.execute("BEGIN IMMEDIATE")
                gate.locked()
                return
            except Exception as err:
                if contention(err) is None:
                    raise
                delay = backoff(attempt)
                if attempt > CONF.database.max_retries or time.monotonic() + delay >= deadline:
                    LOG.warning("No SQLite write lock after %d attempts in %.1f s (another process holds it)",
                                attempt, time.monotonic() - started)
                    raise DatabaseBusy(reason=contention(err) or "busy", retried=True,
                                       error=exc.OperationalError("BEGIN IMMEDIATE", (), err)) from err
                LOG.debug("SQLite write lock busy (attempt %d); retrying in %.2f s", attempt, delay)
                time.sleep(delay)
    except BaseException:
        gate.release(dbapi, report=False)
        raise


def _server_connect(backend: str, dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    if backend == "postgresql":
        cur.execute(f"SET lock_timeout = {max(1, int(CONF.database.lock_timeout * 1000))}")
    else:
        cur.execute(f"SET SESSION innodb_lock_wait_timeout = {max(1, math.ceil(CONF.database.lock_timeout))}")
    cur.close()
    dbapi_conn.commit()


def _server_begin(backend: str, conn: sa.Connection) -> None:
    if conn.get_execution_options().get(_MODE) != _READ:
        return
    cur = _driver(conn).cursor()
    # PostgreSQL: the first statement of the transaction; MariaDB: starts it.
    cur.execute("SET TRANSACTION READ ONLY" if backend == "postgresql" else "START TRANSACTION READ ONLY")
    cur.close()


def create_engine(url: str | None = None) -> sa.Engine:
    url = url or connection_url()
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False,
                                                     "timeout": CONF.database.lock_timeout},
                                  pool_size=CONF.database.pool_size, max_overflow=CONF.database.max_overflow)
        gate = _gate(url)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", functools.partial(_sqlite_begin, gate))
        event.listen(engine, "checkin", lambda dbapi_conn, _record: gate.release(dbapi_conn))
        event.listen(engine, "invalidate", lambda dbapi_conn, _record, _err: gate.release(dbapi_conn))
        event.listen(engine, "close", lambda dbapi_conn, _record: gate.release(dbapi_conn))
        return engine
    kwargs: dict[str, Any] = {"pool_pre_ping": True, "pool_size": CONF.database.pool_size,
                              "max_overflow": CONF.database.max_overflow, "pool_recycle": 3600}
    if url.startswith("mysql"):
        kwargs["isolation_level"] = "READ COMMITTED"
    engine = sa.create_engine(url, **kwargs)
    backend = engine.dialect.name
    if backend in ("postgresql", "mysql", "mariadb"):
        event.listen(engine, "connect", functools.partial(_server_connect, backend))
        event.listen(engine, "begin", functools.partial(_server_begin, backend))
    return engine


def get_engine() -> sa.Engine:
    global _engine, _writers, _readers
    with _lock:
        if _engine is None:
            _engine = create_engine()
            _writers = orm.sessionmaker(bind=_engine.execution_options(**{_MODE: _WRITE}), expire_on_commit=False)
            _readers = orm.sessionmaker(bind=_engine.execution_options(**{_MODE: _READ}), expire_on_commit=False)
        return _engine


def reset() -> None:
    """Forget the engine (tests, and after fork)."""
    global _engine, _writers, _readers
    with _lock:
        if _engine is not None:
            _engine.dispose()
        _engine = None
        _writers = _readers = None
    with _gates_lock:
        _gates.clear()


# -- sessions and transactions ------------------------------------------------------

def session(readonly: bool = False) -> orm.Session:
    """A new session (the caller closes it); prefer :func:`transaction` and :func:`reader`."""
    get_engine()
    factory = _readers if readonly else _writers
    assert factory is not None
    return factory()


@contextlib.contextmanager
def transaction(readonly: bool = False) -> Iterator[orm.Session]:
    """A session in one transaction: committed on success, rolled back on error.

    ``readonly`` (or :func:`reader`) for work that only reads. Contention the
    transaction meets (see the module docstring) leaves as
    :class:`DatabaseBusy` (503); other errors pass unchanged.
    """
    s = session(readonly)
    try:
        with s.begin():
            yield s
    except DatabaseBusy:
        raise
    except exc.DBAPIError as err:
        if contention(err) is None:
            raise
        LOG.debug("Transaction met %s; rolled back", contention(err))
        raise _busy(err, retried=False) from err
    except exc.TimeoutError as err:  # the pool had no connection to give in time
        raise DatabaseBusy(reason="no free database connection", retried=True, error=err) from err
    finally:
        s.close()


def reader() -> contextlib.AbstractContextManager[orm.Session]:
    """A read-only transaction: ``transaction(readonly=True)``. Never takes SQLite's write lock."""
    return transaction(readonly=True)


def rowcount(s: orm.Session, stmt: sa.Executable) -> int:
    """Run an INSERT, UPDATE or DELETE in ``s`` and return how many rows it matched.

    ``Session.execute`` is typed as returning a plain ``Result``; DML answers a
    ``CursorResult``, the one that has ``rowcount``.
    """
    result = s.execute(stmt)
    if not isinstance(result, sa.CursorResult):
        raise TypeError(f"rowcount() needs an INSERT, UPDATE or DELETE, not {type(stmt).__name__}")
    return result.rowcount


def _retrying(call: Callable[[], T], what: str) -> T:
    attempts = CONF.database.max_retries + 1
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except exc.DBAPIError as err:  # DatabaseBusy is one
            if not is_retryable(err):
                raise
            if attempt == attempts:
                LOG.warning("%s still met %s after %d attempts; giving up", what, contention(err), attempt)
                raise _busy(err, retried=True) from err
            delay = backoff(attempt)
            LOG.debug("%s met %s (attempt %d); retrying in %.2f s", what, contention(err), attempt, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def retry_on_deadlock(fn: Callable[P, T]) -> Callable[P, T]:
    """Run ``fn`` again (it must open its own transaction) when the database says to.

    Retries spent: :class:`DatabaseBusy` with ``retried`` set.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return _retrying(lambda: fn(*args, **kwargs), getattr(fn, "__qualname__", "transaction"))

    return wrapper


def run_in_transaction(fn: Callable[Concatenate[orm.Session, P], T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(session, *args, **kwargs)`` in a write transaction, the whole of it re-run on contention.

    ``fn`` must have no effects outside the session that a second run would
    repeat (RPC casts, notifications): do those after it returns.
    """

    def once() -> T:
        with transaction() as s:
            return fn(s, *args, **kwargs)

    return _retrying(once, getattr(fn, "__qualname__", "transaction"))


def transactional(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorator: call ``fn`` with ``session=`` a write transaction, re-run whole on contention.

        @db.transactional
        def rename(self, uuid, name, *, session):
            session.get(Thing, uuid).name = name
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        return run_in_transaction(lambda s: fn(*args, session=s, **kwargs))

    return wrapper


def is_duplicate(err: BaseException) -> bool:
    """A unique-constraint violation, on every supported backend."""
    if not isinstance(err, exc.IntegrityError):
        return False
    text = str(err.orig).lower()
    return "unique" in text or "duplicate" in text
