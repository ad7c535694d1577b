"""Quotas: ``/os-quota-sets/{project_id}`` (show, detail, defaults, update, delete) and
``/os-quota-class-sets/{name}`` (the defaults under a class name)."""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Request
from cumulo_api_compute import policies, schemas, views
from cumulo_api_compute.controllers.base import Controller, Route, as_bool
from cumulo_api_compute.views import v


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


#: The network limits Nova's quota classes keep below 2.36 (the compute area stores them with the class).
_NETWORK_QUOTAS = ("fixed_ips", "floating_ips", "security_groups", "security_group_rules", "networks")


def _class_update(ver: Any) -> dict[str, Any]:
    """The body of ``PUT /os-quota-class-sets/{name}``: a quota set's limits (no ``force``)."""
    inner = dict(schemas.quota_update(ver)["properties"]["quota_set"])
    inner["properties"] = {k: val for k, val in inner["properties"].items() if k != "force"}
    return {"type": "object", "properties": {"quota_class_set": inner}, "required": ["quota_class_set"],
            "additionalProperties": False}


class QuotaClassSetsController(Controller):
    """``/os-quota-class-sets/{name}``: one class of quotas (the ``default`` class is the defaults projects get)."""

    def routes(self) -> list[Route]:
        return [("GET", "/os-quota-class-sets/{name}", self.show),
                ("PUT", "/os-quota-class-sets/{name}", self.update)]

    def _view(self, req: Request, name: str, values: dict[str, int], with_id: bool) -> dict[str, Any]:
        kept = {k: values.pop(k) for k in list(values) if k in _NETWORK_QUOTAS}
        out = views.quota_set(name, values, self.ver(req), with_id=with_id)
        if self.ver(req) < v("2.36"):  # the network limits a class keeps for old clients, as stored
            out.update({k: val for k, val in kept.items() if k in out})
        return out

    def show(self, req: Request, name: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"quota_class_set": self._view(req, name, self.compute.quota_class_set(req.context, name), True)}

    def update(self, req: Request, name: str) -> dict[str, Any]:
        """As Nova: set the class's limits (``default``: every project's defaults); no ``id`` in the answer."""
        self.authorize(req, policies.QUOTA_CLASS_UPDATE)
        q = self.body(req, _class_update(self.ver(req)))["quota_class_set"]
        values = self.compute.update_quota_class_set(req.context, name, {k: int(x) for k, x in q.items()})
        return {"quota_class_set": self._view(req, name, values, False)}
