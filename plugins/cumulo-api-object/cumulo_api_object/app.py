"""The Swift v1 API: HTTP in, ``hub.object`` calls, Swift-shaped HTTP out.

Paths (below the ``/object-store`` mount)::

    /info                                   capabilities and limits (no auth)
    /v1/<account>                           GET HEAD POST (POST ?bulk-delete)
    /v1/<account>/<container>               GET HEAD PUT POST DELETE
    /v1/<account>/<container>/<object>      GET HEAD PUT POST DELETE COPY

The object name is everything after the container, slashes included. Errors are
plain-text bodies with the status (what Swift and python-swiftclient expect).
Uploads stream from ``wsgi.input`` (Content-Length or chunked); downloads stream.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape, quoteattr

import webob
from requests.structures import CaseInsensitiveDict

from cumulo import exception
from cumulo.conf import CONF
from cumulo.contracts.object import Caller, Resolved, SwiftError, iso, split_copy_path, strip_swift_bytes, timestamp
from cumulo.interfaces.object import ObjectInfo
from cumulo.utils.http import evaluate_conditions, http_date
from cumulo.utils.ranges import (
    Unsatisfiable,
    content_range,
    multipart_byteranges,
    parse_ranges,
    unsatisfied_range,
)
from cumulo.wsgi.faults import classify
from cumulo.wsgi.middleware import pipeline
from cumulo.wsgi.request import CONTEXT_KEY, REQUEST_ID_KEY
from cumulo_api_object import extract

LOG = logging.getLogger(__name__)
READ_CHUNK = 64 * 1024
VERSIONS = ("v1", "v1.0")


def build(services: Any) -> Callable[..., Any]:
    app = SwiftApp(services)
    return TransId(pipeline(app, validate=services.token_validator(), delay_auth_decision=True,
                            token_cache_seconds=CONF.api.token_cache_time))


#: Swift's transaction id: ``tx`` + 21 hex digits + ``-`` + the request's Unix time as 10 hex digits,
#: then ``-<X-Trans-Id-Extra>`` (its first 32 characters, URL-quoted) when the client sent one.
TRANS_EXTRA_CHARS = 32


def new_trans_id(extra: str | None = None, now: float | None = None) -> str:
    """A Swift-shaped transaction id (``tx<21 hex>-<10 hex of the Unix time>[-extra]``)."""
    trans = f"tx{uuid.uuid4().hex[:21]}-{int(time.time() if now is None else now):010x}"
    if extra:
        trans += "-" + quote(extra[:TRANS_EXTRA_CHARS])  # quoted as Swift does ('/' kept)
    return trans


class TransId:
    """Outside the kernel pipeline: the request id *is* the Swift transaction id.

    The kernel's request-id layer keeps an id already in the environ, so the access log,
    the request context, ``X-Openstack-Request-Id`` and ``X-Trans-Id`` all carry this one
    (Swift sends both headers with the same value; Tempest checks the ``tx...`` shape).
    ``X-Trans-Id`` is set here too, so answers made before the Swift app (framing or
    auth faults) carry it as well.
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        trans = environ.get(REQUEST_ID_KEY)
        if not trans:
            extra = environ.get("HTTP_X_TRANS_ID_EXTRA")
            try:  # WSGI hands header values over as latin-1; the extra is text
                extra = extra.encode("latin-1").decode("utf-8") if extra else extra
            except (UnicodeEncodeError, UnicodeDecodeError):
                pass
            trans = environ[REQUEST_ID_KEY] = new_trans_id(extra)

        def _start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers = [h for h in headers if h[0].lower() != "x-trans-id"] + [("X-Trans-Id", trans)]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.app(environ, _start)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on", "t", "y")


def _text(status: int | str, message: str, headers: dict[str, str] | None = None) -> webob.Response:
    resp = webob.Response(status=status, content_type="text/plain", charset="UTF-8")
    resp.text = message + ("\n" if message and not message.endswith("\n") else "")
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _empty(status: int, headers: dict[str, str] | None = None, content_type: str = "text/html") -> webob.Response:
    resp = webob.Response(status=status)
    resp.headerlist = [("Content-Type", f"{content_type}; charset=UTF-8"), ("Content-Length", "0")]
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _headers(req: webob.Request) -> CaseInsensitiveDict[str]:
    """Request headers with values decoded as UTF-8 (WSGI hands them over as latin-1)."""
    out: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    for key, value in req.headers.items():
        try:
            out[key] = value.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            out[key] = value
    return out


def _wsgi_value(value: str) -> str:
    """A header value for WSGI: text beyond latin-1 goes out as UTF-8 bytes, as Swift sends it."""
    try:
        value.encode("latin-1")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8").decode("latin-1")


def _tempurl_outgoing(headers: dict[str, str]) -> dict[str, str]:
    """What a TempURL response shows: no user metadata but ``X-Object-Meta-Public-*``.

    Swift's tempurl defaults (``outgoing_remove_headers``/``outgoing_allow_headers``, as
    ``/info`` advertises): the link's holder is not the object's owner.
    """
    return {k: v for k, v in headers.items()
            if not k.lower().startswith("x-object-meta-") or k.lower().startswith("x-object-meta-public-")}


def _stream(status: int, headers: dict[str, str], body: Any) -> webob.Response:
    """A response whose headers (Content-Length included) are exactly ``headers``."""
    return webob.Response(status=status, headerlist=list(headers.items()), app_iter=body if body is not None else [])


def _modified(value: Any) -> str:
    if isinstance(value, (int, float)):
        return iso(float(value))
    return str(value)


class _Input:
    """The request body as chunks; a broken client connection becomes a 499."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __iter__(self) -> Iterator[bytes]:
        while True:
            try:
                data = self.stream.read(READ_CHUNK)
            except (OSError, ValueError) as err:
                raise SwiftError(499, f"Client disconnected while sending the body: {err}") from None
            except Exception as err:  # cheroot's own errors (malformed chunked encoding...)
                raise SwiftError(400, f"Malformed request body: {err}") from None
            if not data:
                return
            yield data


class SwiftApp:
    """The WSGI application (inside the kernel pipeline: request id, faults, delayed auth)."""

    def __init__(self, services: Any) -> None:
        self.services = services

    @property
    def svc(self) -> Any:
        return self.services.object

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        req = webob.Request(environ)
        try:
            resp = self.dispatch(req)
        except Exception as err:  # every error becomes a Swift-style plain-text answer
            resp = self.error(err, req)
        if any(not v.isascii() for _k, v in resp.headerlist):
            resp.headerlist = [(k, _wsgi_value(v)) for k, v in resp.headerlist]
        return resp(environ, start_response)

    def error(self, err: BaseException, req: webob.Request) -> webob.Response:
        status, title, message = classify(err)
        if status >= 500 and status != 503:
            LOG.error("Request %s %s failed: %s", req.method, req.path_info, err,
                      exc_info=(type(err), err, err.__traceback__))
            if not isinstance(err, exception.CumuloError):
                message = f"An unexpected error prevented the server from fulfilling your request " \
                          f"(request id {req.environ.get(REQUEST_ID_KEY, '-')})"
        headers = dict(getattr(err, "headers", None) or {}) if isinstance(err, SwiftError) else {}
        if status == 401:
            headers.setdefault("WWW-Authenticate", 'Swift realm="cumulo"')
        status_line: int | str = status
        if status == 499:
            status_line = "499 Client Disconnect"
        return _text(status_line, message, headers)

    # ------------------------------------------------------------------ routing
    def dispatch(self, req: webob.Request) -> webob.Response:
        raw = req.environ.get("PATH_INFO", "") or "/"
        try:
            path = raw.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            raise SwiftError(412, "Invalid UTF8 or contains NULL") from None
        if "\x00" in path:
            raise SwiftError(412, "Invalid UTF8 or contains NULL")
        if path.rstrip("/") in ("/info", ""):
            return self.info(req, path)
        if path.rstrip("/") == "/healthcheck":
            return self.healthcheck(req)
        parts = path.split("/", 4)
        if len(parts) < 3 or parts[1] not in VERSIONS or not parts[2]:
            raise exception.NotFound(f"Not Found: {path} is not a Swift v1 path (/v1/<account>/...)")
        account = parts[2]
        container = parts[3] if len(parts) > 3 else ""
        obj = parts[4] if len(parts) > 4 else ""
        try:
            params = {k: v for k, v in req.GET.items()}
        except UnicodeDecodeError:
            raise SwiftError(400, "The query string is not valid UTF-8") from None
        caller = self.caller(req, path, params, account, container, obj)
        handler: dict[str, Callable[..., webob.Response]]  # each takes (req, caller, params, *args)
        if "extract-archive" in params and req.method == "PUT":  # the path is where the archive goes
            return self.extract_archive(req, caller, params, account, "/".join(p for p in (container, obj) if p))
        if obj:
            handler = {"GET": self.get_object, "HEAD": self.get_object, "PUT": self.put_object,
                       "POST": self.post_object, "DELETE": self.delete_object, "COPY": self.copy_object}
            allowed = "COPY, DELETE, GET, HEAD, OPTIONS, POST, PUT"
            args: tuple[str, ...] = (account, container, obj)
        elif container:
            handler = {"GET": self.get_container, "HEAD": self.get_container, "PUT": self.put_container,
                       "POST": self.post_container, "DELETE": self.delete_container}
            allowed = "DELETE, GET, HEAD, OPTIONS, POST, PUT"
            args = (account, container)
        else:
            handler = {"GET": self.get_account, "HEAD": self.get_account, "POST": self.post_account}
            if "bulk-delete" in params:  # Swift's bulk middleware takes DELETE as well as POST
                handler["DELETE"] = self.post_account
            allowed = "GET, HEAD, OPTIONS, POST"
            args = (account,)
        if req.method == "OPTIONS":
            return _empty(200, {"Allow": allowed})
        fn = handler.get(req.method)
        if fn is None:
            return _text(405, f"Method {req.method} is not allowed here; allowed: {allowed}", {"Allow": allowed})
        return fn(req, caller, params, *args)

    def caller(self, req: webob.Request, path: str, params: dict[str, str], account: str, container: str,
               obj: str) -> Caller:
        caller = Caller(ctx=req.environ.get(CONTEXT_KEY), referrer=req.referer, remote_addr=req.remote_addr)
        if "temp_url_sig" in params or "temp_url_expires" in params:
            if not (container and obj):
                raise exception.NotAuthenticated("Temp URL invalid: it must name an object")
            self.svc.check_account(account)
            caller = Caller(ctx=None, referrer=req.referer, remote_addr=req.remote_addr)
            caller.tempurl = self._tempurl_grant(req, path, params, account, container, obj)
        return caller

    def _tempurl_grant(self, req: webob.Request, path: str, params: dict[str, str], account: str,
                       container: str, obj: str) -> Any:
        """The grant of a TempURL signed over the path below the mount point or the whole path.

        Clients sign the path of the object's URL as they know it: python-swiftclient the
        ``/v1/...`` path it is given, Tempest the path of the catalog's endpoint, which here
        includes where the API is mounted (``/object/v1/...``). Both name the same object.

        :raises cumulo_service_object.tempurl.TempURLInvalid: (401) neither path was signed.
        """
        script = (req.environ.get("SCRIPT_NAME") or "").rstrip("/")
        try:
            return self.svc.tempurl_grant(req.method, path, params, req.remote_addr, account, container, obj)
        except exception.NotAuthenticated as err:
            if not script or "expired" in str(err).lower():  # an expired URL is expired by either path
                raise
        try:
            mounted = script.encode("latin-1").decode("utf-8") + path
        except (UnicodeEncodeError, UnicodeDecodeError):
            mounted = script + path
        return self.svc.tempurl_grant(req.method, mounted, params, req.remote_addr, account, container, obj)

    @staticmethod
    def healthcheck(req: webob.Request) -> webob.Response:
        """Swift's healthcheck middleware: ``200 OK`` and the body ``OK``, nothing else, no token needed."""
        if req.method not in ("GET", "HEAD"):
            return _text(405, "Only GET and HEAD are allowed on /healthcheck", {"Allow": "GET, HEAD"})
        resp = webob.Response(status=200)
        resp.headerlist = [("Content-Type", "text/plain"), ("Content-Length", "2")]
        resp.body = b"OK"
        return resp

    def extract_archive(self, req: webob.Request, caller: Caller, params: dict[str, str], account: str,
                        upload_path: str) -> webob.Response:
        body, _length = self._body(req)
        report = extract.extract(self.svc, caller, account, upload_path, params.get("extract-archive") or "",
                                 body, _headers(req))
        if "json" in (req.headers.get("Accept") or ""):
            resp = webob.Response(content_type="application/json", charset="utf-8")
            resp.text = json.dumps(report)
            return resp
        lines = [f"Number Files Created: {report['Number Files Created']}",
                 f"Response Body: {report['Response Body']}", f"Response Status: {report['Response Status']}",
                 "Errors:"] + [f"{name}, {status}" for name, status in report["Errors"]]
        return _text(200, "\n".join(lines))

    def info(self, req: webob.Request, path: str) -> webob.Response:
        if path.rstrip("/") == "":
            body = {"versions": [{"id": "v1.0", "status": "CURRENT", "links": []}]}
            resp = webob.Response(json_body=body, charset="UTF-8")
            return resp
        if req.method not in ("GET", "HEAD", "OPTIONS"):
            return _text(405, "Only GET and HEAD are allowed on /info", {"Allow": "GET, HEAD, OPTIONS"})
        resp = webob.Response(content_type="application/json", charset="UTF-8")
        resp.text = json.dumps({**self.svc.info(), "bulk_upload": extract.info()})
        return resp

    # ------------------------------------------------------------------ listings
    def _listing_opts(self, params: dict[str, str]) -> dict[str, Any]:
        opts: dict[str, Any] = {k: params.get(k, "") for k in ("prefix", "delimiter", "marker", "end_marker")}
        limit = params.get("limit")
        if limit not in (None, ""):
            try:
                opts["limit"] = int(limit)
                if opts["limit"] < 0:
                    raise ValueError
            except ValueError:
                raise SwiftError(412, "Value of limit must be a non-negative integer") from None
        opts["reverse"] = _truthy(params.get("reverse"))
        return opts

    @staticmethod
    def _format(req: webob.Request, params: dict[str, str]) -> str:
        fmt = (params.get("format") or "").lower()
        if fmt in ("json", "xml", "plain"):
            return fmt
        if fmt:  # Swift answers any other ?format= in plain text (Tempest's bulk delete sends format=txt)
            return "plain"
        best = None
        if req.headers.get("Accept"):
            offers = req.accept.acceptable_offers(["text/plain", "application/json", "application/xml", "text/xml"])
            best = offers[0][0] if offers else None
        return {"application/json": "json", "application/xml": "xml", "text/xml": "xml"}.get(best or "", "plain")

    def _listing(self, req: webob.Request, params: dict[str, str], rows: list[dict[str, Any]], kind: str,
                 name: str, headers: dict[str, str]) -> webob.Response:
        fmt = self._format(req, params)
        if kind == "container":  # an account listing lists containers
            fields: tuple[str, ...] = ("name", "count", "bytes", "last_modified")
        else:
            fields = ("name", "hash", "bytes", "content_type", "last_modified")
        clean = []
        for r in rows:
            if "subdir" in r and "name" not in r:
                clean.append({"subdir": r["subdir"]})
            else:
                item: dict[str, Any] = {f: r.get(f) for f in fields}
                item["last_modified"] = _modified(item.get("last_modified") or 0)
                if kind == "object" and item.get("content_type"):
                    ctype, content_size = strip_swift_bytes(item["content_type"])
                    item["content_type"] = ctype
                    if content_size is not None:
                        item["bytes"] = content_size
                clean.append(item)
        if fmt == "json":
            resp = webob.Response(content_type="application/json", charset="utf-8")
            resp.text = json.dumps(clean)
        elif fmt == "xml":
            root = "account" if kind == "container" else "container"
            out = ['<?xml version="1.0" encoding="UTF-8"?>', f"<{root} name={quoteattr(name)}>"]
            for item in clean:
                if "subdir" in item:
                    out.append(f"<subdir name={quoteattr(item['subdir'])}><name>{escape(item['subdir'])}</name>"
                               "</subdir>")
                else:
                    inner = "".join(f"<{f}>{escape(str(item[f]))}</{f}>" for f in fields)
                    out.append(f"<{kind}>{inner}</{kind}>")
            out.append(f"</{root}>")
            resp = webob.Response(content_type="application/xml", charset="utf-8")
            resp.text = "\n".join(out)
        else:
            if not clean:
                return _empty(204, headers, "text/plain")
            resp = webob.Response(content_type="text/plain", charset="utf-8")
            resp.text = "".join((i.get("name") or i.get("subdir") or "") + "\n" for i in clean)
        for k, v in headers.items():
            resp.headers[k] = v
        return resp

    # ------------------------------------------------------------------ accounts
    def _account_headers(self, info: dict[str, Any]) -> dict[str, str]:
        created = float(info.get("created_at") or 0)
        headers = {"X-Account-Container-Count": str(info.get("container_count", 0)),
                   "X-Account-Object-Count": str(info.get("object_count", 0)),
                   "X-Account-Bytes-Used": str(info.get("bytes_used", 0)),
                   "X-Timestamp": timestamp(created), "X-Put-Timestamp": timestamp(created),
                   "X-Account-Storage-Policy-Policy-0-Container-Count": str(info.get("container_count", 0)),
                   "X-Account-Storage-Policy-Policy-0-Object-Count": str(info.get("object_count", 0)),
                   "X-Account-Storage-Policy-Policy-0-Bytes-Used": str(info.get("bytes_used", 0)),
                   "Accept-Ranges": "bytes"}
        for k, v in (info.get("metadata") or {}).items():
            if k.lower().startswith("x-account-meta-"):
                headers[k] = v
        return headers

    def get_account(self, req: webob.Request, caller: Caller, params: dict[str, str],
                    account: str) -> webob.Response:
        if req.method == "HEAD":
            info = self.svc.account_head(caller, account)
            return _empty(204, self._account_headers(info), "text/plain")
        info, rows = self.svc.account_list(caller, account, **self._listing_opts(params))
        return self._listing(req, params, rows, "container", account, self._account_headers(info))

    def post_account(self, req: webob.Request, caller: Caller, params: dict[str, str],
                     account: str) -> webob.Response:
        if "bulk-delete" in params:
            return self.bulk_delete(req, caller, account)
        self.svc.account_post(caller, account, _headers(req))
        return _empty(204)

    def bulk_delete(self, req: webob.Request, caller: Caller, account: str) -> webob.Response:
        most = self.svc.info()["bulk_delete"]["max_deletes_per_request"]
        limit = most * 4200  # paths are at most ~4 KiB quoted
        data = bytearray()
        for chunk in _Input(req.environ["wsgi.input"]):
            data.extend(chunk)
            if len(data) > limit:
                raise SwiftError(413, "Bulk delete request too large")
        try:
            paths = data.decode("utf-8").splitlines()
        except UnicodeDecodeError:
            raise SwiftError(400, "Bulk delete paths must be UTF-8") from None
        report = self.svc.bulk_delete(caller, account, paths)
        return self._report(req, report)

    def _report(self, req: webob.Request, report: dict[str, Any]) -> webob.Response:
        if "json" in (req.headers.get("Accept") or ""):
            resp = webob.Response(content_type="application/json", charset="utf-8")
            resp.text = json.dumps(report)
            return resp
        lines = [f"Number Deleted: {report['Number Deleted']}", f"Number Not Found: {report['Number Not Found']}",
                 f"Response Body: {report['Response Body']}", f"Response Status: {report['Response Status']}",
                 "Errors:"] + [f"{name}, {status}" for name, status in report["Errors"]]
        return _text(200, "\n".join(lines))

    # ------------------------------------------------------------------ containers
    def _container_headers(self, info: dict[str, Any]) -> dict[str, str]:
        created = float(info.get("created_at") or 0)
        headers = {"X-Container-Object-Count": str(info.get("object_count", 0)),
                   "X-Container-Bytes-Used": str(info.get("bytes_used", 0)),
                   "X-Timestamp": timestamp(created), "X-Put-Timestamp": timestamp(created),
                   "X-Storage-Policy": "Policy-0", "Accept-Ranges": "bytes"}
        modified = info.get("last_modified")
        if isinstance(modified, (int, float)):
            headers["Last-Modified"] = http_date(float(modified))
        # The service has already removed what only owners may see (TempURL keys, ACLs).
        for k, v in (info.get("metadata") or {}).items():
            low = k.lower()
            if low.startswith("x-container-meta-") or low in ("x-versions-location", "x-history-location",
                                                              "x-container-read", "x-container-write"):
                headers[k] = v
        return headers

    def get_container(self, req: webob.Request, caller: Caller, params: dict[str, str], account: str,
                      container: str) -> webob.Response:
        if req.method == "HEAD":
            info = self.svc.container_head(caller, account, container)
            return _empty(204, self._container_headers(info), "text/plain")
        info, rows = self.svc.container_list(caller, account, container, **self._listing_opts(params))
        return self._listing(req, params, rows, "object", container,
                             self._container_headers(info))

    def put_container(self, req: webob.Request, caller: Caller, params: dict[str, str], account: str,
                      container: str) -> webob.Response:
        created = self.svc.container_put(caller, account, container, _headers(req))
        return _empty(201 if created else 202)

    def post_container(self, req: webob.Request, caller: Caller, params: dict[str, str], account: str,
                       container: str) -> webob.Response:
        self.svc.container_post(caller, account, container, _headers(req))
        return _empty(204)

    def delete_container(self, req: webob.Request, caller: Caller, params: dict[str, str], account: str,
                         container: str) -> webob.Response:
        try:
            self.svc.container_delete(caller, account, container)
        except Exception as err:
            if getattr(err, "code", None) == 409:
                # Swift's words for a container that is not empty (clients match them).
                raise SwiftError(409, "There was a conflict when trying to complete your request.") from None
            raise
        return _empty(204)

    # ------------------------------------------------------------------ objects
    def _object_headers(self, resolved: Resolved) -> dict[str, str]:
        info = resolved.info
        headers = {"Content-Type": strip_swift_bytes(info.content_type)[0] or "application/octet-stream",
                   "Etag": resolved.etag, "Last-Modified": http_date(info.last_modified),
                   "X-Timestamp": timestamp(info.last_modified), "Accept-Ranges": "bytes"}
        headers.update(resolved.headers)
        if resolved.kind == "slo" or resolved.manifest is not None:
            headers["X-Static-Large-Object"] = "True"
        return headers

    def get_object(self, req: webob.Request, caller: Caller, params: dict[str, str], account: str,
                   container: str, obj: str) -> webob.Response:
        manifest_get = params.get("multipart-manifest") == "get"
        resolved = self.svc.object_read(caller, account, container, obj, manifest_get=manifest_get,
                                        head=req.method == "HEAD")
        try:
            return self._object_response(req, caller, params, resolved, obj, manifest_get)
        except BaseException:
            resolved.close()
            raise

    def _object_response(self, req: webob.Request, caller: Caller, params: dict[str, str], resolved: Resolved,
                         obj: str, manifest_get: bool) -> webob.Response:
        headers = self._object_headers(resolved)
        if caller.tempurl is not None:
            headers = _tempurl_outgoing(headers)
            if req.method == "GET":
                headers["Content-Disposition"] = self._disposition(params, obj)
        if manifest_get and resolved.manifest is not None:
            resolved.close()
            return self._manifest_response(req, params, resolved, headers)
        condition = evaluate_conditions(req.headers, resolved.etag, resolved.info.last_modified, req.method)
        if condition == 304:
            resolved.close()
            return _empty(304, {k: headers[k] for k in ("Etag", "Last-Modified", "X-Timestamp")})
        if condition == 412:
            resolved.close()
            return _text(412, "Precondition Failed", {"Etag": resolved.etag})
        size = resolved.size
        try:
            ranges = parse_ranges(req.headers.get("Range"), size)
        except Unsatisfiable:
            resolved.close()
            return _text(416, "Requested Range Not Satisfiable", {"Content-Range": unsatisfied_range(size)})
        get = req.method == "GET"
        if not get:
            resolved.close()
        if ranges is None:
            headers["Content-Length"] = str(size)
            return _stream(200, headers, resolved.reader(0, size) if get else None)
        if len(ranges) == 1:
            start, end = ranges[0]
            headers["Content-Range"] = content_range(start, end, size)
            headers["Content-Length"] = str(end - start)
            return _stream(206, headers, resolved.reader(start, end) if get else None)
        ctype, length, body = multipart_byteranges(ranges, size, headers["Content-Type"], resolved.reader)
        headers["Content-Type"] = ctype
        headers["Content-Length"] = str(length)
        return _stream(206, headers, body if get else None)

    @staticmethod
    def _disposition(params: dict[str, str], obj: str) -> str:
        if "inline" in params and "filename" not in params:
            return "inline"
        name = params.get("filename") or os.path.basename(obj.rstrip("/")) or obj
        kind = "inline" if "inline" in params else "attachment"
        ascii_name = name.encode("ascii", "replace").decode().replace('"', "")
        return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"

    def _manifest_response(self, req: webob.Request, params: dict[str, str], resolved: Resolved,
                           headers: dict[str, str]) -> webob.Response:
        manifest = resolved.manifest or []
        if params.get("format") == "raw":
            out = []
            for item in manifest:
                seg = {"path": item["name"], "etag": item["hash"], "size_bytes": item["bytes"]}
                if item.get("range"):
                    seg["range"] = item["range"]
                out.append(seg)
            body = json.dumps(out).encode()
        else:
            body = json.dumps(manifest).encode()
        headers = {**headers, "Content-Type": "application/json; charset=utf-8",
                   "Etag": resolved.info.etag, "Content-Length": str(len(body))}
        return _stream(200, headers, [body] if req.method == "GET" else None)

    def _body(self, req: webob.Request) -> tuple[_Input, int | None]:
        raw = req.environ.get("CONTENT_LENGTH")
        chunked = "chunked" in (req.environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
        length = None
        if raw not in (None, "") and not chunked:
            try:
                length = int(raw)
                if length < 0:
                    raise ValueError
            except ValueError:
                raise SwiftError(400, f"Invalid Content-Length {raw!r}") from None
        return _Input(req.environ["wsgi.input"]), length

    def _put_response(self, info: ObjectInfo, src: ObjectInfo | None, src_path: str | None) -> webob.Response:
        headers = {"Etag": info.etag, "Last-Modified": http_date(info.last_modified)}
        if src is not None and src_path:
            headers["X-Copied-From"] = quote(src_path)
            headers["X-Copied-From-Last-Modified"] = http_date(src.last_modified)
            # A copy's answer names the metadata the new object got, as Swift's copy middleware does.
            headers.update({k: v for k, v in info.metadata.items() if k.lower().startswith("x-object-meta-")})
        return _empty(201, headers)

    def put_object(self, req: webob.Request, caller: Caller, params: dict[str, str], account: str,
                   container: str, obj: str) -> webob.Response:
        body, length = self._body(req)
        chunked = "chunked" in (req.environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
        copy_from = req.headers.get("X-Copy-From")
        if copy_from:
            if length:
                raise SwiftError(400, "A copy (X-Copy-From) must not have a body")
        elif length is None and not chunked:
            raise SwiftError(411, "Length Required: send Content-Length or Transfer-Encoding: chunked")
        info, src = self.svc.object_put(caller, account, container, obj, body, length, _headers(req), params)
        src_path = None
        if src is not None and copy_from:
            c, o = split_copy_path(copy_from, "X-Copy-From")
            src_path = f"{c}/{o}"
        return self._put_response(info, src, src_path)

    def post_object(self, req: webob.Request, caller: Caller, params: dict[str, str], account: str,
                    container: str, obj: str) -> webob.Response:
        self.svc.object_post(caller, account, container, obj, _headers(req))
        return _empty(202)

    def delete_object(self, req: webob.Request, caller: Caller, params: dict[str, str], account: str,
                      container: str, obj: str) -> webob.Response:
        report = self.svc.object_delete(caller, account, container, obj, params)
        if report is not None:
            return self._report(req, report)
        return _empty(204)

    def copy_object(self, req: webob.Request, caller: Caller, params: dict[str, str], account: str,
                    container: str, obj: str) -> webob.Response:
        dest = req.headers.get("Destination")
        if not dest:
            raise SwiftError(412, "Destination header required")
        dst_container, dst_obj = split_copy_path(dest, "Destination")
        dst_account = unquote(req.headers.get("Destination-Account") or account)
        info, src = self.svc.object_copy(caller, account, container, obj, dst_account, dst_container, dst_obj,
                                         _headers(req), params)
        resp = self._put_response(info, src, f"{container}/{obj}")
        if dst_account != account:
            resp.headers["X-Copied-From-Account"] = quote(account)
        return resp
