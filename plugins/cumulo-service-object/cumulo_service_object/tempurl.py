"""TempURL signatures, as python-swiftclient's ``generate_temp_url`` makes them.

The signed body is ``[ip=<range>\\n]<METHOD>\\n<expires>\\n[prefix:]<path>`` where ``path`` is
``/v1/<account>/<container>/<object>`` (the path below the API's mount point). The
signature is hex (sha1: 40 digits, sha256: 64, sha512: 128) or ``<digest>:<base64url>``.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import hmac
import ipaddress
import time
from collections.abc import Mapping, Sequence

from cumulo import exception
from cumulo.contracts.object import ACCOUNT_SCOPE, CONTAINER_SCOPE, SwiftError, TempURLGrant
from cumulo.utils.metadata import ci_get

DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
_HEX_LENGTHS = {40: "sha1", 64: "sha256", 128: "sha512"}


class TempURLInvalid(exception.NotAuthenticated):
    msg_fmt = "Temp URL invalid"


def refuse_manifest_writes(headers: Mapping[str, str], params: Mapping[str, str]) -> None:
    """400 for a write through a TempURL that would make the object a large-object manifest.

    A manifest pulls content from other objects when read, so a TempURL limited to one
    object could otherwise be turned into a reader of anything the key's owner can read
    (the class of Swift's CVE-2015-5223); Swift's tempurl refuses ``X-Object-Manifest`` the
    same way. ``headers``/``params``: the request's (a PUT, POST or COPY).
    """
    if ci_get(headers, "X-Object-Manifest") is not None:
        raise SwiftError(400, "X-Object-Manifest is not allowed on a TempURL request")
    mode = params.get("multipart-manifest")
    if mode == "put":
        raise SwiftError(400, "multipart-manifest=put (a static large object) is not allowed on a "
                              "TempURL request")
    if mode == "get":  # a copy of the manifest itself, not of its content
        raise SwiftError(400, "Copying a manifest (multipart-manifest=get) is not allowed on a TempURL request")


def parse_expires(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return calendar.timegm(time.strptime(raw, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        raise TempURLInvalid("Temp URL invalid: temp_url_expires must be a unix time or "
                             "ISO 8601 (YYYY-MM-DDThh:mm:ssZ)") from None


def _decode_sig(sig: str) -> tuple[str, bytes]:
    if ":" in sig:
        name, _, b64 = sig.partition(":")
        try:
            raw = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
        except (binascii.Error, ValueError):
            raise TempURLInvalid() from None
        return name.lower(), raw
    digest = _HEX_LENGTHS.get(len(sig))
    if digest is None:
        raise TempURLInvalid()
    try:
        return digest, bytes.fromhex(sig)
    except ValueError:
        raise TempURLInvalid() from None


def validate(method: str, path: str, params: Mapping[str, str], keys: Sequence[str], remote_addr: str | None,
             allowed_methods: Sequence[str], allowed_digests: Sequence[str], account: str, container: str,
             obj: str, now: float | None = None, container_keys: Sequence[str] = ()) -> TempURLGrant:
    """Check a TempURL request; returns the grant (:class:`~cumulo.contracts.object.TempURLGrant`).

    :raises TempURLInvalid: (401) the signature is missing, expired, not made by a key or not allowed.

    ``keys`` are the account's Temp-URL-Keys, ``container_keys`` the container's; the grant's
    ``scope`` records which kind matched (the account's first: it is the wider owner).
    """
    sig, raw_expires = params.get("temp_url_sig"), params.get("temp_url_expires")
    if not sig or not raw_expires:
        raise TempURLInvalid("Temp URL invalid: temp_url_sig and temp_url_expires are both required")
    expires = parse_expires(raw_expires)
    if expires < (now if now is not None else time.time()):
        raise TempURLInvalid("Temp URL expired")
    scoped = [(k, ACCOUNT_SCOPE) for k in keys] + [(k, CONTAINER_SCOPE) for k in container_keys]
    if not scoped:
        raise TempURLInvalid("Temp URL invalid: no Temp-URL-Key is set on the account or container")
    digest_name, mac = _decode_sig(sig)
    if digest_name not in DIGESTS or digest_name not in allowed_digests:
        raise TempURLInvalid(f"Temp URL invalid: digest {digest_name} is not allowed")
    prefix = params.get("temp_url_prefix")
    ip_range = params.get("temp_url_ip_range")
    if ip_range:
        try:
            if remote_addr is None or ipaddress.ip_address(remote_addr) not in ipaddress.ip_network(ip_range,
                                                                                                    strict=False):
                raise TempURLInvalid()
        except ValueError:
            raise TempURLInvalid() from None
    if prefix is not None:
        if not obj.startswith(prefix):
            raise TempURLInvalid()
        signed_path = "prefix:" + path[: len(path) - len(obj)] + prefix
    else:
        signed_path = path
    # HEAD is allowed by a signature for GET, HEAD or PUT, as Swift does.
    candidates = [method] if method != "HEAD" else ["HEAD", "GET", "PUT"]
    for m in candidates:
        if m not in allowed_methods:
            continue
        body = "\n".join(([f"ip={ip_range}"] if ip_range else []) + [m, str(expires), signed_path])
        for key, scope in scoped:
            expected = hmac.new(key.encode(), body.encode(), DIGESTS[digest_name]).digest()
            if hmac.compare_digest(expected, mac):
                return TempURLGrant(method, account, container, prefix if prefix is not None else obj,
                                    prefix is not None, expires, scope)
    raise TempURLInvalid()
