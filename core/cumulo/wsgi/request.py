"""Request and response helpers, and the one strict JSON parser every frontend uses.

Client input is checked here, once, so that no malformed request reaches a
handler (or the database) and comes back as a 500: :func:`parse_json` refuses
what ``json.loads`` accepts but later code cannot handle (deep nesting, lone
UTF-16 surrogates, NUL characters, numbers beyond 64 bits, NaN and Infinity,
bodies that are not UTF-8), and :func:`url_problem` names a path or query that
is not valid UTF-8.
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

import webob

from cumulo import exception
from cumulo.context import RequestContext

CONTEXT_KEY = "cumulo.context"
REQUEST_ID_KEY = "cumulo.request_id"

#: Deepest nesting of arrays and objects a request body may have. OpenStack bodies
#: nest a handful of levels; deeper ones only exhaust recursion (validation, rendering).
MAX_JSON_DEPTH = 32
#: JSON numbers must fit a signed 64-bit integer (what every database column holds).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_MAX_INT_DIGITS = 20  # longer literals are out of range anyway: refuse before converting
_BAD_CHARS = re.compile("[\ud800-\udfff\x00]")


class MalformedBody(exception.Invalid, ValueError):
    """The request body cannot be read as sent (truncated, bad chunked coding): a 400.

    Also a ValueError, what a broken stream raises, so code that handles stream
    errors itself (the image upload, Swift's 499) keeps doing so.
    """

    msg_fmt = "Malformed request body: %(reason)s"


class _Refused(ValueError):
    """A JSON literal the strict parser refuses (raised from json's parse hooks)."""


def _parse_int(text: str) -> int:
    digits = text.lstrip("-")
    if len(digits) > _MAX_INT_DIGITS:
        raise _Refused(f"the number {text[:24]}... is beyond the 64-bit integer range")
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise _Refused(f"the number {text} is beyond the 64-bit integer range")
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    # Beyond 2**63 a float is no longer a usable quantity (jsonschema counts 1e308 as an integer).
    if not math.isfinite(value) or not float(INT64_MIN) <= value <= float(INT64_MAX):
        shown = text if len(text) <= 24 else text[:24] + "..."
        raise _Refused(f"the number {shown} is out of range (beyond 64 bits)")
    return value


def _parse_constant(text: str) -> Any:
    raise _Refused(f"{text} is not a JSON number")


def _bad_string(value: str) -> str | None:
    m = _BAD_CHARS.search(value)
    if m is None:
        return None
    if m.group() == "\x00":
        return "a string contains a NUL character (\\u0000)"
    return f"a string contains a lone UTF-16 surrogate (\\u{ord(m.group()):04x}); text must be valid Unicode"


def _check_tree(doc: Any, max_depth: int) -> None:
    """Depth and string checks, iteratively (a recursive walk could itself overflow)."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            problem = _bad_string(node)
            if problem:
                raise _Refused(problem)
        elif isinstance(node, (dict, list)):
            if depth > max_depth:
                raise _Refused(f"the document nests deeper than {max_depth} levels")
            if isinstance(node, dict):
                for key, value in node.items():
                    problem = _bad_string(key)
                    if problem:
                        raise _Refused(problem.replace("a string", "an object key", 1))
                    stack.append((value, depth + 1))
            else:
                stack.extend((value, depth + 1) for value in node)


def parse_json(data: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a request body strictly; :class:`exception.Invalid` (400) names what is wrong.

    Refused: text that is not UTF-8 (a UTF-8 byte-order mark is allowed), malformed
    JSON, nesting deeper than ``max_depth``, integers outside the signed 64-bit range,
    floats that are infinite or beyond 2**63, ``NaN``/``Infinity``, and strings or keys
    with a lone surrogate or a NUL character (valid in JSON, unusable by everything after).
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise exception.Invalid(
                reason=f"The request body is not valid UTF-8 (byte {err.start}); send JSON as UTF-8.") from None
    else:
        text = data
    text = text.removeprefix("\ufeff")
    try:
        doc = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
        _check_tree(doc, max_depth)
    except RecursionError:
        raise exception.Invalid(
            reason=f"Malformed JSON in request body: the document nests deeper than {max_depth} levels") from None
    except ValueError as err:  # json.JSONDecodeError and _Refused
        raise exception.Invalid(reason=f"Malformed JSON in request body: {err}") from None
    return doc


def _utf8_problem(raw: str, what: str) -> str | None:
    try:
        text = raw.encode("latin-1").decode("utf-8")
    except UnicodeEncodeError:
        text = raw  # not a WSGI byte string (a test's environ): already text
    except UnicodeDecodeError as err:
        return f"The {what} is not valid UTF-8 (byte {err.start} after percent-decoding)."
    if "\x00" in text:
        return f"The {what} contains a NUL character."
    return None


def url_problem(environ: Mapping[str, Any]) -> str | None:
    """Why the request's path or query string is unusable (not UTF-8, NUL), or None."""
    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    problem = _utf8_problem(path, "request path")
    if problem:
        return problem
    query = str(environ.get("QUERY_STRING", ""))
    if not query:
        return None
    try:
        raw = urllib.parse.unquote_to_bytes(query.replace("+", " ").encode("latin-1"))
    except UnicodeEncodeError:
        return None
    return _utf8_problem(raw.decode("latin-1"), "query string")


def check_url(environ: Mapping[str, Any]) -> None:
    """Raise :class:`exception.Invalid` (400) for a path or query that is not valid UTF-8."""
    problem = url_problem(environ)
    if problem:
        raise exception.Invalid(reason=problem)


class Request(webob.Request):
    @property
    def context(self) -> RequestContext:
        ctx = self.environ.get(CONTEXT_KEY)
        if ctx is None:
            ctx = RequestContext(request_id=self.environ.get(REQUEST_ID_KEY) or RequestContext().request_id)
            self.environ[CONTEXT_KEY] = ctx
        return ctx

    def json_body_or_fault(self, required: bool = True) -> Any:
        """The parsed JSON body, by :func:`parse_json`: 400 for malformed or unusable JSON
        (and for a body that could not be read whole), 415 for a non-JSON content type.

        Every frontend parses request bodies here, never with ``json.loads`` itself.
        """
        body = self.body_or_fault()
        if not body:
            if required:
                raise exception.Invalid(reason="The request body is missing; a JSON document is required.")
            return None
        ctype = (self.content_type or "application/json").lower()
        if "json" not in ctype and ctype not in ("text/plain", "application/octet-stream", ""):
            raise exception.UnsupportedMediaType(reason=f"Content type {ctype} is not supported; send application/json.")
        return parse_json(body)

    def body_or_fault(self) -> bytes:
        """The whole body; 400 when it cannot be read whole (truncated, bad chunked encoding)."""
        try:
            return self.body
        except exception.CumuloError:
            raise
        except webob.request.DisconnectionError as err:
            raise MalformedBody(reason=f"the body is incomplete ({err})") from None
        except (OSError, ValueError) as err:  # cheroot's chunked-coding errors (outside the pipeline)
            raise MalformedBody(reason=str(err)) from None

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
