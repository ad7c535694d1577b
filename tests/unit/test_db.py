"""Persistence on SQLite: migrations, WAL, transactions, retries. (PostgreSQL/MariaDB: tests/integration.)"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from cumulo import db, service
from cumulo.db import migrate


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
