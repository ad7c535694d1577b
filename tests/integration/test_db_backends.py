"""The kernel's persistence on the real PostgreSQL and MariaDB servers."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from cumulo import db, service
from cumulo.db import migrate
from cumulo.db.models import Service


def test_migrations_reach_every_head(server_db):
    assert migrate.pending() == set()
    migrate.sync()  # idempotent
    tables = set(sa.inspect(db.get_engine()).get_table_names())
    assert {"services", "alembic_version"} <= tables


def test_concurrent_registration_and_heartbeats(server_db):
    errors = []

    def work(i):
        try:
            for _ in range(5):
                service.register(f"host-{i}", "cumulo-compute", "compute")
                service.heartbeat(f"host-{i}", "cumulo-compute")
        except Exception as err:  # asserted below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    rows = service.list_services(binary="cumulo-compute")
    assert len(rows) == 12 and all(r["report_count"] == 5 and r["state"] == "up" for r in rows)


def test_unique_violation_is_recognised(server_db):
    service.register("h", "b", "t")
    with pytest.raises(sa.exc.IntegrityError) as err:
        with db.transaction() as s:
            s.add(Service(uuid="dup", host="h", binary="b", topic="t", availability_zone="nova",
                          disabled=False, forced_down=False, report_count=0))
    assert db.is_duplicate(err.value)


def test_rollback_leaves_nothing(server_db):
    with pytest.raises(RuntimeError):
        with db.transaction() as s:
            s.add(Service(uuid="x1", host="h2", binary="b", topic="t", availability_zone="nova",
                          disabled=False, forced_down=False, report_count=0))
            s.flush()
            raise RuntimeError("abort")
    assert service.list_services(host="h2") == []


# -- contention: deadlocks and lock timeouts are retried, or answered 503 ------------------

def _two_services():
    service.register("ha", "cumulo-lock", "t")
    service.register("hb", "cumulo-lock", "t")
    with db.reader() as s:
        return {r.host: r.id for r in s.scalars(sa.select(Service).where(Service.binary == "cumulo-lock"))}


def _bump(s, row_id):
    s.execute(sa.update(Service).where(Service.id == row_id).values(report_count=Service.report_count + 1))


def _opposite_order(ids, run):
    """Two threads lock the two rows in opposite order, both holding their first lock when they take the
    second: one of them is the database's deadlock victim (first attempts only). ``run(body)`` runs a body."""
    both_hold = threading.Barrier(2, timeout=30)
    attempts = {"ha": 0, "hb": 0}
    outcome = {}

    def body(s, first, second):
        attempts[first] += 1
        _bump(s, ids[first])
        if attempts[first] == 1:
            both_hold.wait()
        _bump(s, ids[second])

    def work(first, second):
        try:
            run(body, first, second)
            outcome[first] = "ok"
        except Exception as err:  # asserted by the caller
            outcome[first] = err

    threads = [threading.Thread(target=work, args=order) for order in (("ha", "hb"), ("hb", "ha"))]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    return attempts, outcome


def _counts():
    with db.reader() as s:
        return {r.host: r.report_count for r in s.scalars(sa.select(Service).where(Service.binary == "cumulo-lock"))}


def test_deadlock_is_retried_and_both_commit(server_db):
    ids = _two_services()
    attempts, outcome = _opposite_order(ids, db.run_in_transaction)
    assert outcome == {"ha": "ok", "hb": "ok"}
    assert sorted(attempts.values()) == [1, 2]  # the victim ran its whole body again
    assert _counts() == {"ha": 2, "hb": 2}


def test_deadlock_without_retry_is_a_503(server_db):
    ids = _two_services()

    def once(body, first, second):
        with db.transaction() as s:
            body(s, first, second)

    _, outcome = _opposite_order(ids, once)
    errors = [e for e in outcome.values() if e != "ok"]
    assert len(errors) == 1 and isinstance(errors[0], db.DatabaseBusy)
    assert errors[0].code == 503 and errors[0].retry_after >= 1 and errors[0].reason == "deadlock"
    assert isinstance(errors[0].__cause__, sa.exc.OperationalError)
    assert sum(_counts().values()) == 2  # the winner's two bumps; the victim's rolled back


def test_lock_timeout_is_retried_until_the_holder_commits(server_db, cumulo_conf):
    cumulo_conf.set("lock_timeout", 1.0, group="database")
    db.reset()  # connections take the new timeout when they open
    ids = _two_services()
    holding, release = threading.Event(), threading.Event()

    def holder():
        with db.transaction() as s:
            _bump(s, ids["ha"])
            holding.set()
            release.wait(30)

    t = threading.Thread(target=holder)
    t.start()
    assert holding.wait(10)
    threading.Timer(2.5, release.set).start()
    attempts = []

    def bump(s):
        attempts.append(time.monotonic())
        _bump(s, ids["ha"])

    started = time.monotonic()
    db.run_in_transaction(bump)
    t.join()
    assert len(attempts) >= 2 and time.monotonic() - started >= 2.0  # timed out at least once, then waited again
    assert _counts()["ha"] == 2


def test_reader_is_read_only_and_not_blocked_by_row_locks(server_db):
    ids = _two_services()
    holding, release = threading.Event(), threading.Event()

    def holder():
        with db.transaction() as s:
            _bump(s, ids["ha"])
            holding.set()
            release.wait(30)

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        assert _counts()["ha"] == 0  # the committed value, at once
        assert time.monotonic() - started < 1.0
        with pytest.raises(sa.exc.DBAPIError, match="(?i)read.only"):
            with db.reader() as s:
                _bump(s, ids["hb"])
    finally:
        release.set()
        t.join()
    with db.transaction() as s:  # a pooled connection that ran a reader writes again
        _bump(s, ids["hb"])
    assert _counts() == {"ha": 1, "hb": 1}
