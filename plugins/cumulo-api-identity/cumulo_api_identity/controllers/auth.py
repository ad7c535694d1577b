"""Tokens and what a token may see: ``/v3/auth/tokens`` (issue, validate, check, revoke) and
``/v3/auth/{catalog,projects,domains,system}`` (with their ``OS-FEDERATION`` aliases)."""

from __future__ import annotations

from typing import Any

import webob

from cumulo import exception
from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.schemas import AUTH
from cumulo_api_identity.views import domain_doc, project_doc


class Auth(Controller):
    """Keystone's ``/v3/auth`` resources."""

    def add_routes(self, router: Router) -> None:
        """Tokens, the token's catalog and the scopes it may ask for."""
        router.add("POST", "/v3/auth/tokens", self.issue_token)
        router.add("GET", "/v3/auth/tokens", self.validate_token)
        router.add("HEAD", "/v3/auth/tokens", self.check_token)
        router.add("DELETE", "/v3/auth/tokens", self.revoke_token)
        router.add("GET", "/v3/auth/catalog", self.auth_catalog)
        router.add("GET", "/v3/auth/projects", self.auth_projects)
        router.add("GET", "/v3/auth/domains", self.auth_domains)
        router.add("GET", "/v3/auth/system", self.auth_system)
        router.add("GET", "/v3/OS-FEDERATION/projects", self.auth_projects)
        router.add("GET", "/v3/OS-FEDERATION/domains", self.auth_domains)

    def issue_token(self, req: Request) -> Any:
        body = self.body(req, AUTH)
        token, data = self.svc.authenticate(body["auth"])
        doc = self.svc.token_body(data, catalog=not self.flag(req, "nocatalog"))
        return 201, doc, {"X-Subject-Token": token}

    def _subject(self, req: Request, rule: str) -> tuple[str, dict[str, Any]]:
        """The ``X-Subject-Token`` and its data, once the caller may ``rule`` it (an invalid one is a 404)."""
        self.context(req)
        subject = req.headers.get("X-Subject-Token")
        if not subject:
            raise exception.ValidationError(field="X-Subject-Token", reason="header is required")
        try:
            data = self.svc.validate_token_data(subject)
        except exception.NotAuthenticated as err:
            raise exception.NotFound(f"Could not find token: {err.message}", resource="token", id="") from None
        self.authorize(req, rule, {"token.user_id": data["user"]["id"]})
        return subject, data

    def validate_token(self, req: Request) -> Any:
        subject, data = self._subject(req, "validate_token")
        doc = self.svc.token_body(data, catalog=not self.flag(req, "nocatalog"))
        return 200, doc, {"X-Subject-Token": subject}

    def check_token(self, req: Request) -> Any:
        subject, _ = self._subject(req, "check_token")
        resp = webob.Response(status=200)
        resp.headers["X-Subject-Token"] = subject
        return resp

    def revoke_token(self, req: Request) -> Any:
        subject, _ = self._subject(req, "revoke_token")
        self.svc.revoke_token(subject)
        return None

    def auth_catalog(self, req: Request) -> Any:
        ctx = self.context(req)
        if not (ctx.project_id or ctx.domain_id or ctx.system_scope):
            raise exception.Forbidden("The service catalog needs a scoped token.")
        return {"catalog": self.svc.get_catalog(ctx.project_id),
                "links": {"self": self.base(req) + "/auth/catalog", "previous": None, "next": None}}

    def auth_projects(self, req: Request) -> Any:
        ctx = self.context(req)
        base = self.base(req)
        projects = [project_doc(base, p) for p in self.svc.list_user_projects(ctx.user_id)]
        return self.collection(req, "projects", projects, "auth/projects")

    def auth_domains(self, req: Request) -> Any:
        ctx = self.context(req)
        base = self.base(req)
        domains = [domain_doc(base, d) for d in self.svc.list_user_domains(ctx.user_id)]
        return self.collection(req, "domains", domains, "auth/domains")

    def auth_system(self, req: Request) -> Any:
        ctx = self.context(req)
        system = [{"all": True}] if self.svc.effective_role_ids(ctx.user_id, system="all") else []
        return {"system": system, "links": {"self": self.base(req) + "/auth/system", "previous": None, "next": None}}
