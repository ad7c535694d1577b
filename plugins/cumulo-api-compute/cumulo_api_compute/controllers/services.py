"""Compute services (administrators): ``GET /os-services``, ``PUT`` and ``DELETE /os-services/{service_id}``.

From 2.53 ``PUT`` takes a service UUID and a status body; before, the path names the
action (``enable``, ``disable``, ``disable-log-reason``, ``force-down``) and the body the host.
"""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Request
from cumulo_api_compute import policies, schemas, views
from cumulo_api_compute.controllers.base import Controller, Route, as_bool
from cumulo_api_compute.views import v


class ServicesController(Controller):
    """The compute services (binaries on hosts): list, enable/disable/force down, delete."""

    def routes(self) -> list[Route]:
        return [("GET", "/os-services", self.index),
                ("PUT", "/os-services/{service_id}", self.update),
                ("DELETE", "/os-services/{service_id}", self.delete)]

    def index(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        binary = req.GET.get("binary")
        rows = self.compute.list_services(req.context, req.GET.get("host"), binary and views.cumulo_binary(binary))
        return {"services": [views.service(s, self.ver(req)) for s in rows]}

    def update(self, req: Request, service_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        ver = self.ver(req)
        if ver >= v("2.53"):
            body = self.body(req, schemas.SERVICE_UPDATE)
            status = body.get("status")
            if body.get("disabled_reason") and status != "disabled":
                raise exception.Invalid(reason="disabled_reason is only allowed with status 'disabled'")
            row = self.compute.set_service(req.context, service_id,
                                           disabled=None if status is None else status == "disabled",
                                           reason=body.get("disabled_reason"), forced_down=body.get("forced_down"))
            return {"service": views.service({**row, "availability_zone": "nova"}, ver)}
        return self._legacy_update(req, service_id)

    def _legacy_update(self, req: Request, action: str) -> dict[str, Any]:
        body = self.body(req, schemas.SERVICE_LEGACY)
        if action not in ("enable", "disable", "disable-log-reason", "force-down"):
            raise exception.NotFound(f"Unknown service action {action}")
        kwargs: dict[str, Any] = {}
        if action == "force-down":
            kwargs["forced_down"] = as_bool(body.get("forced_down", True))
        else:
            kwargs["disabled"] = action != "enable"
            kwargs["reason"] = body.get("disabled_reason")
        row = self.compute.set_service(req.context, None, host=body["host"], binary=views.cumulo_binary(body["binary"]),
                                       **kwargs)
        binary = views.nova_binary(row["binary"])
        out: dict[str, Any] = {"host": row["host"], "binary": binary, "status": row["status"]}
        if action == "disable-log-reason":
            out["disabled_reason"] = row.get("disabled_reason")
        if action == "force-down":
            out = {"host": row["host"], "binary": binary, "forced_down": row["forced_down"]}
        return {"service": out}

    def delete(self, req: Request, service_id: str) -> Any:
        self.authorize(req, policies.ADMIN)
        self.compute.delete_service(req.context, service_id)
        return 204, None
