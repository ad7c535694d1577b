"""Authentication, token issue and validation, revocation events.

A token carries only ids and times (the provider encrypts them); on every
validation the service re-reads the user, the scope and the roles (cached for
``[identity] cache_time`` seconds, cleared by any change made in this
process), so disabling a user, deleting a project or removing a role ends the
tokens that depend on it. Explicit revocations (``DELETE /v3/auth/tokens``,
password change, user disable/delete) are revocation events in the database.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import bcrypt
import sqlalchemy as sa

from cumulo import db, exception
from cumulo.context import RequestContext
from cumulo.interfaces import auth as iauth
from cumulo.utils.timeutils import isotime
from cumulo_service_identity.models import RevocationEvent
from cumulo_service_identity.util import MISS, new_audit_id, now_ts, to_us

LOG = logging.getLogger(__name__)

SUPPORTED_METHODS = ("password", "token", "application_credential")


def unauthorized(message: str = "The request you have made requires authentication.") -> exception.NotAuthenticated:
    return exception.NotAuthenticated(message)


class RevocationList:
    """Revocation events, mirrored in memory and refreshed every ``ttl`` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._last_id = 0
        self._loaded_at = -1e9
        self._events: list[dict[str, Any]] = []
        self._by_audit: dict[str, int] = {}
        self._by_user: dict[str, int] = {}

    def _index(self, e: dict[str, Any]) -> None:
        if e["audit_id"] and not (e["user_id"] or e["project_id"] or e["app_cred_id"]):
            self._by_audit[e["audit_id"]] = max(self._by_audit.get(e["audit_id"], 0), e["issued_before"])
        elif e["user_id"] and not (e["audit_id"] or e["project_id"] or e["app_cred_id"]):
            self._by_user[e["user_id"]] = max(self._by_user.get(e["user_id"], 0), e["issued_before"])
        else:
            self._events.append(e)

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._loaded_at < self.ttl:
            return
        with self._lock:
            if not force and time.monotonic() - self._loaded_at < self.ttl:
                return  # another thread refreshed while this one waited
            with db.reader() as s:
                rows = s.scalars(sa.select(RevocationEvent).where(RevocationEvent.id > self._last_id)
                                 .order_by(RevocationEvent.id)).all()
                for r in rows:
                    self._index({"user_id": r.user_id, "project_id": r.project_id, "audit_id": r.audit_id,
                                 "app_cred_id": r.app_cred_id, "issued_before": r.issued_before})
                    self._last_id = max(self._last_id, r.id)
            self._loaded_at = now

    def is_revoked(self, payload: dict[str, Any]) -> bool:
        self.refresh()
        issued = to_us(payload.get("issued_at") or 0)
        for audit in payload.get("audit_ids") or ():
            if issued <= self._by_audit.get(audit, -1):
                return True
        user_id = payload.get("user_id")
        if user_id is not None and issued <= self._by_user.get(user_id, -1):
            return True
        for e in self._events:
            if e["issued_before"] < issued:
                continue
            if e["user_id"] and e["user_id"] != payload.get("user_id"):
                continue
            if e["project_id"] and e["project_id"] != payload.get("project_id"):
                continue
            if e["app_cred_id"] and e["app_cred_id"] != payload.get("app_cred_id"):
                continue
            if e["audit_id"] and e["audit_id"] not in (payload.get("audit_ids") or ()):
                continue
            return True
        return False

    def add(self, max_age: float, **match: Any) -> None:
        now = now_ts()
        with db.transaction() as s:
            s.add(RevocationEvent(user_id=match.get("user_id"), project_id=match.get("project_id"),
                                  audit_id=match.get("audit_id"), app_cred_id=match.get("app_cred_id"),
                                  issued_before=to_us(now), revoked_at=to_us(now)))
            # Events older than the longest token lifetime cannot match a live token.
            s.execute(sa.delete(RevocationEvent).where(RevocationEvent.revoked_at < to_us(now - max_age)))
        self.refresh(force=True)


def _fail_if(cond: bool, message: str = "The request you have made requires authentication.") -> None:
    if cond:
        raise unauthorized(message)


class TokenMixin:
    """Needs from the Service: ``backend``, ``provider``, ``conf``, ``revocations``, the resource
    and catalog methods."""

    backend: iauth.IdentityBackend
    provider: iauth.TokenProvider
    conf: Any
    revocations: RevocationList
    _cache: Any

    if TYPE_CHECKING:  # from the Service and its other mixins; mypy checks these agree with them
        def _invalidate(self) -> None: ...
        def get_domain(self, domain_id: str) -> dict[str, Any]: ...
        def get_domain_by_name(self, name: str) -> dict[str, Any]: ...
        def get_project(self, project_id: str) -> dict[str, Any]: ...
        def get_project_by_name(self, name: str, domain_id: str) -> dict[str, Any]: ...
        def effective_role_ids(self, user_id: str, *, project_id: str | None = None, domain_id: str | None = None,
                               system: str | None = None, expand: bool = True) -> set[str]: ...
        def expand_implied(self, role_ids: set[str] | list[str]) -> set[str]: ...
        def role_names(self, role_ids: set[str] | list[str]) -> list[dict[str, str]]: ...
        def get_application_credential_row(self, cred_id: str) -> dict[str, Any]: ...
        def get_application_credential_row_by_name(self, user_id: str, name: str) -> dict[str, Any]: ...
        def get_catalog(self, project_id: str | None = None) -> list[dict[str, Any]]: ...
        def get_trust(self, trust_id: str) -> dict[str, Any]: ...
        def consume_trust(self, trust_id: str, trustee_id: str) -> dict[str, Any]: ...
        def trust_role_ids(self, trust: dict[str, Any]) -> set[str]: ...

    # -- helpers -----------------------------------------------------------
    def _find_domain_ref(self, ref: dict[str, Any] | None, what: str) -> dict[str, Any]:
        if not isinstance(ref, dict) or not (ref.get("id") or ref.get("name")):
            raise exception.ValidationError(field=f"{what}.domain", reason="needs an id or a name")
        try:
            if ref.get("id"):
                return self.get_domain(ref["id"])
            return self.get_domain_by_name(ref["name"])
        except exception.NotFound:
            raise unauthorized() from None

    def _find_user_ref(self, ref: Any, what: str) -> dict[str, Any]:
        if not isinstance(ref, dict):
            raise exception.ValidationError(field=f"{what}.user", reason="is required")
        try:
            if ref.get("id"):
                return self.backend.get_user(str(ref["id"]))
            if ref.get("name"):
                domain = self._find_domain_ref(ref.get("domain"), f"{what}.user")
                return self.backend.get_user_by_name(str(ref["name"]), domain["id"])
        except iauth.UserNotFound:
            raise unauthorized() from None
        raise exception.ValidationError(field=f"{what}.user", reason="needs an id, or a name and a domain")

    def _check_user_usable(self, user: dict[str, Any]) -> None:
        _fail_if(not user.get("enabled", True), "The account is disabled for user: " + user["id"])
        try:
            domain = self.get_domain(user["domain_id"])
        except exception.NotFound:
            raise unauthorized() from None
        _fail_if(not domain["enabled"], "The user's domain is disabled.")

    # -- the auth methods --------------------------------------------------
    def _auth_password(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("user"), dict):
            raise exception.ValidationError(field="auth.identity.password.user", reason="is required")
        ref = body["user"]
        password = ref.get("password")
        if not isinstance(password, str):
            raise exception.ValidationError(field="auth.identity.password.user.password", reason="is required")
        try:
            user = self._find_user_ref(ref, "auth.identity.password")
        except exception.NotAuthenticated:
            # An unknown user costs a hash check too, so timing does not tell who exists.
            try:
                self.backend.authenticate("", password)
            except iauth.AuthFailed:
                pass
            raise
        try:
            user = self.backend.authenticate(user["id"], password)
        except iauth.AuthFailed:
            raise unauthorized() from None
        self._check_user_usable(user)
        expires = user.get("password_expires_at")
        if expires is not None and expires <= datetime.datetime.now(datetime.UTC).replace(tzinfo=None):
            raise unauthorized("The password is expired and needs to be changed for user: " + user["id"])
        return {"user_id": user["id"]}

    def _auth_token(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise exception.ValidationError(field="auth.identity.token.id", reason="is required")
        parent = self.validate_token_data(body["id"])
        p = parent["payload"]
        if p.get("app_cred_id"):
            raise exception.Forbidden("A token issued with an application credential cannot be rescoped.")
        if p.get("trust_id"):
            raise exception.Forbidden("A trust-scoped token cannot be rescoped.")
        scoped = bool(p.get("project_id") or p.get("domain_id") or p.get("system"))
        return {"user_id": p["user_id"], "expires_at": p["expires_at"], "parent_scoped": scoped,
                "parent_payload": p, "audit_chain": (p.get("audit_ids") or [None])[-1]}

    def _auth_app_cred(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("secret"), str):
            raise exception.ValidationError(field="auth.identity.application_credential.secret", reason="is required")
        if body.get("id"):
            try:
                cred = self.get_application_credential_row(str(body["id"]))
            except exception.NotFound:
                raise unauthorized() from None
        elif body.get("name"):
            user = self._find_user_ref(body.get("user"), "auth.identity.application_credential")
            try:
                cred = self.get_application_credential_row_by_name(user["id"], str(body["name"]))
            except exception.NotFound:
                raise unauthorized() from None
        else:
            raise exception.ValidationError(field="auth.identity.application_credential",
                                            reason="needs an id, or a name and a user")
        if not bcrypt.checkpw(_prehash(body["secret"]), cred["secret_hash"].encode("ascii")):
            raise unauthorized()
        if cred["expires_at"] is not None and cred["expires_at"].timestamp() <= now_ts():
            raise unauthorized("The application credential has expired.")
        user = self.backend.get_user(cred["user_id"])
        self._check_user_usable(user)
        return {"user_id": cred["user_id"], "app_cred_id": cred["id"], "project_id": cred["project_id"]}

    # -- scope ---------------------------------------------------------------
    def _resolve_scope(self, scope: Any) -> dict[str, Any]:
        if scope is None or scope == "unscoped":
            return {}
        if not isinstance(scope, dict):
            raise exception.ValidationError(field="auth.scope", reason="must be an object or 'unscoped'")
        if "project" in scope:
            ref = scope["project"]
            if not isinstance(ref, dict):
                raise exception.ValidationError(field="auth.scope.project", reason="must be an object")
            try:
                if ref.get("id"):
                    project = self.get_project(str(ref["id"]))
                elif ref.get("name"):
                    domain = self._find_domain_ref(ref.get("domain"), "auth.scope.project")
                    project = self.get_project_by_name(str(ref["name"]), domain["id"])
                else:
                    raise exception.ValidationError(field="auth.scope.project",
                                                    reason="needs an id, or a name and a domain")
            except exception.NotFound:
                raise unauthorized() from None
            return {"project_id": project["id"]}
        if "domain" in scope:
            return {"domain_id": self._find_domain_ref(scope["domain"], "auth.scope")["id"]}
        if "system" in scope:
            if not (isinstance(scope["system"], dict) and scope["system"].get("all")):
                raise exception.ValidationError(field="auth.scope.system", reason="only {'all': true} is supported")
            return {"system": "all"}
        if "OS-TRUST:trust" in scope:
            ref = scope["OS-TRUST:trust"]
            if not isinstance(ref, dict) or not isinstance(ref.get("id"), str) or not ref["id"]:
                raise exception.ValidationError(field="auth.scope.OS-TRUST:trust", reason="needs an id")
            return {"trust_id": ref["id"]}
        raise exception.ValidationError(field="auth.scope", reason="must name a project, a domain or the system")

    # -- issue -------------------------------------------------------------
    def authenticate(self, auth: Any) -> tuple[str, dict[str, Any]]:
        """``POST /v3/auth/tokens``: the ``auth`` object in, ``(token, validated token data)`` out."""
        if not isinstance(auth, dict) or not isinstance(auth.get("identity"), dict):
            raise exception.ValidationError(field="auth.identity", reason="is required")
        identity = auth["identity"]
        methods = identity.get("methods")
        if not isinstance(methods, list) or not methods or not all(isinstance(m, str) for m in methods):
            raise exception.ValidationError(field="auth.identity.methods", reason="must be a non-empty list")
        results = []
        for method in methods:
            if method not in SUPPORTED_METHODS:
                raise unauthorized(f"Unsupported authentication method: {method}")
            handler = {"password": self._auth_password, "token": self._auth_token,
                       "application_credential": self._auth_app_cred}[method]
            results.append(handler(identity.get(method)))
        user_ids = {r["user_id"] for r in results}
        _fail_if(len(user_ids) != 1, "The authentication methods identify different users.")
        user_id = user_ids.pop()
        merged: dict[str, Any] = {}
        for r in results:
            merged.update(r)
        scope = self._resolve_scope(auth.get("scope"))
        if merged.get("app_cred_id"):
            if scope and scope.get("project_id") != merged["project_id"]:
                raise unauthorized("An application credential only gives tokens for its own project.")
            scope = {"project_id": merged["project_id"]}
        elif "token" in methods and merged.get("parent_scoped") and not self.conf.identity.allow_rescope_scoped_token:
            raise exception.Forbidden("Rescoping a scoped token is not allowed.")
        if auth.get("scope") is None and not merged.get("app_cred_id"):
            if "token" in methods and merged.get("parent_scoped"):
                parent = merged["parent_payload"]
                scope = {k: parent[k] for k in ("project_id", "domain_id", "system") if parent.get(k)}
            else:
                scope = self._default_scope(user_id)
        now = now_ts()
        audit_ids = [new_audit_id()]
        if merged.get("audit_chain"):
            audit_ids.append(merged["audit_chain"])
        expires = merged.get("expires_at") or now + self.conf.identity.token_expiration
        # A rescoped token keeps the methods that proved the user first (Keystone: ["password", "token"]).
        inherited = (merged["parent_payload"].get("methods") or []) if "token" in methods else []
        payload = {"user_id": user_id, "methods": list(dict.fromkeys([*inherited, *methods])), **scope,
                   "expires_at": float(expires), "issued_at": now, "audit_ids": audit_ids,
                   "app_cred_id": merged.get("app_cred_id")}
        payload = {k: v for k, v in payload.items() if v is not None}
        if payload.get("trust_id"):
            self.consume_trust(payload["trust_id"], user_id)  # the trustee's, one use spent
        data = self._resolve_payload(payload)  # also refuses a scope without roles
        return self.provider.issue(payload), data

    def _default_scope(self, user_id: str) -> dict[str, Any]:
        user = self.backend.get_user(user_id)
        pid = user.get("default_project_id")
        if pid:
            try:
                project = self.get_project(pid)
            except exception.NotFound:
                return {}
            if project["enabled"] and self.effective_role_ids(user_id, project_id=pid):
                return {"project_id": pid}
        return {}

    # -- validate ------------------------------------------------------------
    def _cached_user(self, user_id: str) -> dict[str, Any]:
        key = ("user", user_id)
        hit = self._cache.get(key)
        if hit is not MISS:
            return hit
        try:
            user = self.backend.get_user(user_id)
        except iauth.UserNotFound:
            raise unauthorized("Could not find the token's user.") from None
        self._cache.put(key, user)
        return user

    def _resolve_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Check what the token depends on and gather the names and roles; 401 when anything is gone."""
        user = self._cached_user(payload["user_id"])
        self._check_user_usable(user)
        data: dict[str, Any] = {"payload": payload, "user": user, "project": None, "domain": None,
                                "system": payload.get("system"), "roles": [], "app_cred": None}
        try:
            data["user_domain"] = self.get_domain(user["domain_id"])
            role_ids: set[str] = set()
            if payload.get("trust_id"):
                role_ids = self._resolve_trust(payload, data)
            elif payload.get("project_id"):
                project = self.get_project(payload["project_id"])
                _fail_if(not project["enabled"], "The token's project is disabled.")
                pdomain = self.get_domain(project["domain_id"])
                _fail_if(not pdomain["enabled"], "The token's project domain is disabled.")
                data["project"], data["project_domain"] = project, pdomain
                role_ids = self.effective_role_ids(user["id"], project_id=project["id"])
            elif payload.get("domain_id"):
                domain = self.get_domain(payload["domain_id"])
                _fail_if(not domain["enabled"], "The token's domain is disabled.")
                data["domain"] = domain
                role_ids = self.effective_role_ids(user["id"], domain_id=domain["id"])
            elif payload.get("system"):
                role_ids = self.effective_role_ids(user["id"], system="all")
        except exception.NotFound:
            raise unauthorized("The token's scope no longer exists.") from None
        if payload.get("app_cred_id"):
            try:
                cred = self.get_application_credential_row(payload["app_cred_id"])
            except exception.NotFound:
                raise unauthorized("The token's application credential no longer exists.") from None
            if cred["expires_at"] is not None and cred["expires_at"].timestamp() <= now_ts():
                raise unauthorized("The token's application credential has expired.")
            role_ids = role_ids & self.expand_implied(set(cred["roles"]))
            data["app_cred"] = cred
        scoped = bool(payload.get("project_id") or payload.get("domain_id") or payload.get("system")
                      or payload.get("trust_id"))
        _fail_if(scoped and not role_ids, "The user has no role on the requested scope.")
        data["roles"] = self.role_names(role_ids)
        return data

    def _resolve_trust(self, payload: dict[str, Any], data: dict[str, Any]) -> set[str]:
        """Fill ``data`` for a trust-scoped token (its project, its trust, the trustor as the user
        when impersonating) and return its role ids; NotAuthenticated when the trust is gone."""
        try:
            trust = self.get_trust(payload["trust_id"])
        except exception.NotFound:
            raise unauthorized("The token's trust no longer exists or has expired.") from None
        _fail_if(trust["trustee_user_id"] != payload["user_id"], "The token's user is not the trustee.")
        trustor = self._cached_user(trust["trustor_user_id"])
        self._check_user_usable(trustor)
        _fail_if(not trust["project_id"], "The trust names no project.")
        project = self.get_project(trust["project_id"])
        _fail_if(not project["enabled"], "The token's project is disabled.")
        pdomain = self.get_domain(project["domain_id"])
        data["project"], data["project_domain"], data["trust"] = project, pdomain, trust
        if trust["impersonation"]:
            data["user"] = trustor
            data["user_domain"] = self.get_domain(trustor["domain_id"])
        return self.trust_role_ids(trust)

    def validate_token_data(self, token: str) -> dict[str, Any]:
        """Everything about a valid token (payload, user, scope, roles); NotAuthenticated otherwise."""
        if not isinstance(token, str) or not token:
            raise unauthorized()
        try:
            payload = self.provider.validate(token)
        except iauth.InvalidToken:
            raise unauthorized("The token is malformed or was not issued here.") from None
        if not isinstance(payload.get("user_id"), str) or "expires_at" not in payload:
            raise unauthorized("The token is malformed.")
        if payload["expires_at"] <= now_ts():
            raise unauthorized("The token has expired.")
        if self.revocations.is_revoked(payload):
            raise unauthorized("The token has been revoked.")
        return self._resolve_payload(payload)

    def validate_token(self, token: str) -> RequestContext:
        """The context of a request made with ``token``; NotAuthenticated when it is not valid."""
        data = self.validate_token_data(token)
        return self.context_from_token_data(data, token)

    def context_from_token_data(self, data: dict[str, Any], token: str | None = None) -> RequestContext:
        user, project = data["user"], data["project"]
        p = data["payload"]
        ctx = RequestContext(
            user_id=user["id"], user_name=user["name"], user_domain_id=user["domain_id"],
            project_id=project["id"] if project else None, project_name=project["name"] if project else None,
            project_domain_id=project["domain_id"] if project else None,
            domain_id=data["domain"]["id"] if data["domain"] else None,
            system_scope=data["system"], roles=[r["name"] for r in data["roles"]], auth_token=token,
            token_info={"user_id": user["id"], "audit_ids": p.get("audit_ids"), "expires_at": p["expires_at"],
                        "issued_at": p.get("issued_at"), "methods": p.get("methods"),
                        "app_cred_id": p.get("app_cred_id"), "trust_id": p.get("trust_id"),
                        # What an application credential's token may call (None: anything).
                        "access_rules": (data.get("app_cred") or {}).get("access_rules") or None},
        )
        return ctx

    def token_body(self, data: dict[str, Any], catalog: bool = True) -> dict[str, Any]:
        """The ``{"token": ...}`` document of Keystone's token API."""
        p, user = data["payload"], data["user"]
        token: dict[str, Any] = {
            "methods": p.get("methods", []),
            "user": {"id": user["id"], "name": user["name"],
                     "domain": {"id": user["domain_id"], "name": data["user_domain"]["name"]},
                     "password_expires_at": isotime(user.get("password_expires_at"))},
            "audit_ids": p.get("audit_ids", []),
            "expires_at": isotime(p["expires_at"]),
            "issued_at": isotime(p.get("issued_at")),
        }
        if data["project"]:
            token["project"] = {"id": data["project"]["id"], "name": data["project"]["name"],
                                "domain": {"id": data["project_domain"]["id"], "name": data["project_domain"]["name"]}}
            token["is_domain"] = False
        elif data["domain"]:
            token["domain"] = {"id": data["domain"]["id"], "name": data["domain"]["name"]}
        elif data["system"]:
            token["system"] = {"all": True}
        if data["project"] or data["domain"] or data["system"]:
            token["roles"] = data["roles"]
            if catalog:
                token["catalog"] = self.get_catalog(data["project"]["id"] if data["project"] else None)
        if data.get("trust"):
            trust = data["trust"]
            token["OS-TRUST:trust"] = {"id": trust["id"], "impersonation": trust["impersonation"],
                                       "trustee_user": {"id": trust["trustee_user_id"]},
                                       "trustor_user": {"id": trust["trustor_user_id"]}}
        if data.get("app_cred"):
            cred = data["app_cred"]
            token["application_credential"] = {"id": cred["id"], "name": cred["name"],
                                               "restricted": not cred["unrestricted"]}
            if cred.get("access_rules"):
                token["application_credential"]["access_rules"] = cred["access_rules"]
        return {"token": token}

    # -- revocation --------------------------------------------------------
    def _max_token_age(self) -> float:
        return float(self.conf.identity.token_expiration) + 300.0

    def revoke_token(self, token: str) -> None:
        """Revoke one token (and tokens rescoped from it)."""
        data = self.validate_token_data(token)
        audit = (data["payload"].get("audit_ids") or [None])[0]
        if audit:
            self.revocations.add(self._max_token_age(), audit_id=audit)

    def revoke_user_tokens(self, user_id: str) -> None:
        self.revocations.add(self._max_token_age(), user_id=user_id)
        self._invalidate()

    def revoke_app_cred_tokens(self, app_cred_id: str) -> None:
        self.revocations.add(self._max_token_age(), app_cred_id=app_cred_id)


def _prehash(secret: str) -> bytes:
    import base64
    import hashlib

    return base64.b64encode(hashlib.sha256(secret.encode("utf-8")).digest())


def hash_secret(secret: str, rounds: int) -> str:
    return bcrypt.hashpw(_prehash(secret), bcrypt.gensalt(rounds)).decode("ascii")
