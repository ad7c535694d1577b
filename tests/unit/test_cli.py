"""The ``cumulo`` CLI as an operator runs it: one clear line and a non-zero exit on errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def cumulo(tmp_path, *args, env=None):
    conf = tmp_path / "cumulo.conf"
    if not conf.exists():
        conf.write_text(f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\n")
    return subprocess.run([sys.executable, "-m", "cumulo.cmd.main", "--config-file", str(conf), *args],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def assert_one_line_error(proc, *fragments):
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr and len(err.splitlines()) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in err


def test_plugin_list_json_includes_kernel_commands(tmp_path):
    proc = cumulo(tmp_path, "plugin", "list", "--kind", "cli", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert {"Kind": "cli", "Name": "plugin_list", "Distribution": "cumulo"}.items() <= rows[0].items() or any(
        r["Name"] == "plugin_list" and r["Distribution"] == "cumulo" for r in rows)


def test_plugin_show_unknown_name(tmp_path):
    proc = cumulo(tmp_path, "plugin", "show", "hypervisor", "no-such-driver")
    assert_one_line_error(proc, "No hypervisor plugin named 'no-such-driver'", "available:")


def test_plugin_show_unknown_kind(tmp_path):
    proc = cumulo(tmp_path, "plugin", "show", "teleporter", "x")
    assert_one_line_error(proc, "Unknown plugin kind 'teleporter'")


def test_db_sync_then_service_list(tmp_path):
    proc = cumulo(tmp_path, "db", "sync")
    assert proc.returncode == 0, proc.stderr
    proc = cumulo(tmp_path, "db", "version", "-f", "json")
    assert proc.returncode == 0 and all(r["Applied"] == "yes" for r in json.loads(proc.stdout))
    proc = cumulo(tmp_path, "service", "list", "-f", "json")
    assert proc.returncode == 0 and json.loads(proc.stdout) == []
    proc = cumulo(tmp_path, "service", "disable", "nohost", "cumulo-compute")
    assert_one_line_error(proc, "Service cumulo-compute on nohost could not be found.")


def test_config_sample_is_complete_and_commented(tmp_path):
    proc = cumulo(tmp_path, "config", "sample")
    assert proc.returncode == 0, proc.stderr
    for group in ("[DEFAULT]", "[database]", "[messaging]", "[api]", "[service]", "[oslo_policy]"):
        assert group in proc.stdout
    assert "#transport_url = inprocess://" in proc.stdout


def test_config_check_bad_value_exits_nonzero(tmp_path):
    (tmp_path / "cumulo.conf").write_text(f"[DEFAULT]\nstate_path = {tmp_path}\n[api]\nthreads = many\n")
    proc = cumulo(tmp_path, "config", "check")
    assert proc.returncode != 0
    assert "ERROR: [api] threads: invalid value" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_unparseable_config_file_is_one_line(tmp_path):
    (tmp_path / "cumulo.conf").write_text("this is not ini\n")
    proc = cumulo(tmp_path, "plugin", "list")
    assert_one_line_error(proc, "configuration error")


def test_up_rejects_unknown_area(tmp_path):
    proc = cumulo(tmp_path, "up", "--services", "teleport", "--no-user-clouds-yaml")
    assert_one_line_error(proc, "Unknown service area(s) teleport")


def test_help_of_a_plugin_command_and_cliff_help_work(tmp_path):
    """cliff's own help command is no plugin: ``--help`` of a plugin's command and ``help`` answer."""
    proc = cumulo(tmp_path, "plugin", "list", "--help")
    assert proc.returncode == 0 and "plugin list [-h]" in proc.stdout, proc.stderr
    proc = cumulo(tmp_path, "help", "plugin", "list")
    assert proc.returncode == 0 and "plugin list [-h]" in proc.stdout, proc.stderr


def test_a_command_plugin_that_fails_its_check_is_one_line(tmp_path, fake_distribution):
    root = fake_distribution("broken-cli", {"cumulo.cli": {"broken_thing": "brokencli:Broken"}},
                      {"brokencli": "from cliff.command import Command\nclass Broken(Command):\n"
                                    "    def take_action(self, parsed_args):\n        return 0\n"})
    proc = cumulo(tmp_path, "broken", "thing", env={"PYTHONPATH": root})
    assert_one_line_error(proc, "does not declare interface_version")
