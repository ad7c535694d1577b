"""A user's access rules: ``/v3/users/{user_id}/access_rules`` (list, show, delete)."""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller


class AccessRules(Controller):
    """The rules a user's application credentials were created with; one in use cannot be deleted (403)."""

    def add_routes(self, router: Router) -> None:
        router.add("GET", "/v3/users/{user_id}/access_rules", self.rule_list)
        router.add("GET", "/v3/users/{user_id}/access_rules/{rule_id}", self.rule_get)
        router.add("DELETE", "/v3/users/{user_id}/access_rules/{rule_id}", self.rule_delete)

    def _rule(self, req: Request, user_id: str, rule: dict[str, Any]) -> dict[str, Any]:
        return {**rule, "links": self.link(req, f"users/{user_id}/access_rules/{rule['id']}")}

    def rule_list(self, req: Request, user_id: str) -> Any:
        self.authorize(req, "list_access_rules", {"user_id": user_id})
        filters = {k: req.GET[k] for k in ("service", "path", "method") if req.GET.get(k)}
        items = [self._rule(req, user_id, r) for r in self.svc.list_access_rules(user_id, filters)]
        return self.collection(req, "access_rules", items, "")

    def rule_get(self, req: Request, user_id: str, rule_id: str) -> Any:
        self.authorize(req, "get_access_rule", {"user_id": user_id})
        return {"access_rule": self._rule(req, user_id, self.svc.get_access_rule(user_id, rule_id))}

    def rule_delete(self, req: Request, user_id: str, rule_id: str) -> Any:
        self.authorize(req, "delete_access_rule", {"user_id": user_id})
        self.svc.delete_access_rule(user_id, rule_id)
