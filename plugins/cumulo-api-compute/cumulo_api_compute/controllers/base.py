"""What every compute controller shares: the hub, policy checks, the negotiated microversion,
body validation, collection paging, and the route and server-action declarations."""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Callable
from typing import Any

from cumulo import exception, policy
from cumulo.contracts.compute import ComputeService
from cumulo.wsgi import Request, validate
from cumulo.wsgi import microversion as mv
from cumulo_api_compute import api_version

#: ``(method or methods, path below /v2.1, handler)``; the handler gets the Request and the path's parameters.
Route = tuple[str | list[str], str, Callable[..., Any]]
#: ``handler(req, server_id, argument)`` for one ``POST /servers/{server_id}/action`` body key.
ServerAction = Callable[[Request, str, Any], Any]


class Controller:
    """One compute resource: its handlers, the routes to them, and the server actions it answers.

    Handlers return what :class:`cumulo.wsgi.Router` accepts (a body, ``(status, body[, headers])``
    or a response).
    """

    def __init__(self, hub: Any) -> None:
        self.hub = hub

    def routes(self) -> list[Route]:
        """This controller's routes, in matching order (a literal segment before a ``{param}`` one)."""
        return []

    def actions(self) -> dict[str, ServerAction]:
        """Server actions by body key (``"os-stop"``), dispatched by the server actions controller."""
        return {}

    @property
    def compute(self) -> ComputeService:
        """The compute area service (``hub.compute``), typed as its contract: mypy checks every call against it."""
        compute: ComputeService = self.hub.compute
        return compute

    @staticmethod
    def ver(req: Request) -> mv.APIVersion:
        """The request's negotiated microversion."""
        return api_version.requested(req.environ)

    @staticmethod
    def base(req: Request) -> str:
        """The URL of the v2.1 root, for links."""
        return req.application_url.rstrip("/") + "/v2.1"

    @staticmethod
    def authorize(req: Request, rule: str, target: dict[str, Any] | None = None) -> None:
        """403 unless the caller passes ``rule`` (the target defaults to the caller's project)."""
        policy.authorize(req.context, rule, target or {"project_id": req.context.project_id})

    @staticmethod
    def body(req: Request, schema: dict[str, Any]) -> dict[str, Any]:
        """The JSON body, validated against ``schema`` (400 otherwise)."""
        return validate(req.json_body_or_fault(), schema)

    def paged(self, req: Request, items: list[dict[str, Any]], limit: int, key: str,
              collection_path: str) -> dict[str, Any]:
        """``{key: items}``, plus a ``next`` link (marker: the last item's id) when a page is full."""
        out: dict[str, Any] = {key: items}
        if items and len(items) == limit:
            params = [(k, val) for k, val in req.GET.items() if k != "marker"]
            params.append(("marker", items[-1]["id"]))
            out[key + "_links"] = [{"rel": "next", "href": f"{self.base(req)}/{collection_path}?"
                                                          f"{urllib.parse.urlencode(params)}"}]
        return out


def ref(value: Any) -> str | None:
    """An id, or the last path segment of a URL reference (``flavorRef``/``imageRef``)."""
    if value in (None, ""):
        return None
    text = str(value)
    return text.rstrip("/").rsplit("/", 1)[-1] if "/" in text else text


def as_bool(value: Any) -> bool:
    """A JSON boolean, or a string Nova reads as one (``"true"``, ``"1"``, ``"yes"``, ``"on"``)."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def access_ip(value: str | None, version: int, field: str) -> str | None:
    """An ``accessIPv4``/``accessIPv6`` in canonical form (None and "" as given), as Nova stores it.

    :raises ValidationError: not an IPv``version`` address.
    """
    if not value:
        return value
    try:
        addr = ipaddress.ip_address(value.strip())
    except ValueError:
        addr = None
    if addr is None or addr.version != version:
        raise exception.ValidationError(field=field, reason=f"'{value}' is not a valid IPv{version} address")
    return str(addr)
