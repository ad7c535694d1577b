"""A user's EC2 credentials: ``/v3/users/{user_id}/credentials/OS-EC2``."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.schemas import EC2_CREATE


class EC2Credentials(Controller):
    """EC2 access/secret pairs, each for one project (a non-admin: only its token's project)."""

    def add_routes(self, router: Router) -> None:
        """``.../credentials/OS-EC2`` (list, create) and ``.../OS-EC2/{access}`` (get, delete)."""
        router.add("GET", "/v3/users/{user_id}/credentials/OS-EC2", self.ec2_list)
        router.add("POST", "/v3/users/{user_id}/credentials/OS-EC2", self.ec2_create)
        router.add("GET", "/v3/users/{user_id}/credentials/OS-EC2/{access}", self.ec2_get)
        router.add("DELETE", "/v3/users/{user_id}/credentials/OS-EC2/{access}", self.ec2_delete)

    def _ec2(self, req: Request, c: dict[str, Any]) -> dict[str, Any]:
        return {**c, "links": self.link(req, f"users/{c['user_id']}/credentials/OS-EC2/{c['access']}")}

    def ec2_create(self, req: Request, user_id: str) -> Any:
        ctx = self.authorize(req, "ec2_create_credential", {"user_id": user_id})
        data = self.body(req, EC2_CREATE)
        project_id = data.get("tenant_id") or data.get("project_id") or ctx.project_id
        if not project_id:
            raise exception.ValidationError(field="tenant_id", reason="is required")
        if not ctx.is_admin and project_id != ctx.project_id:
            raise exception.Forbidden("EC2 credentials may only be created for the token's project.")
        return 201, {"credential": self._ec2(req, self.svc.create_ec2_credential(user_id, project_id))}

    def ec2_list(self, req: Request, user_id: str) -> Any:
        self.authorize(req, "ec2_list_credentials", {"user_id": user_id})
        items = self.svc.list_ec2_credentials(user_id)
        return self.collection(req, "credentials", [self._ec2(req, c) for c in items], "")

    def ec2_get(self, req: Request, user_id: str, access: str) -> Any:
        self.authorize(req, "ec2_get_credential", {"user_id": user_id})
        return {"credential": self._ec2(req, self.svc.get_ec2_credential(user_id, access))}

    def ec2_delete(self, req: Request, user_id: str, access: str) -> Any:
        self.authorize(req, "ec2_delete_credential", {"user_id": user_id})
        self.svc.delete_ec2_credential(user_id, access)
