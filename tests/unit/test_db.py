"""Persistence on SQLite: migrations, WAL, transactions, retries. (PostgreSQL/MariaDB: tests/integration.)"""

from __future__ import annotations

import contextlib
import logging
import pickle
import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa
import webob

from cumulo import db, exception, service
from cumulo.db import migrate
from cumulo.wsgi import faults


def test_sync_is_idempotent_and_reaches_every_head(cumulo_db):
    migrate.sync()
    assert migrate.pending() == set()
    assert migrate.current() and migrate.current() <= migrate.heads()


def test_sqlite_uses_wal(cumulo_db):
    with db.get_engine().connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_transaction_rolls_back_on_error(cumulo_db):
    with pytest.raises(RuntimeError):
        with db.transaction() as s:
            s.execute(sa.text("INSERT INTO services (uuid, host, \"binary\", topic, availability_zone, disabled,"
                              " forced_down, report_count, created_at) VALUES ('u1','h','b','t','nova',0,0,0,"
                              " CURRENT_TIMESTAMP)"))
            raise RuntimeError("boom")
    assert service.list_services() == []


def test_concurrent_writers_do_not_fail(cumulo_db):
    errors = []

    def register(i):
        try:
            for _ in range(5):
                service.register(f"host-{i}", "cumulo-test", "test")
                service.heartbeat(f"host-{i}", "cumulo-test")
        except Exception as err:  # collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(16)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    rows = service.list_services(binary="cumulo-test")
    assert len(rows) == 16 and all(r["report_count"] == 5 for r in rows)


def test_retry_on_deadlock_retries_only_retryable(cumulo_db):
    calls = []

    @db.retry_on_deadlock
    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise sa.exc.OperationalError("stmt", {}, Exception("database is locked"))
        return "ok"

    assert flaky() == "ok" and len(calls) == 3

    @db.retry_on_deadlock
    def broken():
        calls.append(1)
        raise sa.exc.OperationalError("stmt", {}, Exception("no such table: x"))

    calls.clear()
    with pytest.raises(sa.exc.OperationalError):
        broken()
    assert len(calls) == 1


def test_service_up_down_and_disable(cumulo_db, cumulo_conf):
    service.register("h1", "cumulo-compute", "compute")
    [row] = service.list_services()
    assert row["state"] == "up" and row["status"] == "enabled"
    service.set_disabled("h1", "cumulo-compute", True, "maintenance")
    [row] = service.list_services()
    assert row["status"] == "disabled" and row["disabled_reason"] == "maintenance"
    cumulo_conf.set("service_down_time", 1, group="service")
    with db.transaction() as s:
        s.execute(sa.text("UPDATE services SET last_seen_up = '2000-01-01 00:00:00'"))
    assert service.list_services()[0]["state"] == "down"


# -- read and write transactions, contention -------------------------------------------

def _count(s):
    return s.execute(sa.text("SELECT report_count FROM services WHERE host = 'h'")).scalar()


def _set_count(s, value):
    s.execute(sa.text("UPDATE services SET report_count = :v WHERE host = 'h'"), {"v": value})


@pytest.fixture
def row(cumulo_db):
    service.register("h", "cumulo-test", "test")
    return cumulo_db


@contextlib.contextmanager
def _writer_in_thread(seconds=30.0):
    """A write transaction of this process holding SQLite's lock in another thread until the block ends."""
    holding, release = threading.Event(), threading.Event()

    def hold():
        with db.transaction() as s:
            _set_count(s, 1)
            holding.set()
            release.wait(seconds)

    t = threading.Thread(target=hold)
    t.start()
    assert holding.wait(10)
    try:
        yield
    finally:
        release.set()
        t.join()


@contextlib.contextmanager
def _other_process_writing():
    """SQLite's write lock held by a connection this process's engine knows nothing of."""
    raw = sqlite3.connect(db.get_engine().url.database, isolation_level=None, check_same_thread=False)
    raw.execute("BEGIN IMMEDIATE")
    try:
        yield raw
    finally:
        raw.rollback()
        raw.close()


def test_reader_is_not_blocked_by_a_writer(row):
    with _writer_in_thread():
        started = time.monotonic()
        with db.reader() as s:
            assert _count(s) == 0  # the snapshot before the uncommitted write
        assert time.monotonic() - started < 1.0
    with db.reader() as s:
        assert _count(s) == 1


def test_reader_refuses_to_write(row):
    with pytest.raises(sa.exc.OperationalError, match="readonly"):
        with db.reader() as s:
            _set_count(s, 5)
    with db.transaction(readonly=True) as s:
        assert _count(s) == 0
    with db.transaction() as s:  # the same pooled connection writes again afterwards
        _set_count(s, 2)
    with db.reader() as s:
        assert _count(s) == 2


def test_write_waits_for_a_writer_of_this_process(row):
    done = []

    def second():
        with db.transaction() as s:
            _set_count(s, _count(s) + 10)
        done.append(time.monotonic())

    with _writer_in_thread():
        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.5)
        assert not done  # queued behind the holder
        released = time.monotonic()
    t.join(10)
    assert done and done[0] >= released
    with db.reader() as s:
        assert _count(s) == 11


def test_write_retries_while_another_process_holds_the_lock(row, caplog):
    row.set("lock_timeout", 0.2, group="database")
    row.set("max_retries", 20, group="database")
    caplog.set_level(logging.DEBUG, logger="cumulo.db")
    with _other_process_writing() as raw:
        threading.Timer(1.0, raw.rollback).start()
        started = time.monotonic()
        with db.transaction() as s:
            _set_count(s, 3)
    assert time.monotonic() - started >= 0.9
    assert any("retrying" in r.getMessage() for r in caplog.records)
    with db.reader() as s:
        assert _count(s) == 3


@pytest.mark.parametrize("holder", [_writer_in_thread, _other_process_writing])
def test_write_that_never_gets_the_lock_is_503_quickly(row, holder):
    row.set("lock_timeout", 0.2, group="database")
    row.set("max_retries", 2, group="database")
    with holder():
        started = time.monotonic()
        with pytest.raises(db.DatabaseBusy) as err:
            with db.transaction() as s:
                _set_count(s, 4)
        elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 3.0  # about lock_timeout * (max_retries + 1), not SQLite's 30 s
    assert isinstance(err.value, exception.ServiceUnavailable) and err.value.code == 503
    assert err.value.retry_after == 2 and err.value.retried
    assert str(err.value) == "The database is busy; retry the request."
    with db.transaction() as s:  # nothing left locked
        _set_count(s, 5)


def test_default_lock_wait_is_a_few_seconds(cumulo_db):
    with db.get_engine().connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    assert db.CONF.database.lock_timeout == 5.0


def test_a_write_transaction_inside_another_fails_at_once(row):
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="would wait for itself"):
        with db.transaction() as outer:
            _set_count(outer, 6)
            with db.transaction() as inner:
                _set_count(inner, 7)
    assert time.monotonic() - started < 1.0
    with db.transaction() as s:
        assert _count(s) == 0


def test_a_transaction_that_has_not_touched_the_database_lets_another_write(row):
    with db.transaction() as outer:
        with db.transaction() as inner:  # outer has not begun: SQLite's lock is free
            _set_count(inner, 8)
        assert _count(outer) == 8


def test_busy_error_inside_a_transaction_becomes_503(row):
    with pytest.raises(db.DatabaseBusy) as err:
        with db.transaction() as s:
            _set_count(s, 9)
            raise sa.exc.OperationalError("UPDATE", {}, Exception("database is locked"))
    assert not err.value.retried and db.is_retryable(err.value)  # an outer retry loop may still run it again
    with db.reader() as s:
        assert _count(s) == 0  # rolled back


def test_run_in_transaction_reruns_the_whole_body(row):
    calls = []

    def body(s, value):
        _set_count(s, _count(s) + value)
        calls.append(1)
        if len(calls) == 1:
            raise sa.exc.OperationalError("UPDATE", {}, Exception("deadlock detected"))
        return _count(s)

    assert db.run_in_transaction(body, 5) == 5  # the first attempt's write was rolled back
    assert len(calls) == 2


def test_transactional_passes_the_session(row):
    calls = []

    @db.transactional
    def bump(by, *, session):
        calls.append(1)
        if len(calls) < 3:
            raise sa.exc.OperationalError("UPDATE", {}, Exception("database is locked"))
        _set_count(session, _count(session) + by)

    bump(4)
    assert len(calls) == 3
    with db.reader() as s:
        assert _count(s) == 4


def test_spent_retries_are_not_multiplied_by_outer_loops(cumulo_db):
    cumulo_db.set("max_retries", 2, group="database")
    calls = []

    @db.retry_on_deadlock
    def inner():
        calls.append(1)
        raise sa.exc.OperationalError("stmt", {}, Exception("Deadlock found when trying to get lock"))

    @db.retry_on_deadlock
    def outer():
        return inner()

    with pytest.raises(db.DatabaseBusy) as err:
        outer()
    assert len(calls) == 3 and err.value.retried and not db.is_retryable(err.value)
    assert isinstance(err.value, sa.exc.OperationalError)  # callers catching DBAPIError still see it


class _PgError(Exception):
    def __init__(self, pgcode, text):
        super().__init__(text)
        self.pgcode = pgcode


def _wrap(orig):
    return sa.exc.OperationalError("stmt", {}, orig)


def test_contention_is_matched_by_error_code():
    import pymysql

    assert db.contention(_wrap(_PgError("40P01", "deadlock detected"))) == "deadlock"
    assert db.contention(_wrap(_PgError("40001", "could not serialize access"))) == "serialization failure"
    assert db.contention(_wrap(_PgError("55P03", "canceling statement due to lock timeout"))) == "lock timeout"
    assert db.contention(_wrap(_PgError("42P01", "relation deadlock does not exist"))) is None  # the code decides
    assert db.contention(_wrap(pymysql.err.OperationalError(1213, "Deadlock found"))) == "deadlock"
    assert db.contention(_wrap(pymysql.err.OperationalError(1205, "Lock wait timeout exceeded"))) \
        == "lock wait timeout"
    assert db.contention(_wrap(pymysql.err.OperationalError(1146, "Table 'deadlock' doesn't exist"))) is None
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = 517  # SQLITE_BUSY_SNAPSHOT
    assert db.contention(_wrap(busy)) == "database is locked"
    readonly = sqlite3.OperationalError("attempt to write a readonly database")
    readonly.sqlite_errorcode = 8
    assert db.contention(_wrap(readonly)) is None
    assert db.contention(_wrap(Exception("Lock wait timeout exceeded"))) == "lock wait timeout"  # no code: text
    assert not db.is_retryable(sa.exc.IntegrityError("stmt", {}, Exception("UNIQUE constraint failed")))


def test_backoff_grows_with_jitter_and_a_cap():
    for attempt in range(1, 12):
        ceiling = min(db.MAX_RETRY_INTERVAL, db.RETRY_INTERVAL * 2 ** (attempt - 1))
        delays = [db.backoff(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays) and len(set(delays)) > 1


def test_busy_is_answered_503_with_retry_after():
    def app(environ, start_response):
        raise db.DatabaseBusy(retry_after=2, error=_wrap(Exception("database is locked")))

    resp = webob.Request.blank("/servers").get_response(faults.FaultWrapper(app))
    assert resp.status_int == 503 and resp.headers["Retry-After"] == "2"
    assert resp.json["error"]["message"] == "The database is busy; retry the request."


def test_busy_keeps_class_and_retry_after_across_rpc_and_pickle():
    from cumulo.messaging import rpc

    err = rpc.deserialize_failure(rpc.serialize_failure(db.DatabaseBusy(retry_after=3)))
    assert type(err) is db.DatabaseBusy and err.code == 503 and err.retry_after == 3
    copy = pickle.loads(pickle.dumps(db.DatabaseBusy(retry_after=4, reason="deadlock")))
    assert copy.retry_after == 4 and copy.reason == "deadlock" and copy.code == 503
