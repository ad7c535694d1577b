"""Domains: ``/v3/domains``."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.schemas import DOMAIN, entity
from cumulo_api_identity.views import domain_doc


class Domains(Controller):
    """Domain CRUD; the default domain cannot be disabled."""

    def add_routes(self, router: Router) -> None:
        """``/v3/domains`` and ``/v3/domains/{domain_id}``."""
        self.add_crud(router, "/v3/domains", "domain_id", "domain")

    def list_domains(self, req: Request) -> Any:
        self.authorize(req, "list_domains")
        items = self.svc.list_domains({"name": req.GET.get("name"), "enabled": self.bool_filter(req, "enabled")})
        base = self.base(req)
        return self.collection(req, "domains", [domain_doc(base, d) for d in items], "domains")

    def create_domain(self, req: Request) -> Any:
        self.authorize(req, "create_domain")
        data = self.body(req, entity("domain", DOMAIN, ["name"]))["domain"]
        if data.get("explicit_domain_id"):
            data["id"] = data.pop("explicit_domain_id")
        return 201, {"domain": domain_doc(self.base(req), self.svc.create_domain(data))}

    def get_domain(self, req: Request, domain_id: str) -> Any:
        d = self.svc.get_domain(domain_id)
        self.authorize(req, "get_domain", {"domain.id": d["id"]})
        return {"domain": domain_doc(self.base(req), d)}

    def update_domain(self, req: Request, domain_id: str) -> Any:
        self.authorize(req, "update_domain")
        changes = self.body(req, entity("domain", DOMAIN))["domain"]
        if domain_id == self.svc.conf.identity.default_domain_id and changes.get("enabled") is False:
            raise exception.Forbidden("The default domain cannot be disabled.")
        return {"domain": domain_doc(self.base(req), self.svc.update_domain(domain_id, changes))}

    def delete_domain(self, req: Request, domain_id: str) -> Any:
        self.authorize(req, "delete_domain")
        self.svc.delete_domain(domain_id)
