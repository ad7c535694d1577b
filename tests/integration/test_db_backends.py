"""The kernel's persistence on the real PostgreSQL and MariaDB servers."""

from __future__ import annotations

import threading

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
