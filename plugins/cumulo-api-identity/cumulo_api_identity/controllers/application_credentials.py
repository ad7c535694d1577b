"""A user's application credentials: ``/v3/users/{user_id}/application_credentials``."""

from __future__ import annotations

import datetime
from typing import Any

from cumulo import exception
from cumulo.utils.timeutils import parse_isotime
from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.schemas import APP_CRED, entity


class ApplicationCredentials(Controller):
    """Application credentials, made on the token's project; a restricted one cannot make more."""

    def add_routes(self, router: Router) -> None:
        """``.../application_credentials`` (list, create) and ``.../{cred_id}`` (get, delete)."""
        router.add("GET", "/v3/users/{user_id}/application_credentials", self.app_cred_list)
        router.add("POST", "/v3/users/{user_id}/application_credentials", self.app_cred_create)
        router.add("GET", "/v3/users/{user_id}/application_credentials/{cred_id}", self.app_cred_get)
        router.add("DELETE", "/v3/users/{user_id}/application_credentials/{cred_id}", self.app_cred_delete)

    def _app_cred(self, req: Request, c: dict[str, Any]) -> dict[str, Any]:
        return {**c, "links": self.link(req, f"users/{c['user_id']}/application_credentials/{c['id']}")}

    def app_cred_create(self, req: Request, user_id: str) -> Any:
        ctx = self.authorize(req, "create_application_credential", {"user_id": user_id})
        data = self.body(req, entity("application_credential", APP_CRED, ["name"]))["application_credential"]
        if ctx.token_info and ctx.token_info.get("app_cred_id") and not data.get("unrestricted"):
            raise exception.Forbidden("A restricted application credential cannot create application credentials.")
        if data.get("expires_at") is not None:  # "" is refused by the schema (minLength)
            try:
                data["expires_at"] = parse_isotime(data["expires_at"])
            except (ValueError, OverflowError):  # OverflowError: year 1 moved to UTC
                raise exception.ValidationError(field="application_credential.expires_at",
                                                reason=f"'{data['expires_at']}' is not an ISO 8601 time") from None
            if data["expires_at"] <= datetime.datetime.now(datetime.UTC).replace(tzinfo=None):
                raise exception.ValidationError(field="application_credential.expires_at", reason="is in the past")
        cred = self.svc.create_application_credential(user_id, ctx.project_id, data)
        return 201, {"application_credential": self._app_cred(req, cred)}

    def app_cred_list(self, req: Request, user_id: str) -> Any:
        self.authorize(req, "list_application_credentials", {"user_id": user_id})
        items = self.svc.list_application_credentials(user_id, req.GET.get("name"))
        return self.collection(req, "application_credentials", [self._app_cred(req, c) for c in items], "")

    def app_cred_get(self, req: Request, user_id: str, cred_id: str) -> Any:
        self.authorize(req, "get_application_credential", {"user_id": user_id})
        return {"application_credential": self._app_cred(req, self.svc.get_application_credential(user_id, cred_id))}

    def app_cred_delete(self, req: Request, user_id: str, cred_id: str) -> Any:
        self.authorize(req, "delete_application_credential", {"user_id": user_id})
        self.svc.delete_application_credential(user_id, cred_id)
