"""Key pairs: ``/os-keypairs`` and ``/os-keypairs/{name}`` (another user's, for administrators, from 2.10)."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Request
from cumulo_api_compute import policies, schemas, views
from cumulo_api_compute.controllers.base import Controller, Route
from cumulo_api_compute.views import v


class KeypairsController(Controller):
    """A user's SSH key pairs (generated or imported)."""

    def routes(self) -> list[Route]:
        return [("GET", "/os-keypairs", self.index),
                ("POST", "/os-keypairs", self.create),
                ("GET", "/os-keypairs/{name}", self.show),
                ("DELETE", "/os-keypairs/{name}", self.delete)]

    def _user(self, req: Request) -> str | None:
        """``?user_id=``: another user's key pairs need 2.10 and the admin policy."""
        user = req.GET.get("user_id")
        if user and user != req.context.user_id:
            if self.ver(req) < v("2.10"):
                raise exception.ValidationError(field="user_id", reason="needs microversion 2.10")
            self.authorize(req, policies.ADMIN)
        return user

    def index(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        ver = self.ver(req)
        limit = req.int_param("limit", None, minimum=0) if ver >= v("2.35") else None
        kps = self.compute.list_keypairs(req.context, self._user(req), limit=limit,
                                         marker=req.GET.get("marker") if ver >= v("2.35") else None)
        out: dict[str, Any] = {"keypairs": [{"keypair": views.keypair(k, ver)} for k in kps]}
        if limit is not None and len(kps) == limit and kps:
            out["keypairs_links"] = [{"rel": "next",
                                      "href": f"{self.base(req)}/os-keypairs?limit={limit}&marker={kps[-1]['name']}"}]
        return out

    def create(self, req: Request) -> Any:
        self.authorize(req, policies.OWNER)
        ver = self.ver(req)
        k = self.body(req, schemas.keypair_create(ver))["keypair"]
        user_id = k.get("user_id")
        if user_id and user_id != req.context.user_id:
            self.authorize(req, policies.ADMIN)
        if ver >= v("2.92") and not k.get("public_key"):
            raise exception.ValidationError(field="keypair.public_key", reason="is required")
        kp = self.compute.create_keypair(req.context, k["name"], k.get("public_key"), k.get("type", "ssh"),
                                         user_id=user_id)
        body = {"keypair": {**views.keypair(kp, ver), "user_id": kp["user_id"]}}
        return (201 if ver >= v("2.2") else 200), body

    def show(self, req: Request, name: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        kp = self.compute.get_keypair(req.context, name, self._user(req))
        return {"keypair": views.keypair(kp, self.ver(req), full=True)}

    def delete(self, req: Request, name: str) -> Any:
        self.authorize(req, policies.OWNER)
        self.compute.delete_keypair(req.context, name, self._user(req))
        return (204 if self.ver(req) >= v("2.2") else 202), None
