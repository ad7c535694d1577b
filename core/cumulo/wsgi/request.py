"""Request and response helpers."""

from __future__ import annotations

import json
from typing import Any

import webob

from cumulo import exception
from cumulo.context import RequestContext

CONTEXT_KEY = "cumulo.context"
REQUEST_ID_KEY = "cumulo.request_id"


class Request(webob.Request):
    @property
    def context(self) -> RequestContext:
        ctx = self.environ.get(CONTEXT_KEY)
        if ctx is None:
            ctx = RequestContext(request_id=self.environ.get(REQUEST_ID_KEY) or RequestContext().request_id)
            self.environ[CONTEXT_KEY] = ctx
        return ctx

    def json_body_or_fault(self, required: bool = True) -> Any:
        """The parsed JSON body; 400 for malformed JSON, 415 for a non-JSON type."""
        if not self.body:
            if required:
                raise exception.Invalid(reason="The request body is missing; a JSON document is required.")
            return None
        ctype = (self.content_type or "application/json").lower()
        if "json" not in ctype and ctype not in ("text/plain", "application/octet-stream", ""):
            raise exception.UnsupportedMediaType(reason=f"Content type {ctype} is not supported; send application/json.")
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as err:
            raise exception.Invalid(reason=f"Malformed JSON in request body: {err}") from None

    def int_param(self, name: str, default: int | None = None, minimum: int = 0,
                  maximum: int | None = None) -> int | None:
        raw = self.GET.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise exception.ValidationError(field=name, reason=f"'{raw}' is not an integer") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            raise exception.ValidationError(field=name, reason=f"must be {bound}")
        return value

    def bool_param(self, name: str, default: bool | None = None) -> bool | None:
        raw = self.GET.get(name)
        if raw is None:
            return default
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on", ""):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise exception.ValidationError(field=name, reason=f"'{raw}' is not a boolean")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> webob.Response:
    resp = webob.Response(status=status, content_type="application/json", charset="UTF-8")
    if body is not None and status != 204:
        resp.text = json.dumps(body, default=_json_default)
    else:
        resp.content_type = None
        resp.body = b""
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _json_default(obj: Any) -> Any:
    import datetime
    import enum

    if isinstance(obj, datetime.datetime):
        return obj.strftime("%Y-%m-%dT%H:%M:%S.%f") if obj.microsecond else obj.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")
