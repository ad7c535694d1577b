"""Hostile requests for fuzz tests of API frontends: every route, every kind of client mistake.

Test tooling, used by the kernel's fuzz tests and open to any frontend's tests.
The routes come from the apps themselves (:func:`route_table` finds every
:class:`~cumulo.wsgi.router.Router` inside a built frontend app), so a new route
is fuzzed without a test change. Each :class:`Hostile` request is one client
mistake (:data:`KINDS`) on one route; it can be sent over a socket
(:meth:`Hostile.raw`) or run in-process with the stream types the real server
(cheroot) hands to apps (:meth:`Hostile.environ`). :func:`problems` says what
is wrong with an answer: a 5xx, or a 4xx without a fault body naming the problem.
Only :func:`strategies` needs hypothesis (a test dependency), imported there.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import io
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cheroot.server import ChunkedRFile, KnownLengthRFile

from cumulo.wsgi.router import Router

#: Kinds of client mistake, each answered 4xx. Body kinds apply to routes that take a body.
BODY_KINDS = ("deep-json", "surrogate", "nul-char", "big-int", "big-float", "nan", "bad-utf8-body",
              "malformed-json", "truncated", "bad-chunked", "length-and-chunked", "bad-length")
URL_KINDS = ("pct-path", "pct-query", "unknown-path", "wrong-method")
#: Only over a socket (the server refuses them before any app runs).
WIRE_KINDS = ("duplicate-length",)
KINDS = BODY_KINDS + URL_KINDS + WIRE_KINDS
#: What a 400 for each kind must mention (case-insensitive), when the kernel refused it.
KEYWORDS = {
    "deep-json": "nest", "surrogate": "surrogate", "nul-char": "nul", "big-int": "range",
    "big-float": "range", "nan": "not a json number", "bad-utf8-body": "utf-8", "malformed-json": "json",
    "truncated": "body", "bad-chunked": "chunk", "length-and-chunked": "content-length",
    "bad-length": "content-length", "pct-path": "utf-?8|nul", "pct-query": "utf-?8|nul",
    "duplicate-length": "content-length",
}
#: Kinds the kernel refuses before routing: the 400 always names the problem.
PRE_ROUTING = ("length-and-chunked", "bad-length", "duplicate-length")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
_PARAM = re.compile(r"\{([^}]+)\}")


@dataclasses.dataclass(frozen=True)
class Route:
    """One route of a mounted frontend: ``prefix`` (``/network``), method, template."""

    prefix: str
    method: str
    template: str
    router: Router | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def params(self) -> list[str]:
        return _PARAM.findall(self.template)

    @property
    def takes_body(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH")


def find_routers(app: Any, limit: int = 5000) -> list[Router]:
    """Every Router reachable from a WSGI app: middleware attributes, bound methods, closures."""
    found: list[Router] = []
    seen: set[int] = set()
    stack = [app]
    while stack and len(seen) < limit:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, Router):
            found.append(obj)
            continue
        if inspect.ismethod(obj):
            stack.append(obj.__self__)
        elif inspect.isfunction(obj):
            for cell in obj.__closure__ or ():
                try:
                    stack.append(cell.cell_contents)
                except ValueError:  # an empty cell
                    continue
        elif callable(obj) and hasattr(obj, "__dict__") and not isinstance(obj, type):
            stack.extend(v for v in vars(obj).values() if callable(v) and not isinstance(v, type))
    return found


def route_table(mounts: Mapping[str, Any]) -> list[Route]:
    """Every route of every mounted app that has Routers, sorted, with its mount prefix."""
    out: set[Route] = set()
    for prefix, app in mounts.items():
        for router in find_routers(app):
            out.update(Route(prefix.rstrip("/"), m, t, router) for m, t in router.routes())
    return sorted(out, key=lambda r: (r.prefix, r.template, r.method))


def probe_routes(prefix: str, shape: list[str], methods: Iterable[str] = METHODS) -> list[Route]:
    """Routes for an app without a route table, from its path shape: every prefix of
    ``shape`` (literal segments and ``{param}``), with every method."""
    templates = ["/" + "/".join(shape[:n]) for n in range(len(shape) + 1)]
    return [Route(prefix.rstrip("/"), m, t) for t in templates for m in methods]


@functools.lru_cache(maxsize=4096)
def _template_regex(template: str) -> re.Pattern[str]:
    parts = _PARAM.split(template)
    # split alternates literal, name, literal...: params match one path segment
    return re.compile("^" + "".join(re.escape(p) if i % 2 == 0 else "[^/]+" for i, p in enumerate(parts)) + "$")


def allowed_methods(routes: Iterable[Route], router: Router | None, path: str) -> set[str]:
    """Methods of every route of ``router`` whose template matches ``path`` (below the mount)."""
    return {r.method for r in routes if r.router is router and _template_regex(r.template).match(path)}


def quote_segment(value: str) -> str:
    return urllib.parse.quote(value, safe="-._~:@!$&'()*+,;=")


@dataclasses.dataclass
class Hostile:
    """One hostile request. ``path`` and ``query`` are as on the request line (percent-encoded)."""

    kind: str
    route: Route
    method: str
    path: str
    query: str = ""
    body: bytes = b""
    #: "length" (Content-Length: len(body)), "none", "chunked", "truncated" (Content-Length
    #: larger than sent), "bad-chunked", "length-and-chunked", "bad-length", "duplicate-length"
    framing: str = "none"
    bad_length: str = ""
    content_type: str | None = "application/json"
    #: The status an authenticated request must get (404 unknown path, 405 wrong method), if any.
    expect: int | None = None

    @property
    def target(self) -> str:
        return self.path + ("?" + self.query if self.query else "")

    def _chunked(self) -> bytes:
        if not self.body:
            return b"0\r\n\r\n"
        half = max(1, len(self.body) // 2)
        parts = [self.body[:half], self.body[half:]]
        return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"

    def _bad_chunked(self) -> bytes:
        body = self.body or b"{}"
        variants = [b"zz\r\n" + body + b"\r\n0\r\n\r\n",                      # size not hex
                    b"%x\r\n%sXX0\r\n\r\n" % (len(body), body),                # no CRLF after data
                    b"%x\r\n%s" % (len(body) + 50, body)]                      # chunk cut short
        return variants[len(body) % len(variants)]

    def wire_body(self) -> bytes:
        """The bytes after the header block."""
        if self.framing in ("chunked", "length-and-chunked"):
            return self._chunked()
        if self.framing == "bad-chunked":
            return self._bad_chunked()
        if self.framing == "truncated":
            return self.body[: max(0, len(self.body) // 2)]
        return self.body

    def headers(self, token: str | None) -> list[tuple[str, str]]:
        h: list[tuple[str, str]] = []
        if token:
            h.append(("X-Auth-Token", token))
        if self.content_type and (self.body or self.framing != "none"):
            h.append(("Content-Type", self.content_type))
        n = str(len(self.body))
        if self.framing == "length":
            h.append(("Content-Length", n))
        elif self.framing == "truncated":
            h.append(("Content-Length", str(len(self.body) + 10)))
        elif self.framing in ("chunked", "bad-chunked"):
            h.append(("Transfer-Encoding", "chunked"))
        elif self.framing == "length-and-chunked":
            h += [("Content-Length", n), ("Transfer-Encoding", "chunked")]
        elif self.framing == "bad-length":
            h.append(("Content-Length", self.bad_length))
        elif self.framing == "duplicate-length":
            h += [("Content-Length", n), ("Content-Length", str(len(self.body) + 7))]
        return h

    def raw(self, host: str, token: str | None) -> bytes:
        """The request as HTTP/1.1 bytes (a persistent connection: the server reads an unread
        body before answering, so the answer is not lost to a reset; close it after)."""
        head = [f"{self.method} {self.target} HTTP/1.1", f"Host: {host}"]
        head += [f"{k}: {v}" for k, v in self.headers(token)]
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + self.wire_body()

    def environ(self, token: str | None, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A WSGI environ as cheroot builds it (unquoted PATH_INFO, its body stream types)."""
        env: dict[str, Any] = {
            "REQUEST_METHOD": self.method, "SCRIPT_NAME": "",
            # cheroot unquotes all but %2F (a slash inside a segment stays encoded)
            "PATH_INFO": "%2F".join(urllib.parse.unquote_to_bytes(p).decode("latin-1")
                                    for p in re.split("%2[fF]", self.path)),
            "QUERY_STRING": self.query, "SERVER_NAME": "localhost", "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost",
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.errors": io.StringIO(),
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            **(base or {}),
        }
        for k, v in self.headers(token):
            key = k.upper().replace("-", "_")
            key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key
            env[key] = f"{env[key]}, {v}" if key in env and key != "CONTENT_LENGTH" else v
        data = io.BytesIO(self.wire_body())
        if self.framing in ("chunked", "bad-chunked", "length-and-chunked"):
            env["wsgi.input"] = ChunkedRFile(data, 0)
            env["wsgi.input_terminated"] = True
        else:
            length = env.get("CONTENT_LENGTH", "0")
            env["wsgi.input"] = KnownLengthRFile(data, int(length) if length.isdigit() else 0)
        return env


def fault_message(body: bytes) -> str | None:
    """The ``message`` (or ``title``/``detail``) of a JSON fault body, whatever its shape; None if not JSON."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in ("message", "detail", "title"):
                if isinstance(node.get(key), str) and node[key]:
                    return str(node[key])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def problems(req: Hostile, status: int, headers: Mapping[str, str], body: bytes,
             authenticated: bool, json_faults: bool = True) -> list[str]:
    """What is wrong with the answer to ``req`` (empty: nothing).

    No 5xx ever. A 4xx (but to HEAD) has a body; for ``json_faults`` APIs a JSON fault
    with a message. A 400 for a kind the kernel refuses before routing names it. On
    Router apps, an authenticated unknown path is a 404 and a wrong method a 405 with Allow.
    """
    out: list[str] = []
    where = f"{req.kind}: {req.method} {req.target} -> {status}"
    if status >= 500:
        return [f"{where} (a client mistake answered 5xx): {body[:300]!r}"]
    if 400 <= status < 500 and req.method != "HEAD":
        message = fault_message(body) if json_faults else (body.decode("utf-8", "replace").strip() or None)
        if not message:
            out.append(f"{where} without a {'JSON ' if json_faults else ''}fault message: {body[:300]!r}")
        elif status == 400 and (req.kind in PRE_ROUTING or (req.kind in URL_KINDS and req.route.router))\
                and req.kind in KEYWORDS and not re.search(KEYWORDS[req.kind], message, re.I):
            out.append(f"{where}: the message does not name the problem ({KEYWORDS[req.kind]}): {message}")
    if req.expect is not None and authenticated and status != req.expect:
        out.append(f"{where}: {'an unknown path' if req.expect == 404 else 'a wrong method'} must be a {req.expect}")
    if req.expect == 405 and authenticated and status == 405 and not headers.get("Allow"):
        out.append(f"{where}: a 405 must say Allow")
    return out


# -- generation ------------------------------------------------------------------------------

def deep_json(depth: int, objects: bool = False) -> bytes:
    if objects:
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b"[" * depth + b"]" * depth


def resource_key(route: Route) -> str:
    """A plausible top-level body key for the route: the singular of its last literal segment."""
    literals = [s for s in route.template.split("/") if s and not s.startswith("{")]
    word = (literals[-1] if literals else "thing").replace("-", "_")
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def wrap(route: Route, field: str, literal: str) -> bytes:
    """``{"<resource>": {"<field>": <literal>}}`` with ``literal`` inserted as raw JSON text."""
    return b'{"%s": {"%s": %s}}' % (resource_key(route).encode(), field.encode(), literal.encode("latin-1"))


def concrete(route: Route, values: Mapping[str, str], hostile: str | None = None,
             hostile_param: int = 0) -> str:
    """The route's template with each parameter filled (percent-encoded) from ``values``;
    parameter number ``hostile_param`` gets the raw (already encoded) ``hostile`` text."""
    index = 0

    def fill(m: re.Match[str]) -> str:
        nonlocal index
        index += 1
        if hostile is not None and index - 1 == hostile_param:
            return hostile
        return quote_segment(values.get(m.group(1), "x"))

    path = _PARAM.sub(fill, route.template)
    if hostile is not None and not route.params:
        path = path.rstrip("/") + "/" + hostile
    return route.prefix + path


def build(kind: str, route: Route, values: Mapping[str, str], choice: int = 0,
          routes: Iterable[Route] = ()) -> Hostile:
    """The hostile request of ``kind`` on ``route``; ``choice`` picks among the kind's variants.

    ``values`` fill path parameters (by parameter name); ``routes`` (the whole table)
    lets wrong-method pick a method no route of the path has.
    """
    path = concrete(route, values)
    field = ("name", "description", "id", "metadata", "size")[choice % 5]
    h = Hostile(kind, route, route.method, path, framing="length")
    if kind == "deep-json":
        h.body = deep_json((33, 200, 5000, 100000)[choice % 4], objects=bool(choice % 2))
    elif kind == "surrogate":
        lone = ("\\ud800", "\\udfff", "\\udbff\\u0041", "x\\ud83d")[choice % 4]
        h.body = wrap(route, field, f'"{lone}"') if choice % 3 else b'{"\\ud800": 1}'
    elif kind == "nul-char":
        h.body = wrap(route, field, '"a\\u0000b"')
    elif kind == "big-int":
        h.body = wrap(route, field, ("18446744073709551616", "-9223372036854775809", "1" + "0" * 40,
                                     "9" * 5000)[choice % 4])
    elif kind == "big-float":
        h.body = wrap(route, field, ("1e308", "1e309", "-1.8e308", "1e19", "2e400")[choice % 5])
    elif kind == "nan":
        h.body = wrap(route, field, ("NaN", "Infinity", "-Infinity")[choice % 3])
    elif kind == "bad-utf8-body":
        bad = (b"\xff\xfe", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80")[choice % 4]
        h.body = b'{"%s": {"name": "' % resource_key(route).encode() + bad + b'"}}'
    elif kind == "malformed-json":
        h.body = (b'{"a": ', b"{'a': 1}", b"[1,]", b'{"a" 1}', b"\x00")[choice % 5]
    elif kind == "truncated":
        h.body, h.framing = wrap(route, "name", '"truncated body"'), "truncated"
    elif kind == "bad-chunked":
        h.body, h.framing = wrap(route, "name", '"chunks"') * (1 + choice % 3), "bad-chunked"
    elif kind == "length-and-chunked":
        h.body, h.framing = wrap(route, "name", '"both"'), "length-and-chunked"
    elif kind == "bad-length":
        h.body, h.framing = b"{}", "bad-length"
        h.bad_length = ("-1", "abc", "1,1", "0x10", "+2")[choice % 5]
    elif kind == "duplicate-length":
        h.body, h.framing = wrap(route, "name", '"dup"'), "duplicate-length"
    elif kind == "pct-path":
        segment = ("%ff", "%c0%af", "%ed%a0%80", "a%fe%ffb", "%00")[choice % 5]
        h.path, h.framing = concrete(route, values, segment, choice % max(1, len(route.params))), "none"
    elif kind == "pct-query":
        h.query = ("name=%ff", "%ff=1", "limit=1&marker=%c0%af", "q=%ed%b0%80", "name=a%00b")[choice % 5]
        h.framing = "none"
    elif kind == "unknown-path":
        h.path, h.framing = path.rstrip("/") + "/no-such-route-" + "zq"[choice % 2], "none"
        routes = list(routes)
        if route.router is not None and routes and not allowed_methods(routes, route.router,
                                                                         h.path[len(route.prefix):]):
            h.expect = 404  # no template matches (a parameter may swallow the extra segment)
    elif kind == "wrong-method":
        routes = list(routes)
        taken = allowed_methods(routes, route.router, path[len(route.prefix):]) | {route.method}
        free = [m for m in ("PATCH", "PUT", "DELETE", "POST", "GET") if m not in taken]
        h.method, h.framing = (free[choice % len(free)] if free else "TRACE"), "none"
        if route.router is not None and routes and free:
            h.expect = 405
    else:
        raise ValueError(f"unknown kind {kind}")
    return h


def sweep(routes: list[Route], values: Mapping[str, str], kinds: Iterable[str] = BODY_KINDS + URL_KINDS,
          skip: Callable[[Route, str], bool] | None = None) -> list[Hostile]:
    """One request per (route, kind): body kinds on routes that take a body, URL kinds on all."""
    out = []
    for n, route in enumerate(routes):
        for kind in kinds:
            if kind in BODY_KINDS + WIRE_KINDS and not route.takes_body:
                continue
            if skip is not None and skip(route, kind):
                continue
            out.append(build(kind, route, values, choice=n, routes=routes))
    return out


def strategies(routes: list[Route], values: Mapping[str, str], kinds: Iterable[str] = BODY_KINDS + URL_KINDS,
               skip: Callable[[Route, str], bool] | None = None) -> Any:
    """A hypothesis strategy of hostile requests: any route, any kind, any variant, and
    arbitrary valid text in path parameters and query values.

    ``values`` (real ids by parameter name) are never used for DELETE routes, so
    the resources they name survive the run.
    """
    from hypothesis import strategies as st

    kinds = tuple(kinds)
    # Valid text (no NUL, refused on its own): a path parameter or query value may be anything else.
    text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12)

    @st.composite
    def one(draw: Any) -> Hostile:
        route = draw(st.sampled_from(routes))
        allowed = [k for k in kinds if (route.takes_body or k not in BODY_KINDS + WIRE_KINDS)
                   and not (skip and skip(route, k))]
        kind = draw(st.sampled_from(allowed or ["unknown-path"]))
        known = {} if route.method == "DELETE" else values
        filled = {p: draw(st.one_of(st.just(known.get(p, "x")), text)) for p in route.params}
        h = build(kind, route, {**known, **filled}, choice=draw(st.integers(0, 59)), routes=routes)
        if draw(st.booleans()) and kind not in ("pct-query",):
            key, value = draw(text), draw(text)
            extra = urllib.parse.urlencode({key: value})
            h.query = f"{h.query}&{extra}" if h.query else extra
        return h

    return one()
