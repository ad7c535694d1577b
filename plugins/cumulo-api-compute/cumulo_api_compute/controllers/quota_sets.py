"""Quotas: ``/os-quota-sets/{project_id}`` (show, detail, defaults, update, delete) and
``/os-quota-class-sets/{name}`` (the defaults under a class name)."""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Request
from cumulo_api_compute import policies, schemas, views
from cumulo_api_compute.controllers.base import Controller, Route, as_bool


class QuotaSetsController(Controller):
    """A project's quota limits: its own for readers, any project's (and changes) for administrators."""

    def routes(self) -> list[Route]:
        return [("GET", "/os-quota-sets/defaults", self.legacy_defaults),
                ("GET", "/os-quota-sets/{project_id}", self.show),
                ("GET", "/os-quota-sets/{project_id}/detail", self.detail),
                ("GET", "/os-quota-sets/{project_id}/defaults", self.defaults),
                ("PUT", "/os-quota-sets/{project_id}", self.update),
                ("DELETE", "/os-quota-sets/{project_id}", self.delete)]

    def _authorize_target(self, req: Request, project_id: str) -> None:
        if project_id != req.context.project_id:
            self.authorize(req, policies.ADMIN)
        else:
            self.authorize(req, policies.READER)

    def show(self, req: Request, project_id: str) -> dict[str, Any]:
        self._authorize_target(req, project_id)
        return {"quota_set": views.quota_set(project_id, self.compute.quota_set(req.context, project_id),
                                             self.ver(req))}

    def detail(self, req: Request, project_id: str) -> dict[str, Any]:
        self._authorize_target(req, project_id)
        values = self.compute.quota_set(req.context, project_id, detail=True, user_id=req.GET.get("user_id"))
        return {"quota_set": views.quota_set(project_id, values, self.ver(req))}

    def defaults(self, req: Request, project_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"quota_set": views.quota_set(project_id, self.compute.quota_defaults(req.context), self.ver(req))}

    def legacy_defaults(self, req: Request) -> dict[str, Any]:
        return self.defaults(req, "defaults")

    def update(self, req: Request, project_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        q = dict(self.body(req, schemas.quota_update(self.ver(req)))["quota_set"])
        force = as_bool(q.pop("force", False))
        for legacy in views.LEGACY_QUOTAS:
            q.pop(legacy, None)
        values = self.compute.update_quota_set(req.context, project_id, {k: int(x) for k, x in q.items()}, force)
        return {"quota_set": views.quota_set(project_id, values, self.ver(req), with_id=False)}

    def delete(self, req: Request, project_id: str) -> Any:
        self.authorize(req, policies.ADMIN)
        self.compute.delete_quota_set(req.context, project_id)
        return 202, None


class QuotaClassSetsController(Controller):
    """``GET /os-quota-class-sets/{name}``: one class of quotas, the defaults."""

    def routes(self) -> list[Route]:
        return [("GET", "/os-quota-class-sets/{name}", self.show)]

    def show(self, req: Request, name: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"quota_class_set": views.quota_set(name, self.compute.quota_defaults(req.context), self.ver(req))}
