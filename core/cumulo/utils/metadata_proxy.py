"""Who is asking the instance metadata service: signed proxy headers (Nova's scheme).

The metadata service answers without a token, so it must tell which instance
is asking by something the instance cannot forge:

* its **source address** on its network, looked up through the network
  service (the port that owns that fixed IP), or
* headers set by a **metadata proxy** that sits on the instances' networks
  (and so knows which instance connected): :data:`INSTANCE_ID_HEADER`
  together with :data:`SIGNATURE_HEADER` = hex HMAC-SHA256 of the instance id
  keyed with ``[metadata] proxy_shared_secret``; optionally
  :data:`TENANT_HEADER` (must be the instance's project) and
  :data:`FORWARDED_HEADER` (the instance's address, only believed alongside a
  valid signature).

Both sides take the secret from :func:`shared_secret`: ``[metadata]
proxy_shared_secret``, or when that is empty the secret a proxy on this
machine generated into ``<state_path>/metadata-proxy.secret`` (so an
all-in-one needs no setting). With neither, no proxy is trusted: every
signed-header request is refused. A proxy signs with :func:`sign`; the metadata
service (the Compute API frontend) checks with :func:`verify` (constant-time
comparison).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from oslo_config import cfg

from cumulo import statefiles

__all__ = ["FORWARDED_HEADER", "INSTANCE_ID_HEADER", "SECRET_FILE_NAME", "SIGNATURE_HEADER", "TENANT_HEADER",
           "shared_secret", "sign", "verify"]

SECRET_FILE_NAME = "metadata-proxy.secret"

INSTANCE_ID_HEADER = "X-Instance-ID"
SIGNATURE_HEADER = "X-Instance-ID-Signature"
TENANT_HEADER = "X-Tenant-ID"
FORWARDED_HEADER = "X-Forwarded-For"


def shared_secret(conf: cfg.ConfigOpts, create: bool = False) -> str:
    """``[metadata] proxy_shared_secret``, else the one in ``<state_path>/metadata-proxy.secret``.

    ``create`` (a proxy starting) makes that file when missing; the metadata
    service only reads it. "" when there is no secret (no proxy is trusted).
    """
    if conf.metadata.proxy_shared_secret:
        return str(conf.metadata.proxy_shared_secret)
    return statefiles.secret(os.path.join(conf.state_path, SECRET_FILE_NAME), create=create) or ""


def _digest(secret: str, instance_id: str) -> str:
    return hmac.new(secret.encode(), instance_id.encode(), hashlib.sha256).hexdigest()


def sign(instance_id: str, secret: str) -> str:
    """The :data:`SIGNATURE_HEADER` a proxy sends for ``instance_id`` (hex HMAC-SHA256 keyed with ``secret``).

    :raises ValueError: ``secret`` is empty (no proxy is trusted, so nothing can be signed).
    """
    if not secret:
        raise ValueError("[metadata] proxy_shared_secret is not set: nothing can be signed")
    return _digest(secret, instance_id)


def verify(instance_id: str | None, signature: str | None, secret: str) -> bool:
    """Whether ``signature`` is the proxy signature of ``instance_id`` under ``secret``.

    False when either is missing or the secret is empty. The comparison takes
    the same time whatever the signature (:func:`hmac.compare_digest`).
    """
    if not secret or not instance_id or not signature:
        return False
    expected = _digest(secret, instance_id)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())
