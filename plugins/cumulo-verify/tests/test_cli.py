"""``cumulo verify`` as an operator runs it: registered, its help, one-line errors."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys

from cumulo_verify import runner


def _cumulo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cumulo.cmd.main", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def test_command_is_registered() -> None:
    eps = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="cumulo.cli")}
    assert eps["verify"] == "cumulo_verify.cli:Verify"


def test_help_lists_the_selections_and_the_pinned_version() -> None:
    proc = _cumulo("verify", "--help")
    assert proc.returncode == 0, proc.stderr
    for option in ("--install", "--smoke", "--regex", "--service", "--concurrency", "--config-only", "--workspace"):
        assert option in proc.stdout
    assert f"tempest=={runner.TEMPEST_VERSION}" in proc.stdout
    assert "object-storage" in proc.stdout


def test_unknown_cloud_fails_in_one_line(tmp_path: os.PathLike[str]) -> None:
    clouds = os.path.join(tmp_path, "clouds.yaml")
    with open(clouds, "w") as f:
        f.write("clouds: {}\n")
    proc = _cumulo("verify", "--config-only", "--os-cloud", "no-such-cloud", "--clouds-yaml", clouds,
                   "--workspace", os.path.join(tmp_path, "ws"))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "no-such-cloud" in proc.stderr.strip().splitlines()[-1]


def test_run_without_tempest_says_how_to_install(tmp_path: os.PathLike[str]) -> None:
    venv = os.path.join(tmp_path, "no-venv")
    proc = _cumulo("verify", "--venv", venv, "--smoke", "--workspace", os.path.join(tmp_path, "ws"))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert f"no Tempest in {venv}" in last and "cumulo verify --install" in last


def test_unknown_service_is_refused() -> None:
    proc = _cumulo("verify", "--service", "dns")
    assert proc.returncode == 2 and "invalid choice: 'dns'" in proc.stderr
