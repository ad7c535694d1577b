"""Tokens for AWS-signed requests, as Keystone has them: ``POST /v3/ec2tokens`` and ``POST /v3/s3tokens``.

A service in front of an AWS-style API (an EC2 API, Swift's s3api) sends what
the client signed; the identity service checks the signature against the EC2
credential's secret (which never leaves it) and answers with a token of the
credential's user on its project. Both need no token, as in Keystone.

* ``ec2tokens``: ``{"credentials": {"access", "signature", "host", "verb", "path",
  "params", "headers", "body_hash"}}`` (or ``"ec2Credentials"``, ``"credential"``);
  SigV2 when ``params`` has ``SignatureVersion``, SigV4 when the ``Authorization``
  header or ``params`` has ``X-Amz-Algorithm``. 200 with the token body and
  ``X-Subject-Token``.
* ``s3tokens``: ``{"credentials": {"access", "token", "signature"}}`` where ``token``
  is the base64 of the string to sign the caller computed. 200 with the token body.

An unknown access key is Keystone's 404 (``EC2 access key not found.``); any
other refusal is a 401 with Keystone's error JSON.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cumulo import exception
from cumulo.contracts.identity import AWS_SERVICES, AwsAuthentication, AwsAuthError, AwsRequest
from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller

_STR = {"type": "string", "maxLength": 65536}
_CREDENTIALS = {
    "type": "object",
    "properties": {"access": {"type": "string", "minLength": 1, "maxLength": 255}, "signature": _STR,
                   "host": _STR, "verb": {"type": "string", "maxLength": 16}, "path": _STR, "token": _STR,
                   "params": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
                   "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                   "body_hash": {"type": ["string", "null"], "maxLength": 128}},
}
AWS_TOKEN_BODY = {"type": "object", "properties": {"credentials": _CREDENTIALS, "credential": _CREDENTIALS,
                                                   "ec2Credentials": _CREDENTIALS}}


def _credentials(body: dict[str, Any]) -> dict[str, Any]:
    creds = body.get("credentials") or body.get("credential") or body.get("ec2Credentials") or {}
    if not creds.get("access"):
        raise exception.NotAuthenticated("EC2 signature not supplied.")
    if not creds.get("signature"):
        raise exception.NotAuthenticated("EC2 signature not supplied.")
    return creds


def _keystone_fault(err: AwsAuthError) -> exception.CumuloError:
    if err.aws_code == "InvalidAccessKeyId":
        return exception.NotFound("EC2 access key not found.", resource="credential", id="")
    return exception.NotAuthenticated(f"{err.aws_code}: {err.message}")


def _v4_service(creds: dict[str, Any], headers: dict[str, str], params: dict[str, str]) -> str:
    credential = params.get("X-Amz-Credential", "")
    auth = headers.get("authorization", "")
    if "Credential=" in auth:
        credential = auth.partition("Credential=")[2].split(",")[0].strip()
    parts = credential.split("/")
    return parts[-2] if len(parts) >= 5 and parts[-2] in AWS_SERVICES else "ec2"


def ec2_request(creds: dict[str, Any], host: str) -> AwsRequest:
    """The signed request an ec2tokens body describes."""
    params = {str(k): str(v) for k, v in (creds.get("params") or {}).items()}
    headers = {str(k).lower(): str(v) for k, v in (creds.get("headers") or {}).items()}
    verb = str(creds.get("verb") or "GET").upper()
    path = str(creds.get("path") or "/")
    signature = str(creds["signature"])
    if "x-amz-date" in headers or headers.get("authorization", "").startswith("AWS4-HMAC-SHA256") \
            or "X-Amz-Algorithm" in params:
        if headers.get("authorization", "").startswith("AWS4-HMAC-SHA256"):
            if "Signature=" not in headers["authorization"]:
                headers["authorization"] = headers["authorization"].rstrip(", ") + f", Signature={signature}"
        elif "X-Amz-Algorithm" in params:
            params.setdefault("X-Amz-Signature", signature)
        headers.setdefault("host", host)
        # As Keystone's signer: a POST signs its parameters through the body hash, not the query.
        query = () if verb == "POST" else tuple(params.items())
        return AwsRequest(service=_v4_service(creds, headers, params), method=verb, host=host, path=path,
                          query=query, headers=headers, payload_sha256=str(creds.get("body_hash") or ""))
    params.setdefault("AWSAccessKeyId", str(creds["access"]))
    params["Signature"] = signature
    return AwsRequest(service="ec2", method=verb, host=host, path=path, query=tuple(params.items()),
                      headers=headers)


class AwsTokens(Controller):
    """``/v3/ec2tokens`` and ``/v3/s3tokens`` (no token needed, no policy: Keystone's are unenforced)."""

    def add_routes(self, router: Router) -> None:
        """The two POST routes."""
        router.add("POST", "/v3/ec2tokens", self.ec2tokens)
        router.add("POST", "/v3/s3tokens", self.s3tokens)

    def _token_doc(self, auth: AwsAuthentication) -> tuple[str, dict[str, Any]]:
        token = str(auth.context.auth_token)
        return token, self.svc.token_body(self.svc.validate_token_data(token))

    def ec2tokens(self, req: Request) -> Any:
        creds = _credentials(self.body(req, AWS_TOKEN_BODY))
        host = str(creds.get("host") or "")
        try:
            try:
                auth = self.svc.authenticate_aws(ec2_request(creds, host))
            except AwsAuthError as err:
                # Keystone: some clients sign without the port, so try the host without it too.
                if err.aws_code != "SignatureDoesNotMatch" or ":" not in host:
                    raise
                auth = self.svc.authenticate_aws(ec2_request(creds, host.rsplit(":", 1)[0]))
        except AwsAuthError as err:
            raise _keystone_fault(err) from None
        token, doc = self._token_doc(auth)
        return 200, doc, {"X-Subject-Token": token}

    def s3tokens(self, req: Request) -> Any:
        creds = _credentials(self.body(req, AWS_TOKEN_BODY))
        try:
            string_to_sign = base64.urlsafe_b64decode(str(creds.get("token") or "").encode("ascii")).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError):
            raise exception.NotAuthenticated("Invalid EC2 signature: the token is not base64 of a string to sign.") \
                from None
        if not string_to_sign:
            raise exception.NotAuthenticated("Invalid EC2 signature: the token (the string to sign) is missing.")
        try:
            auth = self.svc.verify_aws_string_to_sign(str(creds["access"]), string_to_sign, str(creds["signature"]))
        except AwsAuthError as err:
            raise _keystone_fault(err) from None
        return 200, self._token_doc(auth)[1]
