"""Role grants: the roles of a user or group on a project, a domain or the system, and the
``OS-INHERIT`` grants a domain or project passes down to the projects under it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.views import role_doc


class Grants(Controller):
    """``PUT/HEAD/GET/DELETE .../{actor}s/{actor_id}/roles/{role_id}`` and the listing of those roles,
    for each target (project, domain, system), actor (user, group) and inheritance."""

    def add_routes(self, router: Router) -> None:
        """Ten route families: every target and actor, inherited or not (the system grants none inherited)."""
        for target in ("project", "domain", "system"):
            for actor in ("user", "group"):
                for inherited in (False, True):
                    if inherited and target == "system":
                        continue
                    handlers = self._grant_handlers(target, actor, inherited)
                    # Keystone's system target is the literal ``/v3/system`` (only "all" exists).
                    tpath = "system" if target == "system" else f"{target}s/{{{target}_id}}"
                    base = f"/v3/{tpath}/{actor}s/{{{actor}_id}}/roles"
                    if inherited:
                        base = f"/v3/OS-INHERIT/{tpath}/{actor}s/{{{actor}_id}}/roles"
                    one = base + "/{role_id}" + ("/inherited_to_projects" if inherited else "")
                    listing = base + ("/inherited_to_projects" if inherited else "")
                    router.add("PUT", one, handlers["put"])
                    router.add("HEAD", one, handlers["head"])
                    router.add("GET", one, handlers["head"])
                    router.add("DELETE", one, handlers["delete"])
                    router.add("GET", listing, handlers["list"])

    def _grant_handlers(self, target: str, actor: str, inherited: bool) -> dict[str, Callable[..., Any]]:
        """The put/head/delete/list handlers of one route family; they turn its URL parameters into
        the service's grant arguments."""
        def kwargs(params: dict[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = {"inherited": inherited}
            out[f"{actor}_id"] = params[f"{actor}_id"]
            if target == "system":
                out["system"] = "all"
            else:
                out[f"{target}_id"] = params[f"{target}_id"]
            return out

        # Keystone names the system grants' rules apart (identity:create_system_grant_for_user...).
        def rule(verb: str) -> str:
            return f"{verb}_system_grant_for_{actor}" if target == "system" else f"{verb}_grant"

        def put(req: Request, role_id: str, **params: Any) -> Any:
            self.authorize(req, rule("create"))
            self.svc.create_grant(role_id, **kwargs(params))

        def head(req: Request, role_id: str, **params: Any) -> Any:
            self.authorize(req, rule("check"))
            self.svc.check_grant(role_id, **kwargs(params))

        def delete(req: Request, role_id: str, **params: Any) -> Any:
            self.authorize(req, rule("revoke"))
            self.svc.delete_grant(role_id, **kwargs(params))

        def listing(req: Request, **params: Any) -> Any:
            if target == "system":
                self.authorize(req, f"list_system_grants_for_{actor}")
            else:
                self.authorize(req, "list_grants")
            roles = self.svc.list_grants(**kwargs(params))
            base = self.base(req)
            return self.collection(req, "roles", [role_doc(base, r) for r in roles], "")

        return {"put": put, "head": head, "delete": delete, "list": listing}
