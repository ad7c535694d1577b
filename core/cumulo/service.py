"""The service framework: registration, heartbeats, up/down, enable/disable, periodic tasks.

A service process (or a service inside ``cumulo up``) is one row in
``services`` keyed by (host, binary). It heartbeats every
``[service] report_interval``; it is *up* while its last heartbeat is younger
than ``service_down_time``. A disabled service keeps running but the
scheduler places nothing on it.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from cumulo import db, exception
from cumulo.conf import CONF
from cumulo.db.models import Service, new_id, utcnow

LOG = logging.getLogger(__name__)


def register(host: str, binary: str, topic: str, availability_zone: str = "nova") -> dict[str, Any]:
    """Create or refresh the service row; returns it as a dict."""

    @db.retry_on_deadlock
    def _do() -> dict[str, Any]:
        with db.transaction() as s:
            row = s.scalar(sa.select(Service).where(Service.host == host, Service.binary == binary))
            if row is None:
                row = Service(uuid=new_id(), host=host, binary=binary, topic=topic,
                              availability_zone=availability_zone, disabled=False, forced_down=False,
                              report_count=0)
                s.add(row)
            row.last_seen_up = utcnow()
            s.flush()
            return row.to_dict()

    try:
        return _do()
    except sa.exc.IntegrityError:
        return _do()  # a concurrent register won the insert; refresh it


def heartbeat(host: str, binary: str) -> None:
    with db.transaction() as s:
        s.execute(sa.update(Service).where(Service.host == host, Service.binary == binary)
                  .values(last_seen_up=utcnow(), report_count=Service.report_count + 1))


def is_up(row: dict[str, Any] | Service, now: datetime.datetime | None = None) -> bool:
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    if get("forced_down"):
        return False
    seen = get("last_seen_up") or get("updated_at") or get("created_at")
    if seen is None:
        return False
    now = now or utcnow()
    return (now - seen).total_seconds() <= CONF.service.service_down_time


def list_services(binary: str | None = None, host: str | None = None) -> list[dict[str, Any]]:
    with db.reader() as s:
        q = sa.select(Service).order_by(Service.id)
        if binary:
            q = q.where(Service.binary == binary)
        if host:
            q = q.where(Service.host == host)
        rows = s.scalars(q).all()
        now = utcnow()
        return [{**r.to_dict(), "state": "up" if is_up(r, now) else "down",
                 "status": "disabled" if r.disabled else "enabled"} for r in rows]


def set_disabled(host: str, binary: str, disabled: bool, reason: str | None = None) -> dict[str, Any]:
    with db.transaction() as s:
        row = s.scalar(sa.select(Service).where(Service.host == host, Service.binary == binary))
        if row is None:
            raise exception.NotFound(resource="Service", id=f"{binary} on {host}")
        row.disabled = disabled
        row.disabled_reason = reason if disabled else None
        s.flush()
        return {**row.to_dict(), "state": "up" if is_up(row) else "down",
                "status": "disabled" if row.disabled else "enabled"}


class PeriodicTask:
    """Run ``fn`` every ``interval`` seconds in a daemon thread until stopped; errors are logged."""

    def __init__(self, fn: Callable[[], Any], interval: float, name: str, initial_delay: float | None = None) -> None:
        self.fn, self.interval, self.name = fn, interval, name
        self.initial_delay = interval if initial_delay is None else initial_delay
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> PeriodicTask:
        self._thread.start()
        return self

    def _run(self) -> None:
        if self._stop.wait(self.initial_delay):
            return
        while not self._stop.is_set():
            try:
                self.fn()
            except Exception:
                LOG.exception("Periodic task %s failed", self.name)
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)


class ServiceRunner:
    """Registers a service, heartbeats it, and stops what it was given on stop()."""

    def __init__(self, host: str, binary: str, topic: str, availability_zone: str = "nova",
                 children: list[Any] | None = None) -> None:
        self.host, self.binary, self.topic = host, binary, topic
        self.availability_zone = availability_zone
        self.children = list(children or [])
        self._heartbeat: PeriodicTask | None = None

    def start(self) -> ServiceRunner:
        register(self.host, self.binary, self.topic, self.availability_zone)
        self._heartbeat = PeriodicTask(lambda: heartbeat(self.host, self.binary), CONF.service.report_interval,
                                       f"heartbeat-{self.binary}-{self.host}").start()
        return self

    def stop(self) -> None:
        if self._heartbeat:
            self._heartbeat.stop()
        for child in reversed(self.children):
            try:
                child.stop()
            except Exception:
                LOG.exception("Stopping %s failed", child)
