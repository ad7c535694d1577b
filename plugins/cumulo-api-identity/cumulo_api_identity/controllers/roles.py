"""Roles: ``/v3/roles``, implied roles (``/v3/roles/{prior_id}/implies``) and ``/v3/role_inferences``."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.schemas import ROLE, entity
from cumulo_api_identity.views import role_doc


class Roles(Controller):
    """Role CRUD and the inference rules between roles."""

    def add_routes(self, router: Router) -> None:
        """``/v3/roles[/{role_id}]``, ``/v3/roles/{prior_id}/implies[/{implied_id}]``, ``/v3/role_inferences``."""
        self.add_crud(router, "/v3/roles", "role_id", "role")
        router.add("GET", "/v3/roles/{prior_id}/implies", self.list_implied)
        router.add("PUT", "/v3/roles/{prior_id}/implies/{implied_id}", self.put_implied)
        router.add("GET", "/v3/roles/{prior_id}/implies/{implied_id}", self.get_implied)
        router.add("HEAD", "/v3/roles/{prior_id}/implies/{implied_id}", self.check_implied)
        router.add("DELETE", "/v3/roles/{prior_id}/implies/{implied_id}", self.delete_implied)
        router.add("GET", "/v3/role_inferences", self.role_inferences)

    def list_roles(self, req: Request) -> Any:
        self.authorize(req, "list_roles")
        items = self.svc.list_roles({"name": req.GET.get("name"), "domain_id": req.GET.get("domain_id")})
        base = self.base(req)
        return self.collection(req, "roles", [role_doc(base, r) for r in items], "roles")

    def create_role(self, req: Request) -> Any:
        self.authorize(req, "create_role")
        data = self.body(req, entity("role", ROLE, ["name"]))["role"]
        if data.get("domain_id"):
            self.svc.get_domain(data["domain_id"])
        return 201, {"role": role_doc(self.base(req), self.svc.create_role(data))}

    def get_role(self, req: Request, role_id: str) -> Any:
        self.authorize(req, "get_role")
        return {"role": role_doc(self.base(req), self.svc.get_role(role_id))}

    def update_role(self, req: Request, role_id: str) -> Any:
        self.authorize(req, "update_role")
        changes = self.body(req, entity("role", ROLE))["role"]
        if "domain_id" in changes and changes["domain_id"] != self.svc.get_role(role_id)["domain_id"]:
            raise exception.Invalid(reason="Cannot change the domain_id of a role.")
        return {"role": role_doc(self.base(req), self.svc.update_role(role_id, changes))}

    def delete_role(self, req: Request, role_id: str) -> Any:
        self.authorize(req, "delete_role")
        self.svc.delete_role(role_id)

    def _role_ref(self, req: Request, r: dict[str, Any]) -> dict[str, Any]:
        """A role as an inference rule names it: id, name and links."""
        return {"id": r["id"], "name": r["name"], "links": self.link(req, f"roles/{r['id']}")}

    def _inference(self, req: Request, rule: dict[str, Any], prior_id: str, implied_id: str) -> dict[str, Any]:
        return {"role_inference": {"prior_role": self._role_ref(req, rule["prior_role"]),
                                   "implies": self._role_ref(req, rule["implies"])},
                "links": self.link(req, f"roles/{prior_id}/implies/{implied_id}")}

    def put_implied(self, req: Request, prior_id: str, implied_id: str) -> Any:
        self.authorize(req, "create_implied_role")
        rule = self.svc.create_implied_role(prior_id, implied_id)
        return 201, self._inference(req, rule, prior_id, implied_id)

    def get_implied(self, req: Request, prior_id: str, implied_id: str) -> Any:
        self.authorize(req, "get_implied_role")
        rule = self.svc.get_implied_role(prior_id, implied_id)
        return self._inference(req, rule, prior_id, implied_id)

    def check_implied(self, req: Request, prior_id: str, implied_id: str) -> Any:
        self.authorize(req, "check_implied_role")
        self.svc.get_implied_role(prior_id, implied_id)

    def delete_implied(self, req: Request, prior_id: str, implied_id: str) -> Any:
        self.authorize(req, "delete_implied_role")
        self.svc.delete_implied_role(prior_id, implied_id)

    def list_implied(self, req: Request, prior_id: str) -> Any:
        self.authorize(req, "list_implied_roles")
        rule = self.svc.list_implied_roles(prior_id)[0]
        return {"role_inference": {"prior_role": self._role_ref(req, rule["prior_role"]),
                                   "implies": [self._role_ref(req, r) for r in rule["implies"]]},
                "links": self.link(req, f"roles/{prior_id}/implies")}

    def role_inferences(self, req: Request) -> Any:
        self.authorize(req, "list_role_inference_rules")
        rules = [{"prior_role": self._role_ref(req, r["prior_role"]),
                  "implies": [self._role_ref(req, i) for i in r["implies"]]} for r in self.svc.list_implied_roles()]
        return {"role_inferences": rules, "links": self.link(req, "role_inferences")}
