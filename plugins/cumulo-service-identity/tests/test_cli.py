"""``cumulo identity bootstrap`` and ``cumulo identity rotate-keys``, as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def cumulo(conf: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cumulo.cmd.main", "--config-file", conf, *args],
                          capture_output=True, text=True, timeout=120)


def test_bootstrap_and_rotate_keys(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\n[api]\nfrontends = identity\n"
                    "[auth_sql]\npassword_hash_rounds = 4\n")
    first = cumulo(str(conf), "identity", "bootstrap", "--public-url", "http://c.test:1", "-f", "json")
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert out["created"] is True and len(out["password"]) >= 16
    assert out["auth_url"] == "http://c.test:1/identity/v3"
    again = json.loads(cumulo(str(conf), "identity", "bootstrap", "-f", "json").stdout)
    assert again["created"] is False and again["password"] == "(unchanged)"
    keys = tmp_path / "fernet-keys"
    before = sorted(int(n) for n in os.listdir(keys) if n.isdigit())
    rotated = cumulo(str(conf), "identity", "rotate-keys")
    assert rotated.returncode == 0, rotated.stderr
    assert before == [0, 1]  # staged and primary
    assert sorted(int(n) for n in os.listdir(keys) if n.isdigit()) == [0, 1, 2]
