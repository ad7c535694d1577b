"""S3 answers: bodies with their headers, ``<Error>`` documents, object-area errors as S3's codes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import webob

from cumulo import exception
from cumulo_api_s3.errors import S3Error
from cumulo_api_s3.xmlio import Node, document

if TYPE_CHECKING:
    from cumulo_api_s3.request import S3Request


def quote_etag(etag: str) -> str:
    return '"' + etag.strip('"') + '"'


def response(status: int, body: bytes = b"", headers: dict[str, str] | None = None,
             content_type: str | None = None, app_iter: Iterable[bytes] | None = None) -> webob.Response:
    """An answer whose headers are exactly these (with Content-Length: ``body``'s unless given)."""
    headerlist: list[tuple[str, str]] = [("Content-Type", content_type)] if content_type else []
    headerlist += list((headers or {}).items())
    if app_iter is None:
        app_iter = [body] if body else []
        if not any(k.lower() == "content-length" for k, _v in headerlist):
            headerlist.append(("Content-Length", str(len(body))))
    return webob.Response(status=status, headerlist=headerlist, app_iter=app_iter)


def xml(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> webob.Response:
    return response(status, body, headers, "application/xml")


def error_response(err: S3Error, req: S3Request | None, request_id: str) -> webob.Response:
    fields: list[Node] = [("Code", err.code), ("Message", err.message)]
    fields += [(k, v) for k, v in err.fields.items()]
    fields += [("Resource", req.resource if req is not None else "/"), ("RequestId", request_id)]
    head = req is not None and req.method == "HEAD"
    body = document("Error", fields, namespace=False)
    return response(err.status, b"" if head else body, dict(err.headers), "application/xml")


def to_s3_error(err: BaseException, not_found: str = "NoSuchKey") -> S3Error:
    """The S3 error for an object-area error (or any other), ``not_found`` for its 404s."""
    if isinstance(err, S3Error):
        return err
    code = getattr(err, "code", None)
    message = str(getattr(err, "message", "") or err)
    if isinstance(err, exception.NotAuthenticated | exception.Forbidden) or code in (401, 403):
        return S3Error("AccessDenied")
    if code == 404:
        return S3Error(not_found)
    if code == 413:
        if "quota" in message.lower():
            return S3Error("QuotaExceeded", message)
        return S3Error("EntityTooLarge", message)
    if code == 412:
        return S3Error("PreconditionFailed")
    if code == 416:
        return S3Error("InvalidRange")
    if code == 422:
        return S3Error("BadDigest")
    if code == 499:
        return S3Error("IncompleteBody", message)
    if code == 409:
        return S3Error("OperationAborted", message, status=409)
    if code == 411:
        return S3Error("MissingContentLength")
    if code == 503:
        return S3Error("ServiceUnavailable", message, headers={"Retry-After": "1"})
    if isinstance(code, int) and 400 <= code < 500:
        if "metadata" in message.lower():
            return S3Error("MetadataTooLarge", message)
        if "name" in message.lower() and "length" in message.lower():
            return S3Error("KeyTooLongError", message)
        return S3Error("InvalidArgument", message, status=400)
    return S3Error("InternalError")
