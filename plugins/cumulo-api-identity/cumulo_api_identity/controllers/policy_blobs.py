"""Policy documents: ``/v3/policies`` (Keystone stores them for other services; they are not this
cloud's policy rules, which live in ``policy.yaml``)."""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.schemas import POLICY, entity


class PolicyBlobs(Controller):
    """Policy CRUD: a ``blob`` and its MIME ``type``, plus any other attributes given."""

    def add_routes(self, router: Router) -> None:
        """``/v3/policies`` and ``/v3/policies/{policy_id}``."""
        self.add_crud(router, "/v3/policies", "policy_id", "policy")

    def _policy(self, req: Request, p: dict[str, Any]) -> dict[str, Any]:
        return {**p, "links": self.link(req, f"policies/{p['id']}")}

    def list_policys(self, req: Request) -> Any:
        self.authorize(req, "list_policies")
        items = self.svc.list_policies({"type": req.GET.get("type")})
        return self.collection(req, "policies", [self._policy(req, p) for p in items], "policies")

    def create_policy(self, req: Request) -> Any:
        self.authorize(req, "create_policy")
        data = self.body(req, entity("policy", POLICY, ["blob", "type"]))["policy"]
        return 201, {"policy": self._policy(req, self.svc.create_policy(data))}

    def get_policy(self, req: Request, policy_id: str) -> Any:
        self.authorize(req, "get_policy")
        return {"policy": self._policy(req, self.svc.get_policy(policy_id))}

    def update_policy(self, req: Request, policy_id: str) -> Any:
        self.authorize(req, "update_policy")
        changes = self.body(req, entity("policy", POLICY))["policy"]
        return {"policy": self._policy(req, self.svc.update_policy(policy_id, changes))}

    def delete_policy(self, req: Request, policy_id: str) -> Any:
        self.authorize(req, "delete_policy")
        self.svc.delete_policy(policy_id)
