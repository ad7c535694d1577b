"""``[database]`` options (read by :mod:`cumulo.db`). Imports only oslo.config."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "database"

database_opts: list[cfg.Opt] = [
    cfg.StrOpt("connection", secret=True,
               help="SQLAlchemy URL. Default: sqlite in state_path (WAL mode). "
                    "Examples: postgresql+psycopg2://user:pw@host/db, mysql+pymysql://user:pw@host/db"),
    cfg.IntOpt("pool_size", default=10, min=1, help="Connections kept open per process (not SQLite)."),
    cfg.IntOpt("max_overflow", default=40, min=0, help="Connections above pool_size allowed under load."),
    cfg.IntOpt("sqlite_busy_timeout", default=5000, min=0,
               help="Milliseconds a SQLite writer waits for the lock per attempt (capped by lock_timeout); "
                    "then the transaction is retried with back-off, and finally answered 503."),
    cfg.IntOpt("max_retries", default=10, min=0, help="Retries of a transaction that hit a deadlock or lock timeout."),
    cfg.FloatOpt("lock_timeout", default=5.0, min=0.01,
                 help="Seconds one attempt waits for a lock before the transaction is retried or answered "
                      "503: SQLite's busy timeout (at most sqlite_busy_timeout), PostgreSQL's lock_timeout, "
                      "MariaDB's innodb_lock_wait_timeout (whole seconds, at least 1). A request gives up "
                      "after about lock_timeout * (max_retries + 1)."),
    cfg.IntOpt("busy_retry_after", default=2, min=1,
               help="Seconds a client is told to wait (Retry-After) when the database stays busy (503)."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, database_opts)]
