"""QoS specs: ``/qos-specs`` (create, list, show, set and unset keys, delete, associate and disassociate
volume types), administrators only, as Cinder's."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Request, Router
from cumulo_api_volume.controllers_common import body_object, links, project_ctx


class QosController:
    def __init__(self, hub: Any) -> None:
        self.hub = hub

    def add_routes(self, r: Router, root: str) -> None:
        q = root + "/qos-specs"
        r.add("GET", q, self.index)
        r.add("POST", q, self.create)
        r.add("GET", q + "/{qos_id}", self.show)
        r.add("PUT", q + "/{qos_id}", self.set_keys)
        r.add("DELETE", q + "/{qos_id}", self.delete)
        r.add("PUT", q + "/{qos_id}/delete_keys", self.unset_keys)
        r.add("GET", q + "/{qos_id}/associations", self.associations)
        r.add("GET", q + "/{qos_id}/associate", self.associate)
        r.add("GET", q + "/{qos_id}/disassociate", self.disassociate)
        r.add("GET", q + "/{qos_id}/disassociate_all", self.disassociate_all)

    def index(self, req: Request, project_id: str) -> dict[str, Any]:
        return {"qos_specs": self.hub.volume.list_qos(project_ctx(req, project_id))}

    def create(self, req: Request, project_id: str) -> dict[str, Any]:
        made = self.hub.volume.create_qos(project_ctx(req, project_id), body_object(req, "qos_specs"))
        return {"qos_specs": made, "links": links(req, project_id, "qos-specs", made["id"])}

    def show(self, req: Request, project_id: str, qos_id: str) -> dict[str, Any]:
        found = self.hub.volume.get_qos(project_ctx(req, project_id), qos_id)
        return {"qos_specs": found, "links": links(req, project_id, "qos-specs", qos_id)}

    def set_keys(self, req: Request, project_id: str, qos_id: str) -> dict[str, Any]:
        ctx = project_ctx(req, project_id)
        return {"qos_specs": self.hub.volume.set_qos_keys(ctx, qos_id, body_object(req, "qos_specs"))}

    def unset_keys(self, req: Request, project_id: str, qos_id: str) -> tuple[int, None]:
        ctx = project_ctx(req, project_id)
        body = req.json_body_or_fault()
        if not isinstance(body, dict):
            raise exception.Invalid(reason="The request body must be a JSON object with a 'keys' list.")
        self.hub.volume.unset_qos_keys(ctx, qos_id, body.get("keys"))
        return 202, None

    def delete(self, req: Request, project_id: str, qos_id: str) -> tuple[int, None]:
        self.hub.volume.delete_qos(project_ctx(req, project_id), qos_id, req.GET.get("force", "false"))
        return 202, None

    def associations(self, req: Request, project_id: str, qos_id: str) -> dict[str, Any]:
        return {"qos_associations": self.hub.volume.qos_associations(project_ctx(req, project_id), qos_id)}

    def associate(self, req: Request, project_id: str, qos_id: str) -> tuple[int, None]:
        self.hub.volume.associate_qos(project_ctx(req, project_id), qos_id, req.GET.get("vol_type_id"))
        return 202, None

    def disassociate(self, req: Request, project_id: str, qos_id: str) -> tuple[int, None]:
        self.hub.volume.associate_qos(project_ctx(req, project_id), qos_id, req.GET.get("vol_type_id"), on=False)
        return 202, None

    def disassociate_all(self, req: Request, project_id: str, qos_id: str) -> tuple[int, None]:
        self.hub.volume.disassociate_all_qos(project_ctx(req, project_id), qos_id)
        return 202, None
