"""``/os-instance_usage_audit_log[/{before_timestamp}]`` (administrators), as Nova has it.

Nova reports what its periodic ``instance_usage_audit`` task did on each compute host in the last
completed audit period (a month). Cumulo runs no such task (Nova's ``instance_usage_audit = False``),
so every compute host is counted as not run for the period, as Nova reports hosts without a task log.
"""

from __future__ import annotations

import datetime
import urllib.parse
from typing import Any

from cumulo import exception
from cumulo.wsgi import Request
from cumulo_api_compute import policies
from cumulo_api_compute.controllers.base import Controller, Route


def last_completed_month(before: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    """The audit period (a calendar month) that ended last before ``before``: its beginning and end."""
    end = before.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    begin = (end - datetime.timedelta(days=1)).replace(day=1)
    return begin, end


def _timestamp(text: str) -> datetime.datetime:
    """``YYYY-MM-DD HH:MM:SS[.ffffff]``. :raises Invalid: any other text (Nova's 400)."""
    value = urllib.parse.unquote(text)
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            return datetime.datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise exception.Invalid(reason=f"Invalid timestamp for date {value}")


class InstanceUsageAuditLogController(Controller):
    """The instance usage audit of the last completed period (now, or before a time)."""

    def routes(self) -> list[Route]:
        return [("GET", "/os-instance_usage_audit_log", self.index),
                ("GET", "/os-instance_usage_audit_log/{before_timestamp}", self.show)]

    def _audit(self, req: Request, before: datetime.datetime) -> dict[str, Any]:
        begin, end = last_completed_month(before)
        hosts = sorted({s["host"] for s in self.compute.list_services(req.context, None, "cumulo-compute")})
        return {"period_beginning": str(begin), "period_ending": str(end), "num_hosts": len(hosts),
                "num_hosts_done": 0, "num_hosts_running": 0, "num_hosts_not_run": len(hosts),
                "hosts_not_run": hosts, "total_instances": 0, "total_errors": 0,
                "overall_status": (f"{'ALL' if not hosts else f'0 of {len(hosts)}'} hosts done. 0 errors."),
                "log": {}}

    def index(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.AUDIT_LOG["list"])
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        return {"instance_usage_audit_logs": self._audit(req, now)}

    def show(self, req: Request, before_timestamp: str) -> dict[str, Any]:
        self.authorize(req, policies.AUDIT_LOG["show"])
        return {"instance_usage_audit_log": self._audit(req, _timestamp(before_timestamp))}
