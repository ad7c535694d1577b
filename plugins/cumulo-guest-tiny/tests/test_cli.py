"""``cumulo image build-tiny`` as a user runs it: registered, one-line errors, a table of the files."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys

from cumulo_guest_tiny import build, debs


def _cumulo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cumulo.cmd.main", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def test_command_is_registered() -> None:
    eps = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="cumulo.cli")}
    assert eps["image_build-tiny"] == "cumulo_guest_tiny.cli:BuildTiny"


def test_lists_the_files_and_fails_in_one_line_for_an_unknown_cloud(
        tiny_image: build.TinyImage, tmp_path: os.PathLike[str]) -> None:
    cache = os.environ.get("CUMULO_TINY_CACHE", debs.DEFAULT_CACHE)
    common = ("image", "build-tiny", "--output", tiny_image.output_dir, "--cache-dir", cache)
    listed = _cumulo(*common, "-f", "value", "-c", "file")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == list(build.OUTPUTS)
    assert "build-tiny: up to date" in listed.stderr

    clouds = os.path.join(tmp_path, "clouds.yaml")
    with open(clouds, "w") as f:
        f.write("clouds: {}\n")
    failed = _cumulo(*common, "--upload", "--os-cloud", "no-such-cloud", env={"OS_CLIENT_CONFIG_FILE": clouds})
    assert failed.returncode != 0
    last = failed.stderr.strip().splitlines()[-1]
    assert "no-such-cloud" in last and "Traceback" not in failed.stderr
