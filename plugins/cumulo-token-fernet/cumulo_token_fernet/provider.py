"""The ``fernet`` token provider.

A token is ``MultiFernet.encrypt(msgpack(payload))`` with the base64 padding
stripped. Keys live in a key repository directory (``[fernet_tokens]
key_repository``, default ``<state_path>/fernet-keys``), one 0600 file per key
named by its index, Keystone's layout:

* ``0`` is the *staged* key: not yet used to encrypt, already accepted, so
  every node knows it before it becomes primary;
* the highest index is the *primary* key: it encrypts new tokens;
* the others are *secondary* keys: they only decrypt tokens issued before
  the last rotations.

:meth:`FernetTokenProvider.rotate_keys` promotes the staged key to primary,
stages a new key, and drops the oldest secondaries beyond ``max_active_keys``.
Running providers notice a rotation (the directory's mtime) within a second.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import msgpack
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from oslo_config import cfg

from cumulo.interfaces import auth
from cumulo.interfaces.base import PluginContext

LOG = logging.getLogger(__name__)

OPTS = [
    cfg.StrOpt("key_repository", sample_default="<state_path>/fernet-keys",
               help="Directory of fernet keys (default: fernet-keys under [DEFAULT] state_path). Every API "
                    "node must hold the same keys: distribute them after each rotation."),
    cfg.IntOpt("max_active_keys", default=3, min=2,
               help="Keys kept after a rotation, staged and primary included; tokens issued with a dropped "
                    "key stop validating, so keep (max_active_keys - 2) * rotation interval > token lifetime."),
]

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_PAYLOAD_VERSION = 1
# Short keys keep tokens small; unknown keys travel under their own name.
_SHORT = {"user_id": "u", "methods": "m", "project_id": "p", "domain_id": "d", "system": "s",
          "expires_at": "e", "issued_at": "i", "audit_ids": "a", "app_cred_id": "c", "trust_id": "t"}
_LONG = {v: k for k, v in _SHORT.items()}
_ID_KEYS = {"u", "p", "d", "c", "t"}


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [("fernet_tokens", OPTS)]


def _pack_id(value: Any) -> Any:
    # 32-hex ids (uuid4().hex) become 16 raw bytes.
    if isinstance(value, str) and _HEX32.match(value):
        return binascii.unhexlify(value)
    return value


def _unpack_id(value: Any) -> Any:
    if isinstance(value, bytes):
        return binascii.hexlify(value).decode("ascii")
    return value


def _audit_pack(value: str) -> Any:
    # Audit ids are 16 random bytes, urlsafe-base64 without padding (22 chars).
    try:
        raw = base64.urlsafe_b64decode(value + "==")
        if len(raw) == 16 and base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == value:
            return raw
    except (binascii.Error, ValueError):
        pass
    return value


def _audit_unpack(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")
    return value


def encode_payload(payload: dict[str, Any]) -> bytes:
    packed: dict[str, Any] = {"v": _PAYLOAD_VERSION}
    for key, value in payload.items():
        if value is None:
            continue
        short = _SHORT.get(key, key)
        if short in _ID_KEYS:
            value = _pack_id(value)
        elif short == "a":
            value = [_audit_pack(a) for a in value]
        packed[short] = value
    return msgpack.packb(packed, use_bin_type=True)


def decode_payload(data: bytes) -> dict[str, Any]:
    packed = msgpack.unpackb(data, raw=False)
    if not isinstance(packed, dict) or packed.pop("v", None) != _PAYLOAD_VERSION:
        raise auth.InvalidToken("Unknown token payload version")
    payload: dict[str, Any] = {}
    for short, value in packed.items():
        if not isinstance(short, str):
            raise auth.InvalidToken("Malformed token payload")
        if short in _ID_KEYS:
            value = _unpack_id(value)
        elif short == "a":
            value = [_audit_unpack(a) for a in value]
        payload[_LONG.get(short, short)] = value
    return payload


class KeyRepository:
    """The key files of one directory; every change is atomic and under a file lock."""

    def __init__(self, path: str, max_active_keys: int = 3) -> None:
        self.path = path
        self.max_active_keys = max_active_keys

    def _indexes(self) -> list[int]:
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return []
        return sorted(int(n) for n in names if n.isdigit())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        os.makedirs(self.path, mode=0o700, exist_ok=True)
        fd = os.open(os.path.join(self.path, ".lock"), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _write_key(self, index: int) -> None:
        tmp = os.path.join(self.path, f".tmp-{index}-{os.getpid()}")
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        try:
            os.write(fd, Fernet.generate_key())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, os.path.join(self.path, str(index)))

    def initialize(self) -> bool:
        """Create the repository with a staged and a primary key; False when it already has keys."""
        with self._locked():
            if self._indexes():
                return False
            self._write_key(0)
            self._rotate_locked()
            return True

    def _rotate_locked(self) -> None:
        indexes = self._indexes()
        if 0 not in indexes:
            self._write_key(0)
            indexes = self._indexes()
        new_primary = max(indexes) + 1
        os.replace(os.path.join(self.path, "0"), os.path.join(self.path, str(new_primary)))
        self._write_key(0)
        # Keep the staged key, the primary and the newest secondaries.
        others = sorted(i for i in self._indexes() if i != 0)
        for old in others[: max(0, len(others) - (self.max_active_keys - 1))]:
            os.remove(os.path.join(self.path, str(old)))

    def rotate(self) -> None:
        with self._locked():
            if not self._indexes():
                self._write_key(0)
            self._rotate_locked()

    def load(self) -> list[bytes]:
        """Keys, primary first, then secondaries newest first, then the staged key."""
        indexes = self._indexes()
        order = sorted((i for i in indexes if i != 0), reverse=True) + ([0] if 0 in indexes else [])
        keys = []
        for i in order:
            with open(os.path.join(self.path, str(i)), "rb") as f:
                keys.append(f.read().strip())
        return keys

    def mtime(self) -> int:
        try:
            return os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return 0


class FernetTokenProvider(auth.TokenProvider):
    """Fernet tokens from a rotatable key repository; no token table."""

    interface_version = "2.0"

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return list_opts()

    def __init__(self, ctx: PluginContext, key_repository: str | None = None) -> None:
        super().__init__(ctx)
        conf = ctx.conf
        try:
            conf.register_opts(OPTS, group="fernet_tokens")
        except cfg.DuplicateOptError:
            pass
        path = key_repository or conf.fernet_tokens.key_repository or os.path.join(conf.state_path, "fernet-keys")
        self.repo = KeyRepository(path, conf.fernet_tokens.max_active_keys)
        self._lock = threading.Lock()
        self._fernet: MultiFernet | None = None
        self._mtime = -1
        self._checked = 0.0

    def initialize(self) -> None:
        if self.repo.initialize():
            LOG.info("Created fernet key repository %s", self.repo.path)
        self._reload(force=True)

    def rotate_keys(self) -> None:
        self.repo.rotate()
        self._reload(force=True)

    def _reload(self, force: bool = False) -> MultiFernet:
        now = time.monotonic()
        if not force and self._fernet is not None and now - self._checked < 1.0:
            return self._fernet
        with self._lock:
            self._checked = now
            mtime = self.repo.mtime()
            if force or self._fernet is None or mtime != self._mtime:
                keys = self.repo.load()
                if not keys:
                    self.repo.initialize()
                    keys = self.repo.load()
                self._fernet = MultiFernet([Fernet(k) for k in keys])
                self._mtime = mtime
            return self._fernet

    def issue(self, payload: dict[str, Any]) -> str:
        token = self._reload().encrypt(encode_payload(payload))
        return token.rstrip(b"=").decode("ascii")

    def validate(self, token: str) -> dict[str, Any]:
        if not token or len(token) > 1024:
            raise auth.InvalidToken("Malformed token")
        padded = token + "=" * (-len(token) % 4)
        try:
            data = self._reload().decrypt(padded.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError, ValueError, TypeError):
            raise auth.InvalidToken("The token could not be decrypted with any known key") from None
        try:
            return decode_payload(data)
        except (ValueError, TypeError, msgpack.UnpackException) as err:
            raise auth.InvalidToken(f"Malformed token payload: {err}") from None
