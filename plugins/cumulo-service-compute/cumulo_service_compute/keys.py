"""Key pair generation and fingerprints (``cryptography``)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cumulo import exception


def generate(bits: int = 2048) -> tuple[str, str]:
    """A new RSA key: (private key PEM, OpenSSH public key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    return private, public + " Generated-by-Cumulo"


def generate_x509(common_name: str, bits: int = 2048, days: int = 3650) -> tuple[str, str]:
    """A new RSA key and a self-signed client certificate for it, as Nova makes an x509 key pair.

    The certificate names ``common_name`` (Nova: the user), is for client authentication (what
    WinRM certificate logins use) and lasts ``days``. Returns (private key PEM, certificate PEM).
    """
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name or "cumulo")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(key, hashes.SHA256()))
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return private, cert.public_bytes(serialization.Encoding.PEM).decode()


def fingerprint(public_key: str, key_type: str = "ssh") -> str:
    """MD5 colon fingerprint of an OpenSSH key (Nova's format); 400 for a key that does not parse."""
    if key_type == "x509":
        try:
            from cryptography import x509

            cert = x509.load_pem_x509_certificate(public_key.encode())
        except Exception:
            raise exception.Invalid(reason="Keypair data is invalid: not a PEM X.509 certificate.") from None
        digest = cert.fingerprint(__import__("cryptography.hazmat.primitives.hashes",
                                             fromlist=["SHA1"]).SHA1()).hex()
        return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
    try:
        serialization.load_ssh_public_key(public_key.strip().encode())
        blob = base64.b64decode(public_key.strip().split()[1])
    except Exception:
        raise exception.Invalid(reason="Keypair data is invalid: failed to parse the public key.") from None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
