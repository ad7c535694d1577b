"""The identity area's contract for AWS-signed requests: what the EC2 and S3 frontends call on ``hub.identity``.

An AWS client signs each request with the secret of an EC2 credential
(``openstack ec2 credentials create``). A frontend never sees that secret: it
hands the request as signed (:class:`AwsRequest`) to
:meth:`AwsSignatureService.authenticate_aws`, and the identity area rebuilds
the canonical request, checks the signature against the stored secret, the
clock skew and replays, and returns the credential's project context::

    try:
        auth = hub.identity.authenticate_aws(AwsRequest(...))
    except AwsAuthError as err:      # err.aws_code: one of AWS_AUTH_ERRORS
        ... answer err.aws_code in the frontend's own error format ...
    hub.compute.list_servers(auth.context, ...)

Signature Version 4 (``Authorization: AWS4-HMAC-SHA256 ...`` or the
``X-Amz-*`` query parameters of a presigned URL), Version 2 of the EC2 Query
API (``SignatureVersion=2``) and the S3 ``Authorization: AWS <access>:<sig>``
header (and its presigned ``Signature``/``Expires`` query form) are verified.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Protocol

from cumulo import exception
from cumulo.context import RequestContext

#: Version of this contract ("MAJOR.MINOR"): a new method, field or error is a minor change,
#: a removed or renamed one a major change.
CONTRACT_VERSION = "1.0"

#: The codes :class:`AwsAuthError` carries. Each frontend renders them in its own protocol's shape
#: (EC2: ``AuthFailure`` 401...; S3: ``SignatureDoesNotMatch`` 403...).
AWS_AUTH_ERRORS: tuple[str, ...] = (
    "MissingAuthenticationToken",  # no signature at all
    "IncompleteSignature",  # a signature whose required parts (credential scope, signed headers, date) are missing
    "InvalidAccessKeyId",  # no EC2 credential has this access key
    "SignatureDoesNotMatch",  # the signature is not the one the stored secret gives
    "RequestExpired",  # the request's date is outside the allowed clock skew, or a presigned URL expired
    "ReplayedRequest",  # this exact signature was accepted before, within the skew window
    "AccessDenied",  # the credential is valid but its user, project or domain is disabled or has no role there
)

#: The AWS services a request can be signed for (the ``service`` part of a SigV4 credential scope).
AWS_SERVICES: tuple[str, ...] = ("ec2", "s3")

__all__ = ["AWS_AUTH_ERRORS", "AWS_SERVICES", "CONTRACT_VERSION", "AwsAuthError", "AwsAuthentication", "AwsRequest",
           "AwsSignatureService"]


@dataclasses.dataclass(frozen=True)
class AwsRequest:
    """An HTTP request as the client signed it, before the frontend acted on it.

    ``path`` is the raw request path as sent (percent-encoded, the frontend's mount prefix included:
    the client signed what it sent), except for an S3 V2 signature (``Authorization: AWS ...``), whose
    string to sign holds S3's canonicalized resource instead: ``/<bucket>/<key>`` without the mount
    prefix (as botocore signs it), which only the S3 frontend can tell apart. ``query`` holds the decoded query parameters in the order sent;
    for the EC2 Query API sent as a form POST, the frontend passes the form fields in ``form`` (signed
    in SigV2; SigV4 signs the body through ``payload_sha256``). ``headers`` has lowercase names.
    ``payload_sha256`` is the hex SHA-256 of the body, or the ``x-amz-content-sha256`` value the client
    sent (``UNSIGNED-PAYLOAD``...): the frontend checks a signed body against it as it reads it.
    """

    service: str  # one of AWS_SERVICES
    method: str
    host: str  # the Host header as sent (with its port when the client sent one)
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    payload_sha256: str = ""
    form: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class AwsAuthentication:
    """A verified request: the EC2 credential's access key and its user's context on the credential's project."""

    access_key: str
    context: RequestContext
    #: The SigV4 region of the credential scope ("" for SigV2 and S3 V2 signatures).
    region: str = ""


class AwsAuthError(exception.NotAuthenticated):
    """The request's signature was not accepted; ``aws_code`` is one of :data:`AWS_AUTH_ERRORS`
    (``code`` stays the HTTP status, 401, as for every :class:`~cumulo.exception.CumuloError`)."""

    def __init__(self, aws_code: str, message: str) -> None:
        super().__init__(message)
        self.aws_code = aws_code


class AwsSignatureService(Protocol):
    """What ``hub.identity`` offers the AWS frontends."""

    def authenticate_aws(self, request: AwsRequest) -> AwsAuthentication:
        """Verify ``request``'s AWS signature against the stored EC2 credential of its access key.

        :raises AwsAuthError: the signature is missing, malformed, wrong, too old or too new, replayed,
            or its credential's user or project cannot act (``aws_code`` says which).
        """
        ...
