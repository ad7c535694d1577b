"""Routes and handlers of the Identity v3 API.

Handlers parse and validate, check policy, call the identity service
(``hub.identity``) and render Keystone's JSON shapes. The app authenticates
requests itself (``X-Auth-Token``) because token issue needs no token.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import webob

from cumulo import exception, policy
from cumulo.context import RequestContext
from cumulo.utils.timeutils import parse_isotime
from cumulo.wsgi import Router, validate
from cumulo.wsgi.request import CONTEXT_KEY, REQUEST_ID_KEY, Request, parse_json
from cumulo_api_identity.views import group_view, user_view

API_VERSION = "v3.14"
UPDATED = "2020-04-07T00:00:00Z"
MEDIA_TYPES = [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]

# -- schemas ------------------------------------------------------------------
_STR = {"type": "string", "maxLength": 255}
_NAME = {"type": "string", "minLength": 1, "maxLength": 255}
_ID = {"type": "string", "minLength": 1, "maxLength": 64}
_OPT_ID = {"type": ["string", "null"], "maxLength": 64}
_DESC = {"type": ["string", "null"], "maxLength": 65535}
_BOOL = {"type": "boolean"}
_TAGS = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^,/]*$"},
         "maxItems": 80}
_OPTIONS = {"type": "object"}


def _entity(key: str, props: dict[str, Any], required: list[str] | None = None,
            additional: bool = True) -> dict[str, Any]:
    inner: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": additional}
    if required:
        inner["required"] = required
    return {"type": "object", "properties": {key: inner}, "required": [key]}


DOMAIN = {"name": _NAME, "description": _DESC, "enabled": _BOOL, "tags": _TAGS, "options": _OPTIONS,
          "explicit_domain_id": _ID}
PROJECT = {"name": _NAME, "description": _DESC, "enabled": _BOOL, "domain_id": _OPT_ID, "parent_id": _OPT_ID,
           "is_domain": {"type": "boolean", "enum": [False]}, "tags": _TAGS, "options": _OPTIONS}
USER = {"name": _NAME, "description": _DESC, "enabled": _BOOL, "domain_id": _OPT_ID, "email": {"type": ["string", "null"], "maxLength": 255},
        "default_project_id": _OPT_ID, "password": {"type": ["string", "null"], "maxLength": 4096},
        "options": _OPTIONS, "federated": {"type": "array"}}
GROUP = {"name": _NAME, "description": _DESC, "domain_id": _OPT_ID}
ROLE = {"name": _NAME, "description": _DESC, "domain_id": _OPT_ID, "options": _OPTIONS}
SERVICE = {"type": _NAME, "name": {"type": ["string", "null"], "maxLength": 255}, "description": _DESC,
           "enabled": _BOOL}
ENDPOINT = {"service_id": _ID, "interface": {"type": "string", "enum": ["public", "internal", "admin"]},
            "url": {"type": "string", "minLength": 1, "maxLength": 2048}, "region_id": _OPT_ID,
            "region": _OPT_ID, "enabled": _BOOL}
REGION = {"id": {"type": "string", "minLength": 1, "maxLength": 255}, "description": _DESC,
          "parent_region_id": {"type": ["string", "null"], "maxLength": 255}}
CREDENTIAL = {"type": _NAME, "blob": {"type": "string", "minLength": 1, "maxLength": 65535},
              "user_id": _ID, "project_id": _OPT_ID}
APP_CRED = {"name": _NAME, "description": _DESC, "secret": {"type": ["string", "null"], "minLength": 1, "maxLength": 4096},
            "expires_at": {"type": ["string", "null"], "minLength": 1, "maxLength": 64}, "unrestricted": _BOOL,
            "roles": {"type": "array", "items": {"type": "object", "properties": {"id": _ID, "name": _NAME}}},
            "access_rules": {"type": "array", "maxItems": 0}}
PASSWORD_CHANGE = _entity("user", {"password": {"type": "string", "minLength": 1, "maxLength": 4096},
                                   "original_password": {"type": "string", "maxLength": 4096}},
                          ["password", "original_password"])
EC2_CREATE = {"type": "object", "properties": {"tenant_id": _ID, "project_id": _ID}}
AUTH = {"type": "object", "properties": {"auth": {"type": "object", "required": ["identity"]}}, "required": ["auth"]}


class IdentityAPI:
    def __init__(self, svc: Any) -> None:
        self.svc = svc

    # -- plumbing ----------------------------------------------------------
    def context(self, req: Request) -> RequestContext:
        ctx = req.environ.get(CONTEXT_KEY)
        if ctx is not None and ctx.user_id:
            return ctx
        token = req.headers.get("X-Auth-Token")
        if not token:
            raise exception.NotAuthenticated()
        ctx = self.svc.validate_token(token)
        ctx.request_id = req.environ.get(REQUEST_ID_KEY, ctx.request_id)
        req.environ[CONTEXT_KEY] = ctx
        return ctx

    def authorize(self, req: Request, rule: str, target: dict[str, Any] | None = None) -> RequestContext:
        ctx = self.context(req)
        flat: dict[str, Any] = {}
        for k, v in (target or {}).items():
            flat[f"target.{k}"] = v
        policy.authorize(ctx, f"identity:{rule}", flat)
        return ctx

    @staticmethod
    def base(req: Request) -> str:
        return req.application_url.rstrip("/") + "/v3"

    def link(self, req: Request, path: str) -> dict[str, Any]:
        return {"self": f"{self.base(req)}/{path}"}

    def collection(self, req: Request, key: str, items: list[dict[str, Any]], path: str) -> dict[str, Any]:
        """Keystone's list shape; past ``[identity] list_limit`` (or ``[api] max_limit``) the list
        is cut and ``truncated`` is true, as Keystone does (it has no paging)."""
        url = req.path_url if not req.query_string else f"{req.path_url}?{req.query_string}"
        body: dict[str, Any] = {key: items, "links": {"self": url, "previous": None, "next": None}}
        limit = self.svc.conf.identity.list_limit or self.svc.conf.api.max_limit
        if len(items) > limit:
            body[key] = items[:limit]
            body["truncated"] = True
        return body

    @staticmethod
    def body(req: Request, schema: dict[str, Any]) -> Any:
        return validate(req.json_body_or_fault(), schema)

    @staticmethod
    def bool_filter(req: Request, name: str) -> bool | None:
        if name not in req.GET:
            return None
        raw = req.GET[name].strip().lower()
        if raw in ("", "1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        raise exception.ValidationError(field=name, reason=f"'{req.GET[name]}' is not a boolean")

    @staticmethod
    def flag(req: Request, name: str) -> bool:
        """Keystone's query flags: present (and not 0/false) means true."""
        if name not in req.GET:
            return False
        return req.GET[name].strip().lower() not in ("0", "false", "no", "off")

    # -- discovery -----------------------------------------------------------
    def version_doc(self, req: Request) -> dict[str, Any]:
        return {"id": API_VERSION, "status": "stable", "updated": UPDATED, "media-types": MEDIA_TYPES,
                "links": [{"rel": "self", "href": self.base(req) + "/"}]}

    def versions(self, req: Request) -> Any:
        return 300, {"versions": {"values": [self.version_doc(req)]}}

    def version(self, req: Request) -> Any:
        return {"version": self.version_doc(req)}

    # -- tokens --------------------------------------------------------------
    def issue_token(self, req: Request) -> Any:
        body = self.body(req, AUTH)
        token, data = self.svc.authenticate(body["auth"])
        doc = self.svc.token_body(data, catalog=not self.flag(req, "nocatalog"))
        return 201, doc, {"X-Subject-Token": token}

    def _subject(self, req: Request, rule: str) -> tuple[str, dict[str, Any]]:
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
        projects = [self._project(req, p) for p in self.svc.list_user_projects(ctx.user_id)]
        return self.collection(req, "projects", projects, "auth/projects")

    def auth_domains(self, req: Request) -> Any:
        ctx = self.context(req)
        domains = [self._domain(req, d) for d in self.svc.list_user_domains(ctx.user_id)]
        return self.collection(req, "domains", domains, "auth/domains")

    def auth_system(self, req: Request) -> Any:
        ctx = self.context(req)
        system = [{"all": True}] if self.svc.effective_role_ids(ctx.user_id, system="all") else []
        return {"system": system, "links": {"self": self.base(req) + "/auth/system", "previous": None, "next": None}}

    # -- domains -------------------------------------------------------------
    def _domain(self, req: Request, d: dict[str, Any]) -> dict[str, Any]:
        return {**d, "links": self.link(req, f"domains/{d['id']}")}

    def list_domains(self, req: Request) -> Any:
        self.authorize(req, "list_domains")
        items = self.svc.list_domains({"name": req.GET.get("name"), "enabled": self.bool_filter(req, "enabled")})
        return self.collection(req, "domains", [self._domain(req, d) for d in items], "domains")

    def create_domain(self, req: Request) -> Any:
        self.authorize(req, "create_domain")
        data = self.body(req, _entity("domain", DOMAIN, ["name"]))["domain"]
        if data.get("explicit_domain_id"):
            data["id"] = data.pop("explicit_domain_id")
        return 201, {"domain": self._domain(req, self.svc.create_domain(data))}

    def get_domain(self, req: Request, domain_id: str) -> Any:
        d = self.svc.get_domain(domain_id)
        self.authorize(req, "get_domain", {"domain.id": d["id"]})
        return {"domain": self._domain(req, d)}

    def update_domain(self, req: Request, domain_id: str) -> Any:
        self.authorize(req, "update_domain")
        changes = self.body(req, _entity("domain", DOMAIN))["domain"]
        if domain_id == self.svc.conf.identity.default_domain_id and changes.get("enabled") is False:
            raise exception.Forbidden("The default domain cannot be disabled.")
        return {"domain": self._domain(req, self.svc.update_domain(domain_id, changes))}

    def delete_domain(self, req: Request, domain_id: str) -> Any:
        self.authorize(req, "delete_domain")
        self.svc.delete_domain(domain_id)

    # -- projects ------------------------------------------------------------
    def _project(self, req: Request, p: dict[str, Any]) -> dict[str, Any]:
        return {**p, "links": self.link(req, f"projects/{p['id']}")}

    def list_projects(self, req: Request) -> Any:
        ctx = self.context(req)
        own_only = not policy.check(ctx, "identity:list_projects", {})
        filters: dict[str, Any] = {"name": req.GET.get("name"), "domain_id": req.GET.get("domain_id"),
                                   "parent_id": req.GET.get("parent_id"), "enabled": self.bool_filter(req, "enabled")}
        if req.GET.get("tags"):
            filters["tags"] = req.GET["tags"].split(",")
        if req.GET.get("tags-any"):
            filters["tags-any"] = req.GET["tags-any"].split(",")
        if self.bool_filter(req, "is_domain"):
            return self.collection(req, "projects", [], "projects")
        if own_only:  # a non-admin sees the projects it has a role on, nothing else
            filters["ids"] = [p["id"] for p in self.svc.list_user_projects(ctx.user_id)]
        items = self.svc.list_projects(filters)
        return self.collection(req, "projects", [self._project(req, p) for p in items], "projects")

    def create_project(self, req: Request) -> Any:
        ctx = self.authorize(req, "create_project")
        data = self.body(req, _entity("project", PROJECT, ["name"]))["project"]
        if not data.get("domain_id") and not data.get("parent_id"):
            data["domain_id"] = ctx.project_domain_id or ctx.domain_id or self.svc.conf.identity.default_domain_id
        return 201, {"project": self._project(req, self.svc.create_project(data))}

    def get_project(self, req: Request, project_id: str) -> Any:
        self.context(req)
        p = self.svc.get_project(project_id)
        self.authorize(req, "get_project", {"project.id": p["id"]})
        return {"project": self._project(req, p)}

    def update_project(self, req: Request, project_id: str) -> Any:
        self.authorize(req, "update_project")
        changes = self.body(req, _entity("project", PROJECT))["project"]
        changes.pop("is_domain", None)
        if "parent_id" in changes and changes["parent_id"] != self.svc.get_project(project_id)["parent_id"]:
            raise exception.Forbidden("Updating the parent of a project is not allowed.")
        changes.pop("parent_id", None)
        changes.pop("options", None)
        return {"project": self._project(req, self.svc.update_project(project_id, changes))}

    def delete_project(self, req: Request, project_id: str) -> Any:
        self.authorize(req, "delete_project")
        self.svc.delete_project(project_id)

    def list_user_projects(self, req: Request, user_id: str) -> Any:
        self.authorize(req, "list_user_projects", {"user_id": user_id})
        self.svc.get_user(user_id)
        items = self.svc.list_user_projects(user_id)
        return self.collection(req, "projects", [self._project(req, p) for p in items], f"users/{user_id}/projects")

    # -- users ---------------------------------------------------------------
    def _user(self, req: Request, u: dict[str, Any]) -> dict[str, Any]:
        return {**user_view(u), "links": self.link(req, f"users/{u['id']}")}

    def list_users(self, req: Request) -> Any:
        ctx = self.context(req)
        items = self.svc.list_users({"name": req.GET.get("name"), "domain_id": req.GET.get("domain_id"),
                                     "enabled": self.bool_filter(req, "enabled")})
        if not policy.check(ctx, "identity:list_users", {}):  # a non-admin sees only itself
            items = [u for u in items if u["id"] == ctx.user_id]
        return self.collection(req, "users", [self._user(req, u) for u in items], "users")

    @staticmethod
    def _user_changes(data: dict[str, Any]) -> dict[str, Any]:
        known = {"name", "description", "enabled", "domain_id", "email", "default_project_id", "password"}
        out = {k: v for k, v in data.items() if k in known}
        extra = {k: v for k, v in data.items() if k not in known | {"options", "federated", "id", "links"}}
        if extra:
            out["extra"] = extra
        return out

    def create_user(self, req: Request) -> Any:
        ctx = self.authorize(req, "create_user")
        data = self._user_changes(self.body(req, _entity("user", USER, ["name"]))["user"])
        data.setdefault("domain_id", ctx.project_domain_id or ctx.domain_id or self.svc.conf.identity.default_domain_id)
        if data.get("domain_id") is None:
            data["domain_id"] = self.svc.conf.identity.default_domain_id
        return 201, {"user": self._user(req, self.svc.create_user(data))}

    def get_user(self, req: Request, user_id: str) -> Any:
        self.authorize(req, "get_user", {"user_id": user_id})
        return {"user": self._user(req, self.svc.get_user(user_id))}

    def update_user(self, req: Request, user_id: str) -> Any:
        self.authorize(req, "update_user", {"user_id": user_id})
        changes = self._user_changes(self.body(req, _entity("user", USER))["user"])
        return {"user": self._user(req, self.svc.update_user(user_id, changes))}

    def delete_user(self, req: Request, user_id: str) -> Any:
        self.authorize(req, "delete_user", {"user_id": user_id})
        self.svc.delete_user(user_id)

    def change_password(self, req: Request, user_id: str) -> Any:
        data = self.body(req, PASSWORD_CHANGE)["user"]
        token = req.headers.get("X-Auth-Token")
        if token:
            ctx = self.context(req)
            if ctx.user_id != user_id:
                raise exception.Forbidden("Users may only change their own password here.")
        self.svc.change_password(user_id, data["original_password"], data["password"])

    def list_user_groups(self, req: Request, user_id: str) -> Any:
        self.authorize(req, "list_groups_for_user", {"user_id": user_id})
        items = self.svc.list_groups_for_user(user_id)
        return self.collection(req, "groups", [self._group(req, g) for g in items], f"users/{user_id}/groups")

    # -- groups --------------------------------------------------------------
    def _group(self, req: Request, g: dict[str, Any]) -> dict[str, Any]:
        return {**group_view(g), "links": self.link(req, f"groups/{g['id']}")}

    def list_groups(self, req: Request) -> Any:
        self.authorize(req, "list_groups")
        items = self.svc.list_groups({"name": req.GET.get("name"), "domain_id": req.GET.get("domain_id")})
        return self.collection(req, "groups", [self._group(req, g) for g in items], "groups")

    def create_group(self, req: Request) -> Any:
        ctx = self.authorize(req, "create_group")
        data = self.body(req, _entity("group", GROUP, ["name"]))["group"]
        data = {k: v for k, v in data.items() if k in GROUP}
        if not data.get("domain_id"):
            data["domain_id"] = ctx.project_domain_id or ctx.domain_id or self.svc.conf.identity.default_domain_id
        return 201, {"group": self._group(req, self.svc.create_group(data))}

    def get_group(self, req: Request, group_id: str) -> Any:
        self.authorize(req, "get_group")
        return {"group": self._group(req, self.svc.get_group(group_id))}

    def update_group(self, req: Request, group_id: str) -> Any:
        self.authorize(req, "update_group")
        changes = self.body(req, _entity("group", GROUP))["group"]
        changes = {k: v for k, v in changes.items() if k in ("name", "description")}
        return {"group": self._group(req, self.svc.update_group(group_id, changes))}

    def delete_group(self, req: Request, group_id: str) -> Any:
        self.authorize(req, "delete_group")
        self.svc.delete_group(group_id)

    def list_group_users(self, req: Request, group_id: str) -> Any:
        self.authorize(req, "list_users_in_group")
        items = self.svc.list_users_in_group(group_id)
        return self.collection(req, "users", [self._user(req, u) for u in items], f"groups/{group_id}/users")

    def add_group_user(self, req: Request, group_id: str, user_id: str) -> Any:
        self.authorize(req, "add_user_to_group")
        self.svc.add_user_to_group(user_id, group_id)

    def check_group_user(self, req: Request, group_id: str, user_id: str) -> Any:
        self.authorize(req, "check_user_in_group")
        self.svc.check_user_in_group(user_id, group_id)

    def remove_group_user(self, req: Request, group_id: str, user_id: str) -> Any:
        self.authorize(req, "remove_user_from_group")
        self.svc.remove_user_from_group(user_id, group_id)

    # -- roles ---------------------------------------------------------------
    def _role(self, req: Request, r: dict[str, Any]) -> dict[str, Any]:
        return {**r, "links": self.link(req, f"roles/{r['id']}")}

    def list_roles(self, req: Request) -> Any:
        self.authorize(req, "list_roles")
        items = self.svc.list_roles({"name": req.GET.get("name"), "domain_id": req.GET.get("domain_id")})
        return self.collection(req, "roles", [self._role(req, r) for r in items], "roles")

    def create_role(self, req: Request) -> Any:
        self.authorize(req, "create_role")
        data = self.body(req, _entity("role", ROLE, ["name"]))["role"]
        if data.get("domain_id"):
            self.svc.get_domain(data["domain_id"])
        return 201, {"role": self._role(req, self.svc.create_role(data))}

    def get_role(self, req: Request, role_id: str) -> Any:
        self.authorize(req, "get_role")
        return {"role": self._role(req, self.svc.get_role(role_id))}

    def update_role(self, req: Request, role_id: str) -> Any:
        self.authorize(req, "update_role")
        changes = self.body(req, _entity("role", ROLE))["role"]
        if "domain_id" in changes and changes["domain_id"] != self.svc.get_role(role_id)["domain_id"]:
            raise exception.Invalid(reason="Cannot change the domain_id of a role.")
        return {"role": self._role(req, self.svc.update_role(role_id, changes))}

    def delete_role(self, req: Request, role_id: str) -> Any:
        self.authorize(req, "delete_role")
        self.svc.delete_role(role_id)

    def _role_ref(self, req: Request, r: dict[str, Any]) -> dict[str, Any]:
        return {"id": r["id"], "name": r["name"], "links": self.link(req, f"roles/{r['id']}")}

    def put_implied(self, req: Request, prior_id: str, implied_id: str) -> Any:
        self.authorize(req, "create_implied_role")
        rule = self.svc.create_implied_role(prior_id, implied_id)
        return 201, {"role_inference": {"prior_role": self._role_ref(req, rule["prior_role"]),
                                        "implies": self._role_ref(req, rule["implies"])},
                     "links": self.link(req, f"roles/{prior_id}/implies/{implied_id}")}

    def get_implied(self, req: Request, prior_id: str, implied_id: str) -> Any:
        self.authorize(req, "get_implied_role")
        rule = self.svc.get_implied_role(prior_id, implied_id)
        return {"role_inference": {"prior_role": self._role_ref(req, rule["prior_role"]),
                                   "implies": self._role_ref(req, rule["implies"])},
                "links": self.link(req, f"roles/{prior_id}/implies/{implied_id}")}

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

    # -- grants ----------------------------------------------------------------
    def _grant_handlers(self, target: str, actor: str, inherited: bool) -> dict[str, Callable[..., Any]]:
        def kwargs(params: dict[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = {"inherited": inherited}
            out[f"{actor}_id"] = params[f"{actor}_id"]
            if target == "system":
                out["system"] = "all"
            else:
                out[f"{target}_id"] = params[f"{target}_id"]
            return out

        def put(req: Request, role_id: str, **params: Any) -> Any:
            self.authorize(req, "create_grant")
            if target == "system" and params.get("system") != "all":
                raise exception.NotFound(resource="system", id=params.get("system"))
            self.svc.create_grant(role_id, **kwargs(params))

        def head(req: Request, role_id: str, **params: Any) -> Any:
            self.authorize(req, "check_grant")
            self.svc.check_grant(role_id, **kwargs(params))

        def delete(req: Request, role_id: str, **params: Any) -> Any:
            self.authorize(req, "revoke_grant")
            self.svc.delete_grant(role_id, **kwargs(params))

        def listing(req: Request, **params: Any) -> Any:
            self.authorize(req, "list_grants")
            roles = self.svc.list_grants(**kwargs(params))
            return self.collection(req, "roles", [self._role(req, r) for r in roles], "")

        return {"put": put, "head": head, "delete": delete, "list": listing}

    def list_role_assignments(self, req: Request) -> Any:
        ctx = self.context(req)
        filters = {"user_id": req.GET.get("user.id"), "group_id": req.GET.get("group.id"),
                   "project_id": req.GET.get("scope.project.id"), "domain_id": req.GET.get("scope.domain.id"),
                   "system": req.GET.get("scope.system"), "role_id": req.GET.get("role.id"),
                   "effective": self.flag(req, "effective"), "include_names": self.flag(req, "include_names"),
                   "include_subtree": self.flag(req, "include_subtree"),
                   "inherited_to": req.GET.get("scope.OS-INHERIT:inherited_to")}
        if filters["effective"] and filters["group_id"]:
            raise exception.Invalid(reason="effective cannot be combined with group.id.")
        if filters["project_id"] and filters["domain_id"]:
            raise exception.Invalid(reason="Give at most one of scope.project.id and scope.domain.id.")
        if not policy.check(ctx, "identity:list_role_assignments", {}):
            # A non-admin may list its own effective assignments on its own project.
            if not (filters["user_id"] == ctx.user_id and filters["project_id"] in (None, ctx.project_id)):
                raise exception.Forbidden(action="identity:list_role_assignments")
            filters["project_id"] = ctx.project_id
        items = []
        for a in self.svc.list_role_assignments(filters):
            raw = a.pop("_raw")
            a["links"] = {"assignment": self._assignment_link(req, raw)}
            if raw.get("via_group"):
                a["links"]["membership"] = f"{self.base(req)}/groups/{raw['via_group']}/users/{raw['actor_id']}"
            items.append(a)
        return self.collection(req, "role_assignments", items, "role_assignments")

    def _assignment_link(self, req: Request, raw: dict[str, Any]) -> str:
        src = raw.get("source") or raw
        kind = src["type"]
        actor = "users" if kind.startswith("User") else "groups"
        target = kind[4:] if kind.startswith("User") else kind[5:]
        if target == "System":
            path = f"system/{actor}/{src['actor_id']}/roles/{src['role_id']}"
        else:
            path = f"{target.lower()}s/{src['target_id']}/{actor}/{src['actor_id']}/roles/{src['role_id']}"
        if src.get("inherited"):
            path = f"OS-INHERIT/{path}/inherited_to_projects"
        return f"{self.base(req)}/{path}"

    # -- catalog ---------------------------------------------------------------
    def _service(self, req: Request, s: dict[str, Any]) -> dict[str, Any]:
        return {**s, "links": self.link(req, f"services/{s['id']}")}

    def list_services(self, req: Request) -> Any:
        self.authorize(req, "list_services")
        items = self.svc.list_services({"type": req.GET.get("type"), "name": req.GET.get("name")})
        return self.collection(req, "services", [self._service(req, s) for s in items], "services")

    def create_service(self, req: Request) -> Any:
        self.authorize(req, "create_service")
        data = self.body(req, _entity("service", SERVICE, ["type"]))["service"]
        return 201, {"service": self._service(req, self.svc.create_service(data))}

    def get_service(self, req: Request, service_id: str) -> Any:
        self.authorize(req, "get_service")
        return {"service": self._service(req, self.svc.get_service(service_id))}

    def update_service(self, req: Request, service_id: str) -> Any:
        self.authorize(req, "update_service")
        changes = self.body(req, _entity("service", SERVICE))["service"]
        return {"service": self._service(req, self.svc.update_service(service_id, changes))}

    def delete_service(self, req: Request, service_id: str) -> Any:
        self.authorize(req, "delete_service")
        self.svc.delete_service(service_id)

    def _endpoint(self, req: Request, e: dict[str, Any]) -> dict[str, Any]:
        return {**e, "links": self.link(req, f"endpoints/{e['id']}")}

    @staticmethod
    def _endpoint_data(data: dict[str, Any]) -> dict[str, Any]:
        if "region" in data and "region_id" not in data:
            data["region_id"] = data["region"]
        data.pop("region", None)
        return data

    def list_endpoints(self, req: Request) -> Any:
        self.authorize(req, "list_endpoints")
        items = self.svc.list_endpoints({"service_id": req.GET.get("service_id"),
                                         "interface": req.GET.get("interface"),
                                         "region_id": req.GET.get("region_id") or req.GET.get("region")})
        return self.collection(req, "endpoints", [self._endpoint(req, e) for e in items], "endpoints")

    def create_endpoint(self, req: Request) -> Any:
        self.authorize(req, "create_endpoint")
        data = self._endpoint_data(self.body(req, _entity("endpoint", ENDPOINT, ["service_id", "interface", "url"]))["endpoint"])
        return 201, {"endpoint": self._endpoint(req, self.svc.create_endpoint(data))}

    def get_endpoint(self, req: Request, endpoint_id: str) -> Any:
        self.authorize(req, "get_endpoint")
        return {"endpoint": self._endpoint(req, self.svc.get_endpoint(endpoint_id))}

    def update_endpoint(self, req: Request, endpoint_id: str) -> Any:
        self.authorize(req, "update_endpoint")
        changes = self._endpoint_data(self.body(req, _entity("endpoint", ENDPOINT))["endpoint"])
        return {"endpoint": self._endpoint(req, self.svc.update_endpoint(endpoint_id, changes))}

    def delete_endpoint(self, req: Request, endpoint_id: str) -> Any:
        self.authorize(req, "delete_endpoint")
        self.svc.delete_endpoint(endpoint_id)

    def _region(self, req: Request, r: dict[str, Any]) -> dict[str, Any]:
        return {**r, "links": self.link(req, f"regions/{r['id']}")}

    def list_regions(self, req: Request) -> Any:
        self.authorize(req, "list_regions")
        items = self.svc.list_regions({"parent_region_id": req.GET.get("parent_region_id")})
        return self.collection(req, "regions", [self._region(req, r) for r in items], "regions")

    def create_region(self, req: Request) -> Any:
        self.authorize(req, "create_region")
        data = self.body(req, _entity("region", REGION))["region"]
        return 201, {"region": self._region(req, self.svc.create_region(data))}

    def put_region(self, req: Request, region_id: str) -> Any:
        self.authorize(req, "create_region")
        data = self.body(req, _entity("region", REGION))["region"]
        if data.get("id") not in (None, region_id):
            raise exception.ValidationError(field="region.id", reason="does not match the URL")
        return 201, {"region": self._region(req, self.svc.create_region({**data, "id": region_id}))}

    def get_region(self, req: Request, region_id: str) -> Any:
        self.authorize(req, "get_region")
        return {"region": self._region(req, self.svc.get_region(region_id))}

    def update_region(self, req: Request, region_id: str) -> Any:
        self.authorize(req, "update_region")
        changes = self.body(req, _entity("region", REGION))["region"]
        if changes.get("id") not in (None, region_id):
            raise exception.ValidationError(field="region.id", reason="cannot be changed")
        return {"region": self._region(req, self.svc.update_region(region_id, changes))}

    def delete_region(self, req: Request, region_id: str) -> Any:
        self.authorize(req, "delete_region")
        self.svc.delete_region(region_id)

    # -- credentials -------------------------------------------------------------
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
        data = self.body(req, _entity("credential", CREDENTIAL, ["type", "blob", "user_id"]))["credential"]
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
        changes = self.body(req, _entity("credential", CREDENTIAL))["credential"]
        if changes.get("user_id") not in (None, c["user_id"]) or changes.get("type") not in (None, c["type"]):
            raise exception.Invalid(reason="The user_id and type of a credential cannot be changed.")
        if "blob" in changes:
            self._check_blob(c["type"], changes["blob"])
        return {"credential": self._credential(req, self.svc.update_credential(credential_id, changes))}

    def delete_credential(self, req: Request, credential_id: str) -> Any:
        c = self.svc.get_credential(credential_id)
        self.authorize(req, "delete_credential", {"user_id": c["user_id"]})
        self.svc.delete_credential(credential_id)

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

    # -- application credentials --------------------------------------------------
    def _app_cred(self, req: Request, c: dict[str, Any]) -> dict[str, Any]:
        return {**c, "links": self.link(req, f"users/{c['user_id']}/application_credentials/{c['id']}")}

    def app_cred_create(self, req: Request, user_id: str) -> Any:
        ctx = self.authorize(req, "create_application_credential", {"user_id": user_id})
        data = self.body(req, _entity("application_credential", APP_CRED, ["name"]))["application_credential"]
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


def _crud(router: Router, path: str, key: str, h: IdentityAPI, name: str, plural: str | None = None) -> None:
    plural = plural or name + "s"
    router.add("GET", path, getattr(h, f"list_{plural}"))
    router.add("POST", path, getattr(h, f"create_{name}"))
    router.add("GET", f"{path}/{{{key}}}", getattr(h, f"get_{name}"))
    router.add("PATCH", f"{path}/{{{key}}}", getattr(h, f"update_{name}"))
    router.add("DELETE", f"{path}/{{{key}}}", getattr(h, f"delete_{name}"))


def build_router(svc: Any) -> Router:
    h = IdentityAPI(svc)
    r = Router()
    r.add("GET", "/", h.versions)
    r.add("GET", "/v3", h.version)
    r.add("GET", "/v3/", h.version)
    r.add("POST", "/v3/auth/tokens", h.issue_token)
    r.add("GET", "/v3/auth/tokens", h.validate_token)
    r.add("HEAD", "/v3/auth/tokens", h.check_token)
    r.add("DELETE", "/v3/auth/tokens", h.revoke_token)
    r.add("GET", "/v3/auth/catalog", h.auth_catalog)
    r.add("GET", "/v3/auth/projects", h.auth_projects)
    r.add("GET", "/v3/auth/domains", h.auth_domains)
    r.add("GET", "/v3/auth/system", h.auth_system)
    r.add("GET", "/v3/OS-FEDERATION/projects", h.auth_projects)
    r.add("GET", "/v3/OS-FEDERATION/domains", h.auth_domains)
    _crud(r, "/v3/domains", "domain_id", h, "domain")
    _crud(r, "/v3/projects", "project_id", h, "project")
    _crud(r, "/v3/users", "user_id", h, "user")
    _crud(r, "/v3/groups", "group_id", h, "group")
    _crud(r, "/v3/roles", "role_id", h, "role")
    _crud(r, "/v3/services", "service_id", h, "service")
    _crud(r, "/v3/endpoints", "endpoint_id", h, "endpoint")
    _crud(r, "/v3/regions", "region_id", h, "region")
    r.add("PUT", "/v3/regions/{region_id}", h.put_region)
    _crud(r, "/v3/credentials", "credential_id", h, "credential")
    r.add("GET", "/v3/users/{user_id}/projects", h.list_user_projects)
    r.add("GET", "/v3/users/{user_id}/groups", h.list_user_groups)
    r.add("POST", "/v3/users/{user_id}/password", h.change_password)
    r.add("GET", "/v3/groups/{group_id}/users", h.list_group_users)
    r.add("PUT", "/v3/groups/{group_id}/users/{user_id}", h.add_group_user)
    r.add("HEAD", "/v3/groups/{group_id}/users/{user_id}", h.check_group_user)
    r.add("GET", "/v3/groups/{group_id}/users/{user_id}", h.check_group_user)
    r.add("DELETE", "/v3/groups/{group_id}/users/{user_id}", h.remove_group_user)
    r.add("GET", "/v3/roles/{prior_id}/implies", h.list_implied)
    r.add("PUT", "/v3/roles/{prior_id}/implies/{implied_id}", h.put_implied)
    r.add("GET", "/v3/roles/{prior_id}/implies/{implied_id}", h.get_implied)
    r.add("HEAD", "/v3/roles/{prior_id}/implies/{implied_id}", h.check_implied)
    r.add("DELETE", "/v3/roles/{prior_id}/implies/{implied_id}", h.delete_implied)
    r.add("GET", "/v3/role_inferences", h.role_inferences)
    r.add("GET", "/v3/role_assignments", h.list_role_assignments)
    for target in ("project", "domain", "system"):
        for actor in ("user", "group"):
            for inherited in (False, True):
                if inherited and target == "system":
                    continue
                handlers = h._grant_handlers(target, actor, inherited)
                tpath = "system/{system}" if target == "system" else f"{target}s/{{{target}_id}}"
                base = f"/v3/{tpath}/{actor}s/{{{actor}_id}}/roles"
                if inherited:
                    base = f"/v3/OS-INHERIT/{tpath}/{actor}s/{{{actor}_id}}/roles"
                one = base + "/{role_id}" + ("/inherited_to_projects" if inherited else "")
                listing = base + ("/inherited_to_projects" if inherited else "")
                r.add("PUT", one, handlers["put"])
                r.add("HEAD", one, handlers["head"])
                r.add("GET", one, handlers["head"])
                r.add("DELETE", one, handlers["delete"])
                r.add("GET", listing, handlers["list"])
    r.add("GET", "/v3/users/{user_id}/credentials/OS-EC2", h.ec2_list)
    r.add("POST", "/v3/users/{user_id}/credentials/OS-EC2", h.ec2_create)
    r.add("GET", "/v3/users/{user_id}/credentials/OS-EC2/{access}", h.ec2_get)
    r.add("DELETE", "/v3/users/{user_id}/credentials/OS-EC2/{access}", h.ec2_delete)
    r.add("GET", "/v3/users/{user_id}/application_credentials", h.app_cred_list)
    r.add("POST", "/v3/users/{user_id}/application_credentials", h.app_cred_create)
    r.add("GET", "/v3/users/{user_id}/application_credentials/{cred_id}", h.app_cred_get)
    r.add("DELETE", "/v3/users/{user_id}/application_credentials/{cred_id}", h.app_cred_delete)
    return r

