"""Who signed an S3 request: the request as signed (:class:`~cumulo.contracts.identity.AwsRequest`) for
``hub.identity.authenticate_aws``, and its :class:`~cumulo.contracts.identity.AwsAuthError` codes as S3's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote

from cumulo.contracts.identity import AwsAuthError, AwsRequest
from cumulo_api_s3.errors import S3Error

#: Query parameters of a presigned URL (V4 and V2): they sign the request, they are no S3 sub-resource.
SIGNATURE_PARAMS = frozenset({
    "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires", "x-amz-signedheaders",
    "x-amz-signature", "x-amz-security-token", "awsaccesskeyid", "signature", "expires"})


def raw_path(environ: Mapping[str, Any]) -> str:
    """The path as the client sent it (percent-encoded, the mount prefix included): what it signed.

    cheroot gives the request target as ``REQUEST_URI``; an absolute-form target loses its scheme and
    host. Without it (another server), the decoded path is quoted back.
    """
    uri = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if uri:
        path = str(uri).split("?", 1)[0]
        if "://" in path[:10]:
            rest = path.split("://", 1)[1]
            path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
        return path or "/"
    script = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    return quote(script.encode("latin-1"), safe="/~!$&'()*+,;=:@") or "/"


def query_pairs(environ: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The decoded query parameters in the order sent (``?uploads`` is ``("uploads", "")``).

    :raises S3Error: InvalidURI when they are not UTF-8.
    """
    raw = environ.get("QUERY_STRING", "") or ""
    try:
        return tuple(parse_qsl(raw.encode("latin-1").decode("utf-8"), keep_blank_values=True, errors="strict"))
    except (UnicodeError, ValueError):
        raise S3Error("InvalidURI", "The query string is not valid UTF-8") from None


def lower_headers(environ: Mapping[str, Any]) -> dict[str, str]:
    """The request's headers with lowercase names (values as WSGI gives them)."""
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = str(value)
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def signed(headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
    """Whether the request carries an AWS signature (a header, or a presigned URL's parameters)."""
    auth = headers.get("authorization", "")
    return bool(auth) or "X-Amz-Algorithm" in query or "Signature" in query or "X-Amz-Signature" in query


def presigned(query: Mapping[str, str]) -> bool:
    return "X-Amz-Signature" in query or "X-Amz-Algorithm" in query or "Signature" in query


def signature_v2(headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
    """Whether the request is signed with S3's Signature Version 2 (``AWS access:sig`` or ``Signature=``)."""
    if headers.get("authorization", "").startswith("AWS "):
        return True
    return "Signature" in query and "X-Amz-Signature" not in query


def aws_request(environ: Mapping[str, Any], method: str, headers: Mapping[str, str],
                pairs: tuple[tuple[str, str], ...], resource: str) -> AwsRequest:
    """The request as the identity area verifies it; the payload hash is the one the client declared.

    SigV4 signs the path as sent (the ``/s3`` mount included). Signature Version 2 signs S3's
    canonical resource instead, ``/<bucket>/<key>`` as sent whatever the host or mount (botocore's
    ``auth_path``): ``resource``.
    """
    query = dict(pairs)
    path = resource if signature_v2(headers, query) else raw_path(environ)
    payload = headers.get("x-amz-content-sha256", "")
    if not payload and (presigned(query) or not headers.get("authorization", "").startswith("AWS4-")):
        payload = "UNSIGNED-PAYLOAD"  # a presigned URL and the V2 signatures do not sign the body
    return AwsRequest(service="s3", method=method, host=headers.get("host", ""), path=path,
                      query=pairs, headers=dict(headers), payload_sha256=payload)


def s3_error(err: AwsAuthError, is_presigned: bool) -> S3Error:
    """The S3 error for an identity verdict (codes as AWS S3 answers them)."""
    code = err.aws_code
    message = str(getattr(err, "message", "") or err)
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return S3Error(code)
    if code == "RequestExpired":
        if is_presigned:
            return S3Error("AccessDenied", "Request has expired")
        return S3Error("RequestTimeTooSkewed")
    if code == "IncompleteSignature":
        return S3Error("AccessDenied" if is_presigned else "InvalidRequest", message or None,
                       status=403 if is_presigned else 400)
    if code == "MissingAuthenticationToken":
        return S3Error("AccessDenied", "Anonymous access is not allowed: sign the request")
    return S3Error("AccessDenied", message or None)
