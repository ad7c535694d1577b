"""What every Identity v3 controller shares: authentication from ``X-Auth-Token``, policy checks,
links, Keystone's collection shape, body validation and query flags.

The identity app authenticates requests itself (it runs without the kernel's token validation)
because issuing a token needs no token.
"""

from __future__ import annotations

import abc
from typing import Any

from cumulo import exception, policy
from cumulo.context import RequestContext
from cumulo.wsgi import Router, validate
from cumulo.wsgi.request import CONTEXT_KEY, REQUEST_ID_KEY, Request
from cumulo_api_identity.views import self_link


class Controller(abc.ABC):
    """The handlers of one Identity resource on ``svc`` (``hub.identity``); :meth:`add_routes` declares its URLs."""

    def __init__(self, svc: Any) -> None:
        self.svc = svc

    @abc.abstractmethod
    def add_routes(self, router: Router) -> None:
        """Add this resource's routes (full paths, ``/v3/...``) to ``router``."""

    def add_crud(self, router: Router, path: str, key: str, name: str) -> None:
        """The five collection routes on ``path``, to ``list_<name>s``, ``create_<name>``, ``get_<name>``,
        ``update_<name>`` and ``delete_<name>``; ``key`` names the id parameter."""
        router.add("GET", path, getattr(self, f"list_{name}s"))
        router.add("POST", path, getattr(self, f"create_{name}"))
        router.add("GET", f"{path}/{{{key}}}", getattr(self, f"get_{name}"))
        router.add("PATCH", f"{path}/{{{key}}}", getattr(self, f"update_{name}"))
        router.add("DELETE", f"{path}/{{{key}}}", getattr(self, f"delete_{name}"))

    def context(self, req: Request) -> RequestContext:
        """The caller's context, from the pipeline or else from validating ``X-Auth-Token`` (401 without one)."""
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
        """Enforce ``identity:<rule>`` on ``target`` (its keys seen by policy as ``target.<key>``)."""
        ctx = self.context(req)
        flat: dict[str, Any] = {}
        for k, v in (target or {}).items():
            flat[f"target.{k}"] = v
        policy.authorize(ctx, f"identity:{rule}", flat)
        return ctx

    @staticmethod
    def base(req: Request) -> str:
        """The ``.../v3`` URL of this request, which links start from."""
        return req.application_url.rstrip("/") + "/v3"

    def link(self, req: Request, path: str) -> dict[str, Any]:
        """Keystone's ``links`` of the resource at ``path`` (relative to ``/v3``)."""
        return self_link(self.base(req), path)

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
        """The JSON body, validated against ``schema`` (400 otherwise)."""
        return validate(req.json_body_or_fault(), schema)

    @staticmethod
    def bool_filter(req: Request, name: str) -> bool | None:
        """A boolean query filter: None when absent, 400 when not a boolean."""
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
