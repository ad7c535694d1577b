"""What the resource controllers beside :mod:`cumulo_api_volume.app` share: the caller's context for the
project in the URL, request bodies, links and list arguments."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.context import RequestContext
from cumulo.wsgi import Request

PAGING = ("limit", "marker", "offset", "sort", "sort_key", "sort_dir", "with_count")


def project_ctx(req: Request, project_id: str) -> RequestContext:
    """The caller's context; the project in the URL must be the token's unless the caller is an admin."""
    ctx = req.context
    if project_id != ctx.project_id and not ctx.is_admin:
        raise exception.Invalid(reason=f"Malformed request url: URL's project_id '{project_id}' doesn't match "
                                       f"Context's project_id '{ctx.project_id}'")
    return ctx


def body_object(req: Request, key: str, required: bool = True) -> dict[str, Any]:
    """The ``key`` object of the JSON body; 400 when the body is not ``{key: {...}}``."""
    body = req.json_body_or_fault()
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        if not required and isinstance(body, dict) and body.get(key) is None:
            return {}
        raise exception.Invalid(reason=f"The request body must be a JSON object with a '{key}' object.")
    return body[key]


def links(req: Request, project_id: str, collection: str, item_id: str) -> list[dict[str, str]]:
    base = req.application_url.rstrip("/")
    root = base.rsplit("/v3", 1)[0]
    return [{"href": f"{base}/v3/{project_id}/{collection}/{item_id}", "rel": "self"},
            {"href": f"{root}/{project_id}/{collection}/{item_id}", "rel": "bookmark"}]


def list_args(req: Request, max_limit: int) -> dict[str, Any]:
    limit = req.int_param("limit", None, minimum=0)
    limit = max_limit if limit is None else min(limit, max_limit)
    filters = {k: v for k, v in req.GET.items() if k not in PAGING}
    sort = {k: req.GET[k] for k in ("sort", "sort_key", "sort_dir") if k in req.GET}
    return {"filters": filters, "sort_params": sort, "limit": limit, "marker": req.GET.get("marker") or None,
            "offset": req.int_param("offset", None, minimum=0)}
