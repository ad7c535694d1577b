"""Usage per project over a period: ``/os-simple-tenant-usage`` (list: administrators) and ``/{tenant_id}``.

A server counts for the hours it ran inside the period: from its launch (or the period's
start) to its termination (or the period's end); one that never launched counts nothing
and is not listed. From 2.40 the servers are paged (``limit``, ``marker``: a server uuid).
"""

from __future__ import annotations

import datetime
import urllib.parse
from typing import Any

from cumulo import exception
from cumulo.contracts.compute import ServerView
from cumulo.wsgi import Request
from cumulo_api_compute import policies, views
from cumulo_api_compute.controllers.base import Controller, Route, as_bool
from cumulo_api_compute.views import v

_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d")


def utcnow() -> datetime.datetime:
    """Now, as the compute views' times: naive UTC."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def _when(text: str | None, field: str) -> datetime.datetime:
    """A period end as a naive UTC time (now when not given).

    :raises ValidationError: not one of the formats Nova reads.
    """
    if not text:
        return utcnow()
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1]
    for fmt in _FORMATS:
        try:
            return datetime.datetime.strptime(value, fmt)
        except ValueError:
            continue
    try:  # an ISO 8601 time with an offset
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise exception.ValidationError(field=field, reason=f"Datetime {text} is in invalid format") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(datetime.UTC).replace(tzinfo=None)
    return parsed


def _ran_in(inst: ServerView, start: datetime.datetime, stop: datetime.datetime) -> bool:
    """Launched before the period's end and not terminated before its start."""
    launched, ended = inst.get("launched_at"), inst.get("terminated_at")
    return launched is not None and launched < stop and (ended is None or ended > start)


def _hours(inst: ServerView, start: datetime.datetime, stop: datetime.datetime) -> float:
    launched, ended = inst.get("launched_at"), inst.get("terminated_at")
    if launched is None or launched > stop or (ended is not None and ended < start):
        return 0.0
    return max((min(stop, ended or stop) - max(start, launched)).total_seconds(), 0.0) / 3600.0


def server_usage(inst: ServerView, start: datetime.datetime, stop: datetime.datetime,
                 now: datetime.datetime) -> dict[str, Any]:
    """One server's usage in the period, in Nova's ``server_usages`` entry shape."""
    flavor = inst.get("flavor") or {}
    launched = inst["launched_at"] or now  # only launched servers are listed (see _ran_in)
    ended = inst.get("terminated_at")
    return {"instance_id": inst["uuid"], "name": inst["display_name"], "tenant_id": inst["project_id"],
            "flavor": flavor.get("name") or flavor.get("original_name") or "",
            "hours": _hours(inst, start, stop),
            "memory_mb": int(flavor.get("ram", inst["memory_mb"])),
            "local_gb": int(flavor.get("disk", inst["root_gb"])) + int(flavor.get("ephemeral", inst["ephemeral_gb"])),
            "vcpus": int(flavor.get("vcpus", inst["vcpus"])),
            "started_at": views.iso_us(launched), "ended_at": views.iso_us(ended),
            "state": "terminated" if ended else inst["vm_state"],
            "uptime": int(((ended or now) - launched).total_seconds())}


class UsageController(Controller):
    """``os-simple-tenant-usage``: what each project's servers used over a period."""

    def routes(self) -> list[Route]:
        return [("GET", "/os-simple-tenant-usage", self.index),
                ("GET", "/os-simple-tenant-usage/{tenant_id}", self.show)]

    def _period(self, req: Request) -> tuple[datetime.datetime, datetime.datetime]:
        start = _when(req.GET.get("start"), "start")
        stop = _when(req.GET.get("end"), "end")
        if stop < start:
            raise exception.Invalid(reason="Invalid start time. The start time cannot occur after the end time.")
        return start, stop

    def _servers(self, req: Request, start: datetime.datetime, stop: datetime.datetime,
                 project_id: str | None) -> list[ServerView]:
        """The servers (live and deleted) that ran in the period, oldest first, paged from 2.40."""
        ctx = req.context
        filters: dict[str, Any] = {"project_id": project_id} if project_id else {}
        everyone = ctx.is_admin
        live = self.compute.list_servers(ctx, filters=filters, all_projects=everyone)
        # a server deleted before the period was last changed then: changes-since leaves it out
        gone = self.compute.list_servers(ctx, filters={**filters, "changes-since": start}, all_projects=everyone,
                                         deleted=True)
        ran = [i for i in live + gone if _ran_in(i, start, stop)]
        ran.sort(key=lambda i: (i["created_at"], i["uuid"]))
        if self.ver(req) >= v("2.40"):
            marker = req.GET.get("marker")
            if marker is not None:
                idx = next((n for n, i in enumerate(ran) if i["uuid"] == marker), None)
                if idx is None:
                    raise exception.Invalid(reason=f"marker [{marker}] not found")
                ran = ran[idx + 1:]
            limit = req.int_param("limit", None, minimum=0)
            max_limit = self.hub.conf.api.max_limit
            ran = ran[:max_limit if limit is None else min(limit, max_limit)]
        return ran

    def _links(self, req: Request, ran: list[ServerView], path: str) -> list[dict[str, str]] | None:
        limit = req.int_param("limit", None, minimum=0)
        if self.ver(req) < v("2.40") or not ran or limit is None or len(ran) < limit:
            return None
        params = [(k, val) for k, val in req.GET.items() if k != "marker"] + [("marker", ran[-1]["uuid"])]
        return [{"rel": "next", "href": f"{self.base(req)}/{path}?{urllib.parse.urlencode(params)}"}]

    @staticmethod
    def _summaries(ran: list[ServerView], start: datetime.datetime, stop: datetime.datetime,
                   detailed: bool) -> dict[str, dict[str, Any]]:
        now = utcnow()
        out: dict[str, dict[str, Any]] = {}
        for inst in ran:
            use = server_usage(inst, start, stop, now)
            summary = out.setdefault(use["tenant_id"], {
                "tenant_id": use["tenant_id"], "start": views.iso_us(start), "stop": views.iso_us(stop),
                "total_hours": 0.0, "total_local_gb_usage": 0.0, "total_memory_mb_usage": 0.0,
                "total_vcpus_usage": 0.0, **({"server_usages": []} if detailed else {})})
            summary["total_hours"] += use["hours"]
            summary["total_local_gb_usage"] += use["local_gb"] * use["hours"]
            summary["total_memory_mb_usage"] += use["memory_mb"] * use["hours"]
            summary["total_vcpus_usage"] += use["vcpus"] * use["hours"]
            if detailed:
                summary["server_usages"].append(use)
        return out

    def index(self, req: Request) -> dict[str, Any]:
        """Every project's usage (administrators); ``detailed`` adds each server's."""
        self.authorize(req, policies.ADMIN)
        start, stop = self._period(req)
        ran = self._servers(req, start, stop, None)
        detailed = as_bool(req.GET.get("detailed", "0"))
        out: dict[str, Any] = {"tenant_usages": list(self._summaries(ran, start, stop, detailed).values())}
        links = self._links(req, ran, "os-simple-tenant-usage")
        if links:
            out["tenant_usages_links"] = links
        return out

    def show(self, req: Request, tenant_id: str) -> dict[str, Any]:
        """One project's usage with its servers' (``{}`` when none ran in the period, as Nova)."""
        self.authorize(req, policies.READER, {"project_id": tenant_id})
        if tenant_id != req.context.project_id:
            self.authorize(req, policies.ADMIN)
        start, stop = self._period(req)
        ran = self._servers(req, start, stop, tenant_id)
        usage = self._summaries(ran, start, stop, True).get(tenant_id, {})
        out: dict[str, Any] = {"tenant_usage": usage}
        links = self._links(req, ran, f"os-simple-tenant-usage/{tenant_id}")
        if links:
            out["tenant_usage_links"] = links
        return out
