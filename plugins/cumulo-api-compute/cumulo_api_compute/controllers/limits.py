"""``GET /limits``: a project's absolute limits and usage (no rate limits)."""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Request
from cumulo_api_compute import policies
from cumulo_api_compute.controllers.base import Controller, Route
from cumulo_api_compute.views import v


class LimitsController(Controller):
    """The caller's project's limits, or ``?tenant_id=`` another's (administrators)."""

    def routes(self) -> list[Route]:
        return [("GET", "/limits", self.index)]

    def index(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        project = req.GET.get("tenant_id") or req.context.project_id or ""
        if project != req.context.project_id:
            self.authorize(req, policies.ADMIN)
        q = self.compute.quota_set(req.context, project, detail=True)
        ver = self.ver(req)
        absolute = {"maxTotalInstances": q["instances"]["limit"], "maxTotalCores": q["cores"]["limit"],
                    "maxTotalRAMSize": q["ram"]["limit"], "maxTotalKeypairs": q["key_pairs"]["limit"],
                    "maxServerMeta": q["metadata_items"]["limit"], "maxServerGroups": q["server_groups"]["limit"],
                    "maxServerGroupMembers": q["server_group_members"]["limit"],
                    "totalInstancesUsed": q["instances"]["in_use"], "totalCoresUsed": q["cores"]["in_use"],
                    "totalRAMUsed": q["ram"]["in_use"], "totalServerGroupsUsed": q["server_groups"]["in_use"]}
        if ver < v("2.39"):  # as Nova: an image's metadata is limited as a server's (the image proxy's)
            absolute["maxImageMeta"] = q["metadata_items"]["limit"]
        if ver < v("2.57"):
            absolute.update({"maxPersonality": q["injected_files"]["limit"],
                             "maxPersonalitySize": q["injected_file_content_bytes"]["limit"]})
        if ver < v("2.36"):
            absolute.update({"maxSecurityGroups": -1, "maxSecurityGroupRules": -1, "maxTotalFloatingIps": -1,
                             "totalSecurityGroupsUsed": 0, "totalFloatingIpsUsed": 0})
        return {"limits": {"rate": [], "absolute": absolute}}
