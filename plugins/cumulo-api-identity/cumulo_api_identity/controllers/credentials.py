"""Credentials: ``/v3/credentials`` (opaque blobs a user stores; ``ec2`` ones back EC2 signatures)."""

from __future__ import annotations

from typing import Any

from cumulo import exception, policy
from cumulo.wsgi import Router
from cumulo.wsgi.request import Request, parse_json
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.schemas import CREDENTIAL, entity


class Credentials(Controller):
    """Credential CRUD, checked against the credential's owner; a credential's user and type never change."""

    def add_routes(self, router: Router) -> None:
        """``/v3/credentials`` and ``/v3/credentials/{credential_id}``."""
        self.add_crud(router, "/v3/credentials", "credential_id", "credential")

    def _credential(self, req: Request, c: dict[str, Any]) -> dict[str, Any]:
        return {**c, "links": self.link(req, f"credentials/{c['id']}")}

    def list_credentials(self, req: Request) -> Any:
        ctx = self.context(req)
        filters = {"user_id": req.GET.get("user_id"), "type": req.GET.get("type")}
        if not policy.check(ctx, "identity:list_credentials_all", {}):
            if filters["user_id"] not in (None, ctx.user_id):
                raise exception.Forbidden(action="identity:list_credentials")
            filters["user_id"] = ctx.user_id
        items = self.svc.list_credentials(filters)
        return self.collection(req, "credentials", [self._credential(req, c) for c in items], "credentials")

    @staticmethod
    def _check_blob(kind: str | None, blob: Any) -> None:
        """An ec2 blob is JSON the service reads: the kernel's strict parser vets it first
        (deep nesting, lone surrogates, out-of-range numbers are a 400, not a failure later)."""
        if kind == "ec2" and isinstance(blob, str):
            try:
                parse_json(blob)
            except exception.Invalid as err:
                raise exception.ValidationError(field="credential.blob", reason=err.message) from None

    def create_credential(self, req: Request) -> Any:
        data = self.body(req, entity("credential", CREDENTIAL, ["type", "blob", "user_id"]))["credential"]
        self._check_blob(data["type"], data["blob"])
        self.authorize(req, "create_credential", {"user_id": data["user_id"]})
        return 201, {"credential": self._credential(req, self.svc.create_credential(data))}

    def get_credential(self, req: Request, credential_id: str) -> Any:
        c = self.svc.get_credential(credential_id)
        self.authorize(req, "get_credential", {"user_id": c["user_id"]})
        return {"credential": self._credential(req, c)}

    def update_credential(self, req: Request, credential_id: str) -> Any:
        c = self.svc.get_credential(credential_id)
        self.authorize(req, "update_credential", {"user_id": c["user_id"]})
        changes = self.body(req, entity("credential", CREDENTIAL))["credential"]
        if changes.get("user_id") not in (None, c["user_id"]) or changes.get("type") not in (None, c["type"]):
            raise exception.Invalid(reason="The user_id and type of a credential cannot be changed.")
        if "blob" in changes:
            self._check_blob(c["type"], changes["blob"])
        return {"credential": self._credential(req, self.svc.update_credential(credential_id, changes))}

    def delete_credential(self, req: Request, credential_id: str) -> Any:
        c = self.svc.get_credential(credential_id)
        self.authorize(req, "delete_credential", {"user_id": c["user_id"]})
        self.svc.delete_credential(credential_id)
