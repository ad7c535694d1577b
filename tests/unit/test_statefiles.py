"""State files: the umask every cumulo process runs with, and tightening an open state path."""

from __future__ import annotations

import os

from cumulo import statefiles


def test_tighten_closes_files_and_directories_once(tmp_path):
    state = tmp_path / "state"
    (state / "objects" / "node1").mkdir(parents=True)
    data = state / "objects" / "node1" / "data"
    data.write_bytes(b"x")
    script = state / "hook.sh"
    script.write_text("#!/bin/sh\n")
    for path, mode in ((state, 0o755), (state / "objects", 0o777), (data, 0o644), (script, 0o755)):
        os.chmod(path, mode)
    (tmp_path / "target").write_text("outside")
    os.symlink(tmp_path / "target", state / "link")
    os.chmod(tmp_path / "target", 0o644)

    assert statefiles.tighten(str(state)) == 5  # the four above and node1 (made 0755 by mkdir)
    assert os.stat(state).st_mode & 0o777 == 0o700
    assert os.stat(state / "objects").st_mode & 0o777 == 0o700
    assert os.stat(data).st_mode & 0o777 == 0o600
    assert os.stat(script).st_mode & 0o777 == 0o700  # owner bits kept
    assert os.stat(tmp_path / "target").st_mode & 0o777 == 0o644  # symlinks are not followed
    assert statefiles.tighten(str(state)) == 0  # already private


def test_secure_umask_makes_new_files_private(tmp_path):
    previous = statefiles.secure_umask()
    try:
        (tmp_path / "new").write_text("x")
        os.mkdir(tmp_path / "dir")
        assert os.stat(tmp_path / "new").st_mode & 0o777 == 0o600
        assert os.stat(tmp_path / "dir").st_mode & 0o777 == 0o700
    finally:
        os.umask(previous)


def test_secret_is_made_once_private_and_then_read(tmp_path):
    path = str(tmp_path / "x.secret")
    assert statefiles.secret(path, create=False) is None
    first = statefiles.secret(path)
    assert first and len(first) == 64 and int(first, 16) >= 0
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert statefiles.secret(path) == first == statefiles.secret(path, create=False)


def test_metadata_shared_secret_prefers_the_option_then_the_generated_file(tmp_path):
    from oslo_config import cfg

    from cumulo.conf import metadata as metadata_conf
    from cumulo.utils import metadata_proxy

    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.StrOpt("state_path"))
    conf.register_opts(metadata_conf.metadata_opts, group="metadata")
    conf([])
    conf.set_override("state_path", str(tmp_path))
    assert metadata_proxy.shared_secret(conf) == ""  # the metadata service alone makes nothing: no proxy trusted
    made = metadata_proxy.shared_secret(conf, create=True)  # a proxy starting
    assert made and metadata_proxy.shared_secret(conf) == made  # the metadata service now reads the same
    conf.set_override("proxy_shared_secret", "configured", group="metadata")
    assert metadata_proxy.shared_secret(conf, create=True) == "configured"
