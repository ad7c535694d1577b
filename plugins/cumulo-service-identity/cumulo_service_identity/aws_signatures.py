"""AWS request signatures, verified against the EC2 credentials' secrets (``hub.identity.authenticate_aws``).

The AWS frontends (EC2, S3) hand a request as the client signed it
(:class:`cumulo.contracts.identity.AwsRequest`); this module rebuilds the
string the client signed, signs it with the stored secret of the access key,
compares in constant time, checks the clock skew (``[identity]
aws_signature_max_skew``) and replays, and returns the context a token of the
credential's user on its project gives. Supported:

* Signature Version 4: the ``Authorization: AWS4-HMAC-SHA256`` header and the
  ``X-Amz-*`` query parameters of a presigned URL (S3 signs the path as sent;
  other services sign each path segment encoded once more);
* Version 2 of the EC2 Query API (``SignatureVersion=2``, in the query or the form body);
* S3's ``Authorization: AWS <access>:<signature>`` header and its presigned
  ``AWSAccessKeyId``/``Signature``/``Expires`` query form.

The secret never leaves this area: :meth:`AwsSignatureMixin.verify_aws_string_to_sign`
(Keystone's ``POST /v3/s3tokens``) checks a string to sign a caller built.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime
import email.utils
import hashlib
import hmac
import threading
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

from cumulo import exception
from cumulo.context import RequestContext
from cumulo.contracts.identity import AwsAuthentication, AwsAuthError, AwsRequest
from cumulo_service_identity.util import new_audit_id

V4_ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_PRESIGNED_EXPIRES = 7 * 24 * 3600  # AWS: a presigned SigV4 URL lives at most 7 days
SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"

#: The S3 sub-resources (and response overrides) that belong to a V2 string to sign's resource.
S3_SUBRESOURCES = frozenset((
    "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory", "lifecycle", "location",
    "logging", "metrics", "notification", "object-lock", "partNumber", "policy", "replication", "requestPayment",
    "response-cache-control", "response-content-disposition", "response-content-encoding",
    "response-content-language", "response-content-type", "response-expires", "restore", "select", "select-type",
    "storageClass", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning", "versions", "website",
))


@dataclasses.dataclass(frozen=True)
class Ec2Secret:
    """An EC2 credential as this area reads it to verify a signature (never handed out)."""

    access: str
    secret: str
    user_id: str
    project_id: str
    trust_id: str | None = None


@dataclasses.dataclass(frozen=True)
class SignedClaim:
    """What a signed request claims: who signed what string, how, and when.

    ``kind`` is ``v4`` (hex HMAC-SHA256 with the derived key of ``scope``), ``v2-sha256`` or
    ``v2-sha1`` (base64 HMAC of the secret). ``signed_at`` is the request's time (None: unknown, no
    skew check); ``expires_at`` the end of a presigned URL or an EC2 ``Expires``. ``replay_key`` is
    set for a header signature of a request that changes something.
    """

    access: str
    kind: str
    string_to_sign: str
    signature: str
    scope: tuple[str, str, str] = ("", "", "")  # date, region, service (SigV4)
    signed_at: float | None = None
    expires_at: float | None = None
    replay_key: str | None = None


def _fail(code: str, message: str) -> AwsAuthError:
    return AwsAuthError(code, message)


# -- encodings -------------------------------------------------------------------------------
def _quote(text: str, safe: str = "-_.~") -> str:
    return urllib.parse.quote(text.encode("utf-8"), safe=safe)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, and consecutive slashes collapse (what AWS services other than S3 sign)."""
    if not path:
        return "/"
    out: list[str] = []
    for seg in path.split("/"):
        if seg and seg != ".":
            if seg == "..":
                if out:
                    out.pop()
            else:
                out.append(seg)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and out else ""
    return first + "/".join(out) + last


def canonical_uri(service: str, path: str) -> str:
    """The SigV4 canonical URI of a raw (percent-encoded as sent) path: as sent for S3; for the
    other services normalized, and encoded once more (so each segment is encoded twice)."""
    if service == "s3":
        return path or "/"
    return _quote(_remove_dot_segments(path), safe="/~")


def canonical_query(pairs: tuple[tuple[str, str], ...] | list[tuple[str, str]], exclude: str = "") -> str:
    """SigV4's canonical query string of decoded ``pairs``: encoded, sorted by name then value."""
    encoded = sorted((_quote(k), _quote(v)) for k, v in pairs if k != exclude)
    return "&".join(f"{k}={v}" for k, v in encoded)


def _trim(value: str) -> str:
    return " ".join(value.split())


def _http_date(value: str) -> float | None:
    """An RFC 1123 date, an ISO 8601 date or a SigV4 timestamp, as seconds since the epoch; None if neither."""
    value = value.strip()
    for parse in (_parse_sigv4, _parse_iso, _parse_rfc1123):
        ts = parse(value)
        if ts is not None:
            return ts
    return None


def _parse_sigv4(value: str) -> float | None:
    try:
        return datetime.datetime.strptime(value, SIGV4_TIMESTAMP).replace(tzinfo=datetime.UTC).timestamp()
    except ValueError:
        return None


def _parse_iso(value: str) -> float | None:
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


def _parse_rfc1123(value: str) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


def _hmac(key: bytes, msg: str, digest: Any = hashlib.sha256) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), digest).digest()


def v4_signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k = _hmac(f"AWS4{secret}".encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def expected_signature(claim: SignedClaim, secret: str) -> str:
    """The signature ``secret`` gives ``claim``'s string to sign, in the claim's encoding."""
    if claim.kind == "v4":
        return hmac.new(v4_signing_key(secret, *claim.scope), claim.string_to_sign.encode("utf-8"),
                        hashlib.sha256).hexdigest()
    digest = hashlib.sha1 if claim.kind == "v2-sha1" else hashlib.sha256
    return base64.b64encode(_hmac(secret.encode("utf-8"), claim.string_to_sign, digest)).decode("ascii")


# -- parsing the request ------------------------------------------------------------------------
def _parse_credential(credential: str, service: str) -> tuple[str, tuple[str, str, str]]:
    parts = credential.rsplit("/", 4)
    if len(parts) != 5 or not all(parts) or parts[4] != "aws4_request":
        raise _fail("IncompleteSignature", "The credential must be <access>/<date>/<region>/<service>/aws4_request.")
    access, date, region, scope_service = parts[:4]
    if scope_service != service:
        raise _fail("SignatureDoesNotMatch", f"The credential should be scoped to the service {service!r}.")
    return access, (date, region, scope_service)


def _check_amz_headers_signed(service: str, headers: dict[str, str], signed: list[str]) -> None:
    """S3 refuses x-amz-* headers left out of a SigV4 signature (else a presigned PUT's holder could add
    ``x-amz-acl: public-read``, say)."""
    if service != "s3":
        return
    unsigned = sorted(n for n in headers if n.startswith("x-amz-") and n not in signed)
    if unsigned:
        raise _fail("IncompleteSignature", "There were headers present in the request which were not signed: "
                                           + ", ".join(unsigned))


def _canonical_headers(headers: dict[str, str], signed: list[str]) -> str:
    return "".join(f"{name}:{_trim(headers.get(name, ''))}\n" for name in signed)


def _signed_header_list(value: str) -> list[str]:
    names = [n.strip().lower() for n in value.split(";") if n.strip()]
    if "host" not in names:
        raise _fail("IncompleteSignature", "The signed headers must include host.")
    return names


def _v4_string_to_sign(timestamp: str, scope: tuple[str, str, str], canonical_request: str) -> str:
    return "\n".join((V4_ALGORITHM, timestamp, "/".join((*scope, "aws4_request")),
                      hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()))


def _headers_of(request: AwsRequest) -> dict[str, str]:
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers.setdefault("host", request.host)
    return headers


def _claim_v4_header(request: AwsRequest, auth: str) -> SignedClaim:
    fields: dict[str, str] = {}
    for part in auth[len(V4_ALGORITHM):].split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
    if missing:
        raise _fail("IncompleteSignature", f"The Authorization header lacks {', '.join(missing)}.")
    access, scope = _parse_credential(fields["Credential"], request.service)
    headers = _headers_of(request)
    signed = _signed_header_list(fields["SignedHeaders"])
    if headers.get("x-amz-date"):
        timestamp = headers["x-amz-date"].strip()
        signed_at = _parse_sigv4(timestamp)
    elif headers.get("date"):
        signed_at = _parse_rfc1123(headers["date"])
        timestamp = time.strftime(SIGV4_TIMESTAMP, time.gmtime(signed_at)) if signed_at is not None else ""
    else:
        raise _fail("IncompleteSignature", "A SigV4 request needs an X-Amz-Date or a Date header.")
    if signed_at is None:
        raise _fail("IncompleteSignature", "The request date is not a valid date.")
    if timestamp[:8] != scope[0]:
        raise _fail("SignatureDoesNotMatch", "The date of the credential scope is not the date of the request.")
    _check_amz_headers_signed(request.service, headers, signed)
    payload = request.payload_sha256 or headers.get("x-amz-content-sha256") or EMPTY_SHA256
    canonical = "\n".join((request.method.upper(), canonical_uri(request.service, request.path),
                           canonical_query(request.query), _canonical_headers(headers, signed),
                           ";".join(signed), payload))
    replay = None if request.method.upper() in ("GET", "HEAD") else f"v4:{access}:{fields['Signature']}"
    return SignedClaim(access, "v4", _v4_string_to_sign(timestamp, scope, canonical), fields["Signature"], scope,
                       signed_at=signed_at, replay_key=replay)


def _claim_v4_query(request: AwsRequest, params: dict[str, str]) -> SignedClaim:
    if params.get("X-Amz-Algorithm") != V4_ALGORITHM:
        raise _fail("IncompleteSignature", f"X-Amz-Algorithm must be {V4_ALGORITHM}.")
    missing = [k for k in ("X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
                           "X-Amz-Signature") if not params.get(k)]
    if missing:
        raise _fail("IncompleteSignature", f"The presigned request lacks {', '.join(missing)}.")
    access, scope = _parse_credential(params["X-Amz-Credential"], request.service)
    timestamp = params["X-Amz-Date"]
    signed_at = _parse_sigv4(timestamp)
    if signed_at is None:
        raise _fail("IncompleteSignature", "X-Amz-Date must be an ISO 8601 basic timestamp (YYYYMMDDTHHMMSSZ).")
    try:
        expires = int(params["X-Amz-Expires"])
    except ValueError:
        raise _fail("IncompleteSignature", "X-Amz-Expires must be a number of seconds.") from None
    if not 0 < expires <= MAX_PRESIGNED_EXPIRES:
        raise _fail("IncompleteSignature", f"X-Amz-Expires must be between 1 and {MAX_PRESIGNED_EXPIRES} seconds.")
    if timestamp[:8] != scope[0]:
        raise _fail("SignatureDoesNotMatch", "The date of the credential scope is not the date of the request.")
    signed = _signed_header_list(params["X-Amz-SignedHeaders"])
    headers = _headers_of(request)
    _check_amz_headers_signed(request.service, headers, signed)
    payload = UNSIGNED_PAYLOAD if request.service == "s3" else (request.payload_sha256 or EMPTY_SHA256)
    canonical = "\n".join((request.method.upper(), canonical_uri(request.service, request.path),
                           canonical_query(request.query, exclude="X-Amz-Signature"),
                           _canonical_headers(headers, signed), ";".join(signed), payload))
    return SignedClaim(access, "v4", _v4_string_to_sign(timestamp, scope, canonical), params["X-Amz-Signature"],
                       scope, signed_at=signed_at, expires_at=signed_at + expires)


def _claim_ec2_v2(request: AwsRequest, pairs: tuple[tuple[str, str], ...]) -> SignedClaim:
    params = dict(pairs)
    if params.get("SignatureVersion") != "2":
        raise _fail("IncompleteSignature", "Only SignatureVersion 2 (or Signature Version 4) is supported.")
    method = params.get("SignatureMethod")
    if method not in ("HmacSHA256", "HmacSHA1"):
        raise _fail("IncompleteSignature", "SignatureMethod must be HmacSHA256 or HmacSHA1.")
    missing = [k for k in ("AWSAccessKeyId", "Signature") if not params.get(k)]
    if missing:
        raise _fail("IncompleteSignature", f"The request lacks {', '.join(missing)}.")
    signed_at = expires_at = None
    if params.get("Timestamp"):
        signed_at = _http_date(params["Timestamp"])
        if signed_at is None:
            raise _fail("IncompleteSignature", "Timestamp is not an ISO 8601 date.")
    elif params.get("Expires"):
        expires_at = _http_date(params["Expires"])
        if expires_at is None:
            raise _fail("IncompleteSignature", "Expires is not an ISO 8601 date.")
    else:
        raise _fail("IncompleteSignature", "The request needs a Timestamp or an Expires parameter.")
    encoded = sorted((_quote(k, "-_~"), _quote(v, "-_~")) for k, v in pairs if k != "Signature")
    string_to_sign = "\n".join((request.method.upper(), request.host.lower(), request.path or "/",
                                "&".join(f"{k}={v}" for k, v in encoded)))
    kind = "v2-sha256" if method == "HmacSHA256" else "v2-sha1"
    return SignedClaim(params["AWSAccessKeyId"], kind, string_to_sign, params["Signature"],
                       signed_at=signed_at, expires_at=expires_at)


def s3_v2_string_to_sign(method: str, path: str, query: tuple[tuple[str, str], ...], headers: dict[str, str],
                         date: str) -> str:
    """S3's V2 string to sign: method, Content-MD5, Content-Type, ``date``, the x-amz-* headers, the
    resource (the path as sent with its sub-resources)."""
    amz: dict[str, list[str]] = {}
    for name, value in headers.items():
        if name.startswith("x-amz-"):
            amz.setdefault(name, []).append(value.strip())
    lines = [method.upper(), headers.get("content-md5", "").strip(), headers.get("content-type", "").strip(), date]
    lines += [f"{name}:{','.join(amz[name])}" for name in sorted(amz)]
    subs = sorted((k, v) for k, v in query if k in S3_SUBRESOURCES)
    resource = path or "/"
    if subs:
        resource += "?" + "&".join(k if v == "" else f"{k}={v}" for k, v in subs)
    return "\n".join([*lines, resource])


def _claim_s3_v2_header(request: AwsRequest, auth: str) -> SignedClaim:
    access, sep, signature = auth[len("AWS "):].strip().rpartition(":")
    if not sep or not access or not signature:
        raise _fail("IncompleteSignature", "The Authorization header must be 'AWS <access>:<signature>'.")
    headers = _headers_of(request)
    when = headers.get("x-amz-date") or headers.get("date")
    if not when:
        raise _fail("IncompleteSignature", "The request needs a Date or an X-Amz-Date header.")
    signed_at = _http_date(when)
    if signed_at is None:
        raise _fail("IncompleteSignature", "The request date is not a valid date.")
    date = "" if headers.get("x-amz-date") else headers.get("date", "").strip()
    sts = s3_v2_string_to_sign(request.method, request.path, request.query, headers, date)
    replay = None if request.method.upper() in ("GET", "HEAD") else f"s3v2:{access}:{signature}"
    return SignedClaim(access, "v2-sha1", sts, signature, signed_at=signed_at, replay_key=replay)


def _claim_s3_v2_query(request: AwsRequest, params: dict[str, str]) -> SignedClaim:
    missing = [k for k in ("AWSAccessKeyId", "Signature", "Expires") if not params.get(k)]
    if missing:
        raise _fail("IncompleteSignature", f"The presigned request lacks {', '.join(missing)}.")
    try:
        expires_at = float(int(params["Expires"]))
    except ValueError:
        raise _fail("IncompleteSignature", "Expires must be seconds since the epoch.") from None
    # The client signed its headers, then moved Content-Type, Content-MD5 and the x-amz-* ones into the query.
    headers = _headers_of(request)
    for key, value in request.query:
        lk = key.lower()
        if lk.startswith("x-amz-") or lk in ("content-md5", "content-type"):
            headers[lk] = value
    sts = s3_v2_string_to_sign(request.method, request.path, request.query, headers, params["Expires"])
    return SignedClaim(params["AWSAccessKeyId"], "v2-sha1", sts, params["Signature"], expires_at=expires_at)


def parse_signed_request(request: AwsRequest) -> SignedClaim:
    """The claim of ``request``'s signature, whichever of the supported forms it takes.

    :raises AwsAuthError: MissingAuthenticationToken (no signature) or IncompleteSignature (malformed).
    """
    headers = _headers_of(request)
    auth = headers.get("authorization", "").strip()
    query = dict(request.query)
    if auth.startswith(V4_ALGORITHM + " "):
        return _claim_v4_header(request, auth)
    if auth.startswith("AWS ") and request.service == "s3":
        return _claim_s3_v2_header(request, auth)
    if auth:
        raise _fail("IncompleteSignature", "Unsupported Authorization type.")
    if "X-Amz-Algorithm" in query:
        return _claim_v4_query(request, query)
    if request.service == "s3" and ("Signature" in query or "AWSAccessKeyId" in query):
        return _claim_s3_v2_query(request, query)
    if request.service != "s3":
        for pairs in (request.form, request.query):
            if any(k in ("Signature", "SignatureVersion", "AWSAccessKeyId") for k, _ in pairs):
                return _claim_ec2_v2(request, pairs)
    raise _fail("MissingAuthenticationToken", "The request carries no AWS signature.")


def parse_string_to_sign(access: str, string_to_sign: str, signature: str) -> SignedClaim:
    """The claim of a string to sign a caller built (Keystone's s3tokens): SigV4 when it starts with
    ``AWS4-HMAC-SHA256`` (its third line is the scope), S3's V2 (HMAC-SHA1) otherwise."""
    if not access or not signature:
        raise _fail("IncompleteSignature", "The credentials need an access key and a signature.")
    if string_to_sign.startswith(V4_ALGORITHM + "\n"):
        lines = string_to_sign.split("\n")
        scope = lines[2].split("/") if len(lines) == 4 else []
        if len(scope) != 4 or scope[3] != "aws4_request" or not all(scope):
            raise _fail("IncompleteSignature", "A SigV4 string to sign has 4 lines, the third the scope.")
        return SignedClaim(access, "v4", string_to_sign, signature, (scope[0], scope[1], scope[2]))
    return SignedClaim(access, "v2-sha1", string_to_sign, signature)


class ReplayCache:
    """Signatures accepted within the skew window, at most ``max_size`` of them (the oldest go first).

    A signature seen again within ``grace`` seconds of its first acceptance is not a replay: a client
    that sends the same request twice within one second of its clock (SigV4 dates have one-second
    resolution; botocore re-signs every retry) signs it identically. Later, it is one.
    """

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._seen: collections.OrderedDict[str, tuple[float, float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def check_and_add(self, key: str, ttl: float, now: float, grace: float = 0.0) -> bool:
        """Remember ``key`` for ``ttl`` seconds; False when it was first accepted more than ``grace`` ago."""
        with self._lock:
            while self._seen:  # expired entries first: they are the oldest
                oldest, (_first, until) = next(iter(self._seen.items()))
                if until > now:
                    break
                del self._seen[oldest]
            seen = self._seen.get(key)
            if seen is not None:
                return now - seen[0] <= grace
            while len(self._seen) >= self.max_size:
                self._seen.popitem(last=False)
            self._seen[key] = (now, now + ttl)
            return True


class AwsSignatureMixin:
    """``authenticate_aws`` and ``verify_aws_string_to_sign`` of the Service; the credentials, tokens and
    roles are its other mixins'."""

    conf: Any
    provider: Any
    revocations: Any

    if TYPE_CHECKING:  # from the Service and its other mixins; mypy checks these agree with them
        def _ec2_secret(self, access: str) -> Ec2Secret: ...
        def _resolve_payload(self, payload: dict[str, Any]) -> dict[str, Any]: ...
        def context_from_token_data(self, data: dict[str, Any], token: str | None = None) -> RequestContext: ...
        def ensure_keys(self) -> None: ...
        def get_trust(self, trust_id: str) -> dict[str, Any]: ...

    #: The clock the skew and expiry checks read (a test moves it).
    aws_clock = staticmethod(time.time)

    _aws_lock = threading.Lock()

    def _aws_state(self) -> tuple[ReplayCache, dict[tuple[str, str, str], dict[str, Any]]]:
        state = self.__dict__.get("_aws_state_")
        if state is None:
            with self._aws_lock:
                state = self.__dict__.get("_aws_state_")
                if state is None:
                    state = (ReplayCache(self.conf.identity.aws_replay_cache_size), {})
                    self.__dict__["_aws_state_"] = state
        return state

    def authenticate_aws(self, request: AwsRequest) -> AwsAuthentication:
        """Verify ``request``'s AWS signature (see :mod:`cumulo_service_identity.aws_signatures`).

        :raises AwsAuthError: its ``aws_code`` says what is wrong (one of the contract's AWS_AUTH_ERRORS).
        """
        if not isinstance(request, AwsRequest):
            raise exception.Invalid(reason="authenticate_aws takes an AwsRequest.")
        claim = parse_signed_request(request)
        cred = self._verified_secret(claim)
        self._check_time(claim)
        auth = self._aws_authentication(cred, claim)
        if claim.replay_key is not None:
            skew = float(self.conf.identity.aws_signature_max_skew)
            # A request dated up to the skew ahead stays acceptable until then plus the skew.
            grace = float(self.conf.identity.aws_replay_grace)
            if not self._aws_state()[0].check_and_add(claim.replay_key, 2 * skew, self.aws_clock(), grace):
                raise _fail("ReplayedRequest", "This signature has been used before.")
        return auth

    def verify_aws_string_to_sign(self, access: str, string_to_sign: str, signature: str) -> AwsAuthentication:
        """Verify a signature of a string to sign the caller built from its request (``POST
        /v3/s3tokens``): SigV4 (its scope gives the date, region and service) or S3's V2. The caller
        checks the request's time; no replay check is made here.

        :raises AwsAuthError: IncompleteSignature, InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied.
        """
        claim = parse_string_to_sign(access, string_to_sign, signature)
        return self._aws_authentication(self._verified_secret(claim), claim)

    # -- steps -------------------------------------------------------------------------------
    def _verified_secret(self, claim: SignedClaim) -> Ec2Secret:
        try:
            cred = self._ec2_secret(claim.access)
        except exception.NotFound:
            raise _fail("InvalidAccessKeyId", "The AWS access key id does not exist in our records.") from None
        expected = expected_signature(claim, cred.secret)
        if not hmac.compare_digest(expected.encode("utf-8"), claim.signature.encode("utf-8")):
            raise _fail("SignatureDoesNotMatch", "The request signature we calculated does not match the "
                                                 "signature you provided. Check your key and signing method.")
        return cred

    def _check_time(self, claim: SignedClaim) -> None:
        now = self.aws_clock()
        skew = float(self.conf.identity.aws_signature_max_skew)
        if claim.expires_at is not None:
            if now > claim.expires_at:
                raise _fail("RequestExpired", "Request has expired.")
            if claim.signed_at is not None and claim.signed_at - now > skew:
                raise _fail("RequestExpired", "Request is not valid yet: its date is in the future.")
            return
        if claim.signed_at is not None and abs(now - claim.signed_at) > skew:
            raise _fail("RequestExpired", "The difference between the request time and the current time "
                                          f"is more than {int(skew)} seconds.")

    def _aws_authentication(self, cred: Ec2Secret, claim: SignedClaim) -> AwsAuthentication:
        payload: dict[str, Any] = {"user_id": cred.user_id, "methods": ["ec2credential"], "audit_ids": []}
        try:
            if cred.trust_id:
                # A credential made with a trust-scoped token acts through the trust; the token is the
                # trustee's (its user is the trustor when the trust impersonates, as in Keystone).
                try:
                    trust = self.get_trust(cred.trust_id)
                except exception.NotFound:
                    raise exception.NotAuthenticated("The credential's trust no longer exists.") from None
                payload.update(user_id=trust["trustee_user_id"], trust_id=cred.trust_id)
            else:
                payload["project_id"] = cred.project_id
            token, payload = self._ec2_token(cred, payload)
            data = self._resolve_payload(payload)
        except exception.NotAuthenticated as err:
            raise _fail("AccessDenied", f"The credential cannot act: {err}") from None
        return AwsAuthentication(cred.access, self.context_from_token_data(data, token), claim.scope[1])

    def _ec2_token(self, cred: Ec2Secret, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """A token of the credential (methods ``ec2credential``), reused while it has more than a
        tenth of its lifetime left and is not revoked."""
        tokens = self._aws_state()[1]
        key = (cred.access, cred.user_id, cred.trust_id or cred.project_id)
        now = time.time()
        lifetime = float(self.conf.identity.token_expiration)
        hit = tokens.get(key)
        if hit is not None and hit["payload"]["expires_at"] - now > lifetime / 10 \
                and not self.revocations.is_revoked(hit["payload"]):
            return hit["token"], hit["payload"]
        self.ensure_keys()
        full = {**payload, "issued_at": now, "expires_at": now + lifetime, "audit_ids": [new_audit_id()]}
        token = self.provider.issue(full)
        if len(tokens) > 10000:
            tokens.clear()
        tokens[key] = {"token": token, "payload": full}
        return token, full
