"""Credential blobs encrypted at rest, as Keystone's ``fernet`` credential provider keeps them.

Keys live in a key repository (``[identity] credential_key_repository``,
default ``<state_path>/credential-keys``, a 0700 directory of 0600 files named
by their index, Keystone's layout): the highest index is the primary key, which
encrypts; every key decrypts (:class:`cryptography.fernet.MultiFernet`). The
repository is made with its first key at bootstrap (or at the first
encryption, or by the migration that encrypts the blobs stored before).

A stored blob is the Fernet token of the blob's text; the row's ``key_hash``
(SHA-256 of the primary key that encrypted it) says it is encrypted. Every API
node must hold the same keys, as for the token keys.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from oslo_config import cfg

from cumulo import exception

DIR_NAME = "credential-keys"


class CredentialKeyError(exception.CumuloError):
    """A stored credential cannot be decrypted: its key is not in the key repository (a server fault)."""

    code = 500


def repository_path(conf: cfg.ConfigOpts) -> str:
    """The key repository of ``conf``: ``[identity] credential_key_repository`` or ``<state_path>/credential-keys``."""
    try:
        configured = conf.identity.credential_key_repository
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError):  # not registered: a migration run without the hub
        configured = None
    return str(configured or os.path.join(conf.state_path, DIR_NAME))


class CredentialKeys:
    """The keys of one repository directory; :meth:`encrypt` and :meth:`decrypt` blob texts."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._loaded: tuple[float, MultiFernet, str] | None = None

    def _indexes(self) -> list[int]:
        try:
            return sorted(int(n) for n in os.listdir(self.path) if n.isdigit())
        except FileNotFoundError:
            return []

    def ensure(self) -> None:
        """Create the directory (0700) and a first key (0600) unless a key is there; safe against a racing process."""
        os.makedirs(self.path, mode=0o700, exist_ok=True)
        os.chmod(self.path, 0o700)
        if self._indexes():
            return
        tmp = os.path.join(self.path, f".tmp-{os.getpid()}-{threading.get_ident()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key())
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, os.path.join(self.path, "0"))  # atomic, and fails when another process made it first
        except OSError as err:
            if err.errno != errno.EEXIST:
                raise
        finally:
            os.unlink(tmp)

    def _fernet(self) -> tuple[MultiFernet, str]:
        try:
            mtime = os.stat(self.path).st_mtime
        except FileNotFoundError:
            mtime = -1.0
        loaded = self._loaded
        if loaded is not None and loaded[0] == mtime:
            return loaded[1], loaded[2]
        with self._lock:
            if not self._indexes():
                self.ensure()
                mtime = os.stat(self.path).st_mtime
            keys = []
            for index in reversed(self._indexes()):  # the primary (highest) first: it encrypts
                with open(os.path.join(self.path, str(index)), "rb") as f:
                    keys.append(f.read().strip())
            fernet = MultiFernet([Fernet(k) for k in keys])
            primary_hash = hashlib.sha256(keys[0]).hexdigest()
            self._loaded = (mtime, fernet, primary_hash)
            return fernet, primary_hash

    def encrypt(self, text: str) -> tuple[str, str]:
        """``(ciphertext, key_hash)`` of a blob text."""
        fernet, key_hash = self._fernet()
        return fernet.encrypt(text.encode("utf-8")).decode("ascii"), key_hash

    def decrypt(self, ciphertext: str) -> str:
        """The blob text of a stored ciphertext; :class:`CredentialKeyError` when no key opens it."""
        fernet, _ = self._fernet()
        try:
            return fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as err:
            raise CredentialKeyError("A credential could not be decrypted with the keys of "
                                     f"{self.path}.") from err
