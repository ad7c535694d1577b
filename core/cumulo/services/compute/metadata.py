"""Who is asking the instance metadata service: signed proxy headers (Nova's scheme).

The metadata service answers without a token, so it must tell which instance
is asking by something the instance cannot forge:

* its **source address** on its network, looked up through the network
  service (the port that owns that fixed IP), or
* headers set by a **metadata proxy** that sits on the instances' networks
  (and so knows which instance connected): ``X-Instance-ID`` together with
  ``X-Instance-ID-Signature`` = hex HMAC-SHA256 of the instance id keyed with
  ``[metadata] proxy_shared_secret``; optionally ``X-Tenant-ID`` (must be the
  instance's project) and ``X-Forwarded-For`` (the instance's address, only
  believed alongside a valid signature).

An empty secret (the default) means no proxy is trusted: every signed-header
request is refused. A proxy signs with :func:`sign`; the service checks with
:func:`verify` (constant-time comparison).
"""

from __future__ import annotations

import hashlib
import hmac

from oslo_config import cfg

from cumulo.conf import CONF
from cumulo.conf.compute import METADATA_GROUP, metadata_opts

INSTANCE_ID_HEADER = "X-Instance-ID"
SIGNATURE_HEADER = "X-Instance-ID-Signature"
TENANT_HEADER = "X-Tenant-ID"
FORWARDED_HEADER = "X-Forwarded-For"


def _secret(secret: str | None) -> str:
    return CONF.metadata.proxy_shared_secret if secret is None else secret


def sign(instance_id: str, secret: str | None = None) -> str:
    """The ``X-Instance-ID-Signature`` a proxy sends for ``instance_id`` (hex HMAC-SHA256).

    ``secret`` defaults to ``[metadata] proxy_shared_secret``; an empty secret cannot sign.
    """
    key = _secret(secret)
    if not key:
        raise ValueError("[metadata] proxy_shared_secret is not set: nothing can be signed")
    return hmac.new(key.encode(), instance_id.encode(), hashlib.sha256).hexdigest()


def verify(instance_id: str | None, signature: str | None, secret: str | None = None) -> bool:
    """Whether ``signature`` is the proxy signature of ``instance_id``.

    False when either is missing or the secret is not configured. The comparison
    takes the same time whatever the signature (:func:`hmac.compare_digest`).
    """
    key = _secret(secret)
    if not key or not instance_id or not signature:
        return False
    expected = hmac.new(key.encode(), instance_id.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(METADATA_GROUP, list(metadata_opts))]
