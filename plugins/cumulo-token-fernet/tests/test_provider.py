"""The fernet token provider: conformance, key repository layout, rotation."""

from __future__ import annotations

import os
import stat
import time

import pytest
from cryptography.fernet import Fernet
from cumulo_token_fernet.provider import FernetTokenProvider, KeyRepository, decode_payload, encode_payload

from cumulo import registry
from cumulo.conf import CONF
from cumulo.interfaces import auth as iface
from cumulo.interfaces.base import PluginContext
from cumulo.testing.conformance.auth import TokenProviderConformance


class TestFernetConformance(TokenProviderConformance):
    @pytest.fixture
    def provider(self, cumulo_conf):
        return registry.load_plugin("token", "fernet", PluginContext(CONF))


def _payload(**kw):
    return TokenProviderConformance.payload(**kw)


def test_key_repository_defaults_to_state_path(cumulo_conf, tmp_path):
    p = FernetTokenProvider(PluginContext(CONF))
    p.initialize()
    repo = os.path.join(str(tmp_path), "state", "fernet-keys")
    assert p.repo.path == repo
    assert sorted(n for n in os.listdir(repo) if n.isdigit()) == ["0", "1"]
    assert stat.S_IMODE(os.stat(repo).st_mode) == 0o700
    for name in ("0", "1"):
        assert stat.S_IMODE(os.stat(os.path.join(repo, name)).st_mode) == 0o600


def test_rotation_drops_keys_beyond_max_active(cumulo_conf, tmp_path):
    cumulo_conf.set("max_active_keys", 3, group="fernet_tokens")
    p = FernetTokenProvider(PluginContext(CONF))
    p.initialize()
    oldest = p.issue(_payload())
    p.rotate_keys()  # keys 0,1,2: token from 1 still valid
    assert p.validate(oldest)
    p.rotate_keys()  # keys 0,2,3: key 1 gone
    assert sorted(int(n) for n in os.listdir(p.repo.path) if n.isdigit()) == [0, 2, 3]
    with pytest.raises(iface.InvalidToken):
        p.validate(oldest)


def test_staged_key_is_accepted_before_it_becomes_primary(cumulo_conf, tmp_path):
    p = FernetTokenProvider(PluginContext(CONF))
    p.initialize()
    with open(os.path.join(p.repo.path, "0"), "rb") as f:
        staged = Fernet(f.read())
    token = staged.encrypt(encode_payload(_payload())).rstrip(b"=").decode()
    assert p.validate(token)


def test_another_process_rotation_is_noticed(cumulo_conf, tmp_path):
    a, b = FernetTokenProvider(PluginContext(CONF)), FernetTokenProvider(PluginContext(CONF))
    a.initialize()
    b.initialize()
    for _ in range(3):
        a.rotate_keys()  # b's keys are all gone now
    token = a.issue(_payload())
    b._checked = time.monotonic() - 5  # past the 1 s re-check interval
    assert b.validate(token)


def test_token_from_another_repository_is_invalid(cumulo_conf, tmp_path):
    a = FernetTokenProvider(PluginContext(CONF), key_repository=str(tmp_path / "a"))
    b = FernetTokenProvider(PluginContext(CONF), key_repository=str(tmp_path / "b"))
    a.initialize()
    b.initialize()
    with pytest.raises(iface.InvalidToken):
        b.validate(a.issue(_payload()))


def test_payload_is_compact():
    payload = _payload()
    assert decode_payload(encode_payload(payload)) == payload
    assert len(encode_payload(payload)) < 100


def test_token_is_reasonably_short(cumulo_conf):
    p = FernetTokenProvider(PluginContext(CONF))
    p.initialize()
    assert len(p.issue(_payload())) < 260


def test_rotation_initializes_an_empty_repository(tmp_path):
    repo = KeyRepository(str(tmp_path / "keys"), 3)
    repo.rotate()
    assert sorted(int(n) for n in os.listdir(repo.path) if n.isdigit()) == [0, 1]


def test_system_and_trust_scopes_round_trip_compactly():
    import uuid

    trust_id = uuid.uuid4().hex
    system = _payload(project_id=None, system="all", methods=["password", "token"])
    trust = _payload(project_id=None, trust_id=trust_id, methods=["token"])
    for p in (system, trust):
        expected = {k: v for k, v in p.items() if v is not None}
        assert decode_payload(encode_payload(p)) == expected
    # the trust id travels as 16 raw bytes under a one-letter key, as the other ids do
    assert trust_id.encode() not in encode_payload(trust) and bytes.fromhex(trust_id) in encode_payload(trust)
