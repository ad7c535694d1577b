"""Hypervisors (administrators): ``/os-hypervisors`` list, detail, statistics, show, search and servers.

Below 2.53 a hypervisor's id is its 1-based position in the list; from 2.53 it is a UUID.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from cumulo import exception
from cumulo.contracts.compute import HypervisorView
from cumulo.wsgi import Request
from cumulo_api_compute import policies, views
from cumulo_api_compute.controllers.base import Controller, Route
from cumulo_api_compute.views import v


class HypervisorsController(Controller):
    """The compute hosts' hypervisors and what runs on them."""

    def routes(self) -> list[Route]:
        return [("GET", "/os-hypervisors", self.index),
                ("GET", "/os-hypervisors/detail", self.detail),
                ("GET", "/os-hypervisors/statistics", self.statistics),
                ("GET", "/os-hypervisors/{hypervisor_id}", self.show),
                ("GET", "/os-hypervisors/{hypervisor_id}/uptime", self.uptime),
                ("GET", "/os-hypervisors/{pattern}/search", self.search),
                ("GET", "/os-hypervisors/{pattern}/servers", self.servers)]

    def _list(self, req: Request, detail: bool, pattern: str | None = None) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        ver = self.ver(req)
        pattern = pattern or (req.GET.get("hypervisor_hostname_pattern") if ver >= v("2.53") else None)
        hvs = self.compute.list_hypervisors(req.context, pattern)
        with_servers = ver >= v("2.53") and req.bool_param("with_servers", False)
        items = []
        for i, h in enumerate(hvs):
            servers = self.compute.hypervisor_servers(req.context, h["host"]) if with_servers else None
            items.append(views.hypervisor(h, ver, detail, servers, index=i + 1))
        limit = req.int_param("limit", None, minimum=0) if ver >= v("2.33") else None
        marker = req.GET.get("marker") if ver >= v("2.33") else None
        if marker is not None:
            idx = next((i for i, h in enumerate(items) if str(h["id"]) == marker), None)
            if idx is None:
                raise exception.Invalid(reason=f"marker [{marker}] not found")
            items = items[idx + 1:]
        if limit is not None:
            items = items[:limit]
        return self.paged(req, items, limit if limit is not None else -1, "hypervisors",
                          "os-hypervisors/detail" if detail else "os-hypervisors")

    def index(self, req: Request) -> dict[str, Any]:
        return self._list(req, False)

    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, True)

    def search(self, req: Request, pattern: str) -> dict[str, Any]:
        out = self._list(req, False, pattern)
        if not out["hypervisors"]:
            raise exception.NotFound(f"No hypervisor matching '{pattern}' could be found.")
        return out

    def servers(self, req: Request, pattern: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        ver = self.ver(req)
        hvs = self.compute.list_hypervisors(req.context, pattern)
        if not hvs:
            raise exception.NotFound(f"No hypervisor matching '{pattern}' could be found.")
        return {"hypervisors": [views.hypervisor(h, ver, False, self.compute.hypervisor_servers(req.context, h["host"]),
                                                 index=i + 1) for i, h in enumerate(hvs)]}

    def _find(self, req: Request, hypervisor_id: str) -> tuple[int, HypervisorView]:
        """A hypervisor by its id at the request's microversion, with its 1-based position.

        :raises Invalid: not a UUID from 2.53.
        :raises NotFound: no such hypervisor.
        """
        ver = self.ver(req)
        for i, h in enumerate(self.compute.list_hypervisors(req.context)):
            if (ver >= v("2.53") and h["id"] == hypervisor_id) or (ver < v("2.53") and str(i + 1) == hypervisor_id):
                return i + 1, h
        if ver >= v("2.53") and not re.match(r"^[0-9a-fA-F-]{32,36}$", hypervisor_id):
            raise exception.Invalid(reason=f"Invalid uuid {hypervisor_id}")
        raise exception.NotFound(f"Hypervisor with ID {hypervisor_id} could not be found.")

    def show(self, req: Request, hypervisor_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        ver = self.ver(req)
        index, h = self._find(req, hypervisor_id)
        servers = None
        if ver >= v("2.53") and req.bool_param("with_servers", False):
            servers = self.compute.hypervisor_servers(req.context, h["host"])
        return {"hypervisor": views.hypervisor(h, ver, True, servers, index=index)}

    def uptime(self, req: Request, hypervisor_id: str) -> Any:
        """``/os-hypervisors/{id}/uptime`` (below 2.88; the show has it from 2.88).

        501 when the host reports no uptime, as Nova for a driver without one (the clients
        read 501 as "not supported": ``openstack hypervisor show`` shows the rest).
        """
        self.authorize(req, policies.ADMIN)
        ver = self.ver(req)
        if ver >= v("2.88"):
            raise exception.NotFound("The uptime is in the hypervisor's show from microversion 2.88.")
        index, h = self._find(req, hypervisor_id)
        uptime: Any = h.get("uptime")
        if not uptime:
            return 501, {"notImplemented": {"code": 501, "message": "The hypervisor of host "
                                            f"{h['host']} does not report its uptime."}}
        out = views.hypervisor(h, ver, False, index=index)
        out["uptime"] = uptime
        return {"hypervisor": out}

    def statistics(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        # Summed by key name: read as plain mappings (a TypedDict takes literal keys only).
        hvs: Sequence[Mapping[str, Any]] = self.compute.list_hypervisors(req.context)
        keys = ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used", "running_vms")
        stats = {k: sum(h[k] for h in hvs) for k in keys}
        stats.update({"count": len(hvs), "free_ram_mb": stats["memory_mb"] - stats["memory_mb_used"],
                      "free_disk_gb": stats["local_gb"] - stats["local_gb_used"], "current_workload": 0,
                      "disk_available_least": stats["local_gb"] - stats["local_gb_used"]})
        return {"hypervisor_statistics": stats}
