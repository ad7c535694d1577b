"""Trusts: ``/v3/OS-TRUST/trusts`` and a trust's delegated roles (see :mod:`cumulo_service_identity.trusts`)."""

from __future__ import annotations

from typing import Any

import webob

from cumulo import exception, policy
from cumulo.utils.timeutils import parse_isotime
from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.schemas import TRUST, entity
from cumulo_api_identity.views import role_doc, self_link

BASE = "/v3/OS-TRUST/trusts"


class Trusts(Controller):
    """Create, read and delete trusts; a trust is seen by its trustor, its trustee and administrators."""

    def add_routes(self, router: Router) -> None:
        """The trusts (Tempest lists them at ``trusts/``), one trust, its roles."""
        router.add("GET", BASE, self.list_trusts)
        router.add("GET", BASE + "/", self.list_trusts)
        router.add("POST", BASE, self.create_trust)
        router.add("GET", BASE + "/{trust_id}", self.get_trust)
        router.add("DELETE", BASE + "/{trust_id}", self.delete_trust)
        router.add("GET", BASE + "/{trust_id}/roles", self.list_trust_roles)
        router.add("GET", BASE + "/{trust_id}/roles/{role_id}", self.get_trust_role)
        router.add("HEAD", BASE + "/{trust_id}/roles/{role_id}", self.check_trust_role)

    def _doc(self, req: Request, t: dict[str, Any]) -> dict[str, Any]:
        base = self.base(req)
        return {**t, "roles": [role_doc(base, r) for r in t["roles"]],
                "roles_links": {"self": None, "previous": None, "next": None},
                "links": self_link(base, f"OS-TRUST/trusts/{t['id']}")}

    def _target(self, t: dict[str, Any]) -> dict[str, Any]:
        return {"target.trust.trustor_user_id": t["trustor_user_id"], "target.trust.trustee_user_id": t["trustee_user_id"]}

    def _readable(self, req: Request, trust_id: str, rule: str) -> dict[str, Any]:
        ctx = self.context(req)
        t = self.svc.get_trust(trust_id)
        # the trust's parties read it; for anyone else it does not exist
        if not policy.check(ctx, f"identity:{rule}", self._target(t)):
            raise exception.NotFound(resource="trust", id=trust_id)
        return t

    def create_trust(self, req: Request) -> Any:
        ctx = self.context(req)
        data = self.body(req, entity("trust", TRUST, ["trustor_user_id", "trustee_user_id", "impersonation"]))["trust"]
        policy.authorize(ctx, "identity:create_trust", {"target.trust.trustor_user_id": data["trustor_user_id"]})
        if data.get("expires_at") is not None:
            try:
                data["expires_at"] = parse_isotime(data["expires_at"])
            except (ValueError, OverflowError):
                raise exception.ValidationError(field="trust.expires_at",
                                                reason=f"'{data['expires_at']}' is not an ISO 8601 time") from None
        return 201, {"trust": self._doc(req, self.svc.create_trust(ctx.user_id, data))}

    def list_trusts(self, req: Request) -> Any:
        ctx = self.context(req)
        filters = {"trustor_user_id": req.GET.get("trustor_user_id"), "trustee_user_id": req.GET.get("trustee_user_id")}
        if filters["trustor_user_id"]:
            policy.authorize(ctx, "identity:list_trusts_for_trustor",
                             {"target.trust.trustor_user_id": filters["trustor_user_id"]})
        if filters["trustee_user_id"]:
            policy.authorize(ctx, "identity:list_trusts_for_trustee",
                             {"target.trust.trustee_user_id": filters["trustee_user_id"]})
        if not (filters["trustor_user_id"] or filters["trustee_user_id"]):
            policy.authorize(ctx, "identity:list_trusts")
        items = self.svc.list_trusts(filters)
        return self.collection(req, "trusts", [self._doc(req, t) for t in items], "OS-TRUST/trusts")

    def get_trust(self, req: Request, trust_id: str) -> Any:
        return {"trust": self._doc(req, self._readable(req, trust_id, "get_trust"))}

    def delete_trust(self, req: Request, trust_id: str) -> Any:
        t = self._readable(req, trust_id, "get_trust")
        self.authorize(req, "delete_trust", {"trust.trustor_user_id": t["trustor_user_id"]})
        self.svc.delete_trust(trust_id)

    def list_trust_roles(self, req: Request, trust_id: str) -> Any:
        t = self._readable(req, trust_id, "list_roles_for_trust")
        base = self.base(req)
        return self.collection(req, "roles", [role_doc(base, r) for r in t["roles"]], f"OS-TRUST/trusts/{trust_id}/roles")

    def _trust_role(self, req: Request, trust_id: str, role_id: str) -> dict[str, Any]:
        t = self._readable(req, trust_id, "get_role_for_trust")
        for r in t["roles"]:
            if r["id"] == role_id:
                return r
        raise exception.NotFound(resource="trust role", id=role_id)

    def get_trust_role(self, req: Request, trust_id: str, role_id: str) -> Any:
        return {"role": role_doc(self.base(req), self._trust_role(req, trust_id, role_id))}

    def check_trust_role(self, req: Request, trust_id: str, role_id: str) -> Any:
        self._trust_role(req, trust_id, role_id)
        return webob.Response(status=200)
