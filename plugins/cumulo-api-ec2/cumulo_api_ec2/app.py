"""The EC2 Query API app: read the request, have its signature verified, dispatch the action, answer XML.

Every request (GET with the parameters in the query, or a form POST) is
handed to ``hub.identity.authenticate_aws`` as signed, before anything else;
the action (``Action=``) is then looked up in the tables the action modules
register (:func:`cumulo_api_ec2.actions.collect`) and called with the
credential's context. Errors are EC2's XML (:mod:`cumulo_api_ec2.render`),
never a JSON fault.
"""

from __future__ import annotations

import hashlib
import logging
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from cumulo import exception
from cumulo import policy as cumulo_policy
from cumulo.context import new_request_id
from cumulo.contracts.identity import AwsAuthentication, AwsAuthError, AwsRequest
from cumulo.wsgi.faults import FaultWrapper
from cumulo.wsgi.middleware import AccessLog, RequestFraming, RequestId
from cumulo.wsgi.request import REQUEST_ID_KEY
from cumulo_api_ec2 import actions, errors, policies, render
from cumulo_api_ec2.actions.base import Call, Handler
from cumulo_api_ec2.params import Params

LOG = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Any]
_FORM = "application/x-www-form-urlencoded"


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    out = {key[5:].replace("_", "-").lower(): str(value) for key, value in environ.items()
           if key.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            out[key.replace("_", "-").lower()] = str(environ[key])
    return out


def _raw_path(environ: dict[str, Any]) -> str:
    """The path as the client sent (and signed) it, the mount prefix included."""
    uri = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if uri:
        path = str(uri).split("?", 1)[0]
        if "://" in path:  # an absolute-form request line
            path = urllib.parse.urlsplit(path).path
        return path or "/"
    return (environ.get("SCRIPT_NAME", "") + urllib.parse.quote(environ.get("PATH_INFO", ""))) or "/"


def _host(environ: dict[str, Any]) -> str:
    host = environ.get("HTTP_HOST")
    if host:
        return str(host)
    port = str(environ.get("SERVER_PORT", ""))
    default = "443" if environ.get("wsgi.url_scheme") == "https" else "80"
    return str(environ.get("SERVER_NAME", "")) + ("" if port in ("", default) else f":{port}")


class Ec2App:
    """The WSGI app behind ``/ec2``."""

    def __init__(self, hub: Any, table: dict[str, Handler] | None = None) -> None:
        self.hub = hub
        self.actions = table if table is not None else actions.collect()
        self.max_body = int(hub.conf.api.max_request_body_size)
        policies.register()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request_id = str(environ.setdefault(REQUEST_ID_KEY, new_request_id()))
        action = "Unknown"
        try:
            method = str(environ.get("REQUEST_METHOD", "GET")).upper()
            if method not in ("GET", "POST"):
                raise errors.Ec2Error("InvalidHttpRequest", f"The EC2 Query API takes GET or POST, not {method}.",
                                      405)
            body = self._body(environ)
            query = tuple(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
            form: tuple[tuple[str, str], ...] = ()
            content_type = str(environ.get("CONTENT_TYPE", "")).split(";", 1)[0].strip().lower()
            if method == "POST" and body and content_type in (_FORM, ""):
                form = tuple(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            auth = self._authenticate(environ, method, query, form, body)
            params = Params(dict(query + form))
            action = params.get("Action") or ""
            if not action:
                raise errors.Ec2Error("MissingAction", "The request must contain the parameter Action")
            handler = self.actions.get(action)
            if handler is None:
                raise errors.Ec2Error("InvalidAction", f"The action {action} is not valid for this web service.")
            if not cumulo_policy.check(auth.context, policies.rule_for(action)):
                raise errors.Ec2Error("UnauthorizedOperation", "You are not authorized to perform this operation.",
                                      403)
            call = Call(hub=self.hub, ctx=auth.context, params=params,
                        region=auth.region or str(self.hub.conf.region_name), request_id=request_id,
                        endpoint=f"{environ.get('wsgi.url_scheme', 'http')}://{_host(environ)}"
                                 f"{environ.get('SCRIPT_NAME', '')}")
            result = handler(call)
            return self._answer(start_response, 200, render.response(action, request_id, result))
        except errors.Ec2Error as err:
            return self._error(start_response, err, request_id)
        except UnicodeDecodeError:
            return self._error(start_response, errors.Ec2Error(
                "InvalidParameterValue", "The request's parameters are not UTF-8."), request_id)
        except exception.CumuloError as err:
            mapped = errors.from_platform(err)
            if mapped.status >= 500:
                LOG.error("EC2 %s failed (request %s): %s", action, request_id, err, exc_info=True)
            return self._error(start_response, mapped, request_id)
        except Exception:
            LOG.exception("EC2 %s failed (request %s)", action, request_id)
            return self._error(start_response, errors.Ec2Error(
                "InternalError", f"An internal error has occurred (request {request_id})", 500), request_id)

    def _body(self, environ: dict[str, Any]) -> bytes:
        length = environ.get("CONTENT_LENGTH")
        stream = environ.get("wsgi.input")
        if stream is None:
            return b""
        try:
            size = int(length) if length not in (None, "") else None
        except ValueError:
            raise errors.Ec2Error("InvalidHttpRequest", "A bad Content-Length.") from None
        if size is not None and size > self.max_body:
            raise errors.Ec2Error("RequestEntityTooLarge", f"The request body is over {self.max_body} bytes.", 413)
        data: bytes = stream.read(size if size is not None else self.max_body + 1)
        if len(data) > self.max_body:
            raise errors.Ec2Error("RequestEntityTooLarge", f"The request body is over {self.max_body} bytes.", 413)
        return data

    def _authenticate(self, environ: dict[str, Any], method: str, query: tuple[tuple[str, str], ...],
                      form: tuple[tuple[str, str], ...], body: bytes) -> AwsAuthentication:
        verify = getattr(self.hub.identity, "authenticate_aws", None)
        if verify is None:
            raise errors.Ec2Error("Unavailable", "This cloud's identity service does not verify AWS signatures.",
                                  503)
        request = AwsRequest(service="ec2", method=method, host=_host(environ), path=_raw_path(environ),
                             query=query, headers=_headers(environ),
                             payload_sha256=hashlib.sha256(body).hexdigest(), form=form)
        try:
            auth: AwsAuthentication = verify(request)
        except AwsAuthError as err:
            raise errors.auth_failure(err.aws_code, err.message) from None
        return auth

    @staticmethod
    def _answer(start_response: Callable[..., Any], status: int, body: bytes) -> list[bytes]:
        reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                  405: "Method Not Allowed", 413: "Request Entity Too Large", 500: "Internal Server Error",
                  503: "Service Unavailable"}.get(status, "Error")
        start_response(f"{status} {reason}", [("Content-Type", "text/xml;charset=UTF-8"),
                                              ("Content-Length", str(len(body)))])
        return [body]

    def _error(self, start_response: Callable[..., Any], err: errors.Ec2Error, request_id: str) -> list[bytes]:
        return self._answer(start_response, err.status, render.error(err.code, err.message, request_id))


def build(hub: Any) -> WSGIApp:
    """The whole app: request ids and the access log around :class:`Ec2App` (which answers its own errors)."""
    return RequestId(AccessLog(FaultWrapper(RequestFraming(Ec2App(hub)))))
