"""TempURL signatures, as python-swiftclient's ``generate_temp_url`` makes them.

The signed body is ``[ip=<range>\\n]<METHOD>\\n<expires>\\n[prefix:]<path>`` where ``path`` is
``/v1/<account>/<container>/<object>`` (the path below the API's mount point). The
signature is hex (sha1: 40 digits, sha256: 64, sha512: 128) or ``<digest>:<base64url>``.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import dataclasses
import hashlib
import hmac
import ipaddress
import time

from cumulo import exception

DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
_HEX_LENGTHS = {40: "sha1", 64: "sha256", 128: "sha512"}


class TempURLInvalid(exception.NotAuthenticated):
    msg_fmt = "Temp URL invalid"


@dataclasses.dataclass(frozen=True)
class Grant:
    """What a valid TempURL allows: one method on one object (or on every object under a prefix)."""

    method: str
    account: str
    container: str
    obj: str
    prefix: bool
    expires: int

    def covers(self, account: str, container: str, obj: str) -> bool:
        if (account, container) != (self.account, self.container):
            return False
        return obj.startswith(self.obj) if self.prefix else obj == self.obj


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
    name = _HEX_LENGTHS.get(len(sig))
    if name is None:
        raise TempURLInvalid()
    try:
        return name, bytes.fromhex(sig)
    except ValueError:
        raise TempURLInvalid() from None


def validate(method: str, path: str, params: dict[str, str], keys: list[str], remote_addr: str | None,
             allowed_methods: list[str], allowed_digests: list[str], account: str, container: str,
             obj: str, now: float | None = None) -> Grant:
    """Check a TempURL request; returns the :class:`Grant` or raises 401 (:class:`TempURLInvalid`)."""
    sig, raw_expires = params.get("temp_url_sig"), params.get("temp_url_expires")
    if not sig or not raw_expires:
        raise TempURLInvalid("Temp URL invalid: temp_url_sig and temp_url_expires are both required")
    expires = parse_expires(raw_expires)
    if expires < (now if now is not None else time.time()):
        raise TempURLInvalid("Temp URL expired")
    if not keys:
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
        for key in keys:
            expected = hmac.new(key.encode(), body.encode(), DIGESTS[digest_name]).digest()
            if hmac.compare_digest(expected, mac):
                return Grant(method, account, container, prefix if prefix is not None else obj,
                             prefix is not None, expires)
    raise TempURLInvalid()
