"""Signed requests between proxies and storage nodes, and between nodes (replication, updates).

Every proxy and node shares ``[object_ring] cluster_secret``. A request carries

* ``X-Cumulo-Ring-Timestamp``: the sender's clock, Unix seconds (``1712345678.123456``);
* ``X-Cumulo-Ring-Signature``: hex HMAC-SHA256, under a key derived from the secret, of the JSON
  array ``["CUMULO-RING-HMAC-SHA256", timestamp, METHOD, raw path, raw query, [[name, value], ...]]``
  where the pairs are every ``X-*`` header (the timestamp included, the signature excluded),
  ``Content-Type`` and ``Etag``: lower-case names, ``_`` read as ``-``, values stripped, sorted.

A node checks the signature over what it *received* (path and query exactly as sent, all such
headers present), so a header added, dropped or changed on the way, another method, path or
query, or another secret all fail. A request is accepted for ``signature_max_age`` seconds
(60 by default) either side of the node's clock; proxies and nodes need synchronised clocks.

Not covered: the body (a signed PUT's body could be swapped by someone who can already sniff
and inject on the storage network), and replays inside the window (writes are ordered by
``X-Timestamp``, so replaying one changes nothing). Use a private network or TLS for those.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

SCHEME = "CUMULO-RING-HMAC-SHA256"
TIMESTAMP_HEADER = "X-Cumulo-Ring-Timestamp"
SIGNATURE_HEADER = "X-Cumulo-Ring-Signature"
DEFAULT_MAX_AGE = 60.0
_SIG = SIGNATURE_HEADER.lower()
_TS = TIMESTAMP_HEADER.lower()
_ALSO_SIGNED = ("content-type", "etag")
_KEY_CONTEXT = b"cumulo-object-ring/request-signing/v1"


class SignatureError(Exception):
    """A request the node refuses: ``status`` 401 (not signed) or 403 (bad or expired signature)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _name(header: str) -> str:
    return header.lower().replace("_", "-")


def covered(headers: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The ``[name, value]`` pairs a signature covers, in canonical form and order."""
    out: dict[str, str] = {}
    for key, value in headers:
        name = _name(key)
        if name == _SIG or not (name.startswith("x-") or name in _ALSO_SIGNED):
            continue
        out[name] = str(value).strip()
    return [[k, out[k]] for k in sorted(out)]


def string_to_sign(method: str, path: str, query: str, timestamp: str,
                   headers: Iterable[tuple[str, str]]) -> bytes:
    """The canonical request: JSON, so no field can bleed into the next."""
    data = [SCHEME, timestamp, method.upper(), path, query, covered(headers)]
    return json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def environ_headers(environ: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Request headers from a WSGI environ (``HTTP_*`` plus ``CONTENT_TYPE``)."""
    out = [(k[5:], str(v)) for k, v in environ.items() if k.startswith("HTTP_")]
    if environ.get("CONTENT_TYPE"):
        out.append(("Content-Type", str(environ["CONTENT_TYPE"])))
    return out


class Signer:
    """Signs requests (:meth:`sign`) and checks received ones (:meth:`verify_environ`)."""

    def __init__(self, secret: str | bytes, max_age: float = DEFAULT_MAX_AGE,
                 clock: Callable[[], float] = time.time) -> None:
        raw = secret.encode("utf-8") if isinstance(secret, str) else secret
        if not raw:
            raise ValueError("An empty cluster secret cannot sign anything")
        # A key for this one purpose, so the secret itself is never used as a MAC key elsewhere.
        self._key = hmac.new(raw, _KEY_CONTEXT, hashlib.sha256).digest()
        self.max_age = max_age
        self.clock = clock

    def _mac(self, method: str, path: str, query: str, timestamp: str,
             headers: Iterable[tuple[str, str]]) -> str:
        return hmac.new(self._key, string_to_sign(method, path, query, timestamp, headers),
                        hashlib.sha256).hexdigest()

    def sign(self, method: str, path: str, query: str = "",
             headers: Mapping[str, str] | None = None) -> dict[str, str]:
        """``headers`` plus the timestamp and signature headers for this method, path and query.

        ``path`` and ``query`` are exactly what goes on the request line (already quoted).
        """
        hdrs = {k: v for k, v in (headers or {}).items() if _name(k) not in (_SIG, _TS)}
        hdrs[TIMESTAMP_HEADER] = f"{self.clock():.6f}"
        hdrs[SIGNATURE_HEADER] = self._mac(method, path, query, hdrs[TIMESTAMP_HEADER], hdrs.items())
        return hdrs

    def sign_url(self, method: str, url: str, headers: Mapping[str, str] | None = None) -> dict[str, str]:
        """:meth:`sign` for a request target ``path[?query]``."""
        path, _, query = url.partition("?")
        return self.sign(method, path, query, headers)

    def verify(self, method: str, path: str, query: str, headers: Iterable[tuple[str, str]]) -> None:
        """Raise :class:`SignatureError` unless the request is signed with our secret and fresh."""
        headers = list(headers)
        found = {_name(k): str(v).strip() for k, v in headers if _name(k) in (_SIG, _TS)}
        signature, timestamp = found.get(_SIG), found.get(_TS)
        if not signature or not timestamp:
            raise SignatureError(401, "Unsigned request: storage nodes only serve signed cluster requests")
        try:
            sent = float(timestamp)
        except ValueError:
            raise SignatureError(403, "Bad signature timestamp") from None
        if not math.isfinite(sent) or abs(self.clock() - sent) > self.max_age:
            raise SignatureError(403, "Signature expired or from the future (check clocks)")
        expected = self._mac(method, path, query, timestamp, headers)
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "surrogateescape")):
            raise SignatureError(403, "Bad signature")

    def verify_environ(self, environ: Mapping[str, Any]) -> None:
        """:meth:`verify` on a WSGI request: the raw request target (``REQUEST_URI``) as received."""
        raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
        if raw is None:  # PATH_INFO is decoded: what was signed cannot be rebuilt from it
            raise SignatureError(403, "The server gave no raw request URI to check the signature against")
        path, _, query = str(raw).partition("?")
        self.verify(str(environ.get("REQUEST_METHOD", "")), path, query, environ_headers(environ))
