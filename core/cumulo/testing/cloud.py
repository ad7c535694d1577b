"""A real Cumulo in a subprocess, for functional tests and benchmarks.

    cloud = CumuloCloud(tmp_path, config={"compute": {"max_attempts": "2"}})
    cloud.start()
    servers = cloud.openstack("server", "list")          # parsed JSON
    conn = cloud.connect()                                # openstacksdk, as admin
    cloud.stop()

The cloud listens on a free localhost port (port 0 unless given) and writes
its credentials to ``<workdir>/state/clouds.yaml``; clients get them through
``cloud.env`` (OS_CLIENT_CONFIG_FILE, OS_CLOUD), never through the user's files.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

import yaml


class CloudError(RuntimeError):
    pass


class CommandFailed(CloudError):
    def __init__(self, args: list[str], returncode: int, stdout: str, stderr: str) -> None:
        self.cmd, self.returncode, self.stdout, self.stderr = args, returncode, stdout, stderr
        super().__init__(f"{' '.join(args)} exited {returncode}: {stderr.strip()[-2000:]}")


def _bin(name: str) -> str:
    local = os.path.join(os.path.dirname(sys.executable), name)
    return local if os.path.exists(local) else (shutil.which(name) or name)


class CumuloCloud:
    def __init__(self, workdir: str | os.PathLike[str], config: dict[str, dict[str, Any]] | None = None,
                 port: int = 0, extra_env: dict[str, str] | None = None, python: str | None = None) -> None:
        self.python = python or sys.executable  # another venv's interpreter: a node with other plugins
        self.workdir = os.path.abspath(str(workdir))
        self.state_path = os.path.join(self.workdir, "state")
        self.config_path = os.path.join(self.workdir, "cumulo.conf")
        self.log_path = os.path.join(self.workdir, "cumulo-up.log")
        self.config = {k: dict(v) for k, v in (config or {}).items()}
        self.port = port
        self.extra_env = dict(extra_env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.admin_password: str | None = None

    # -- lifecycle -------------------------------------------------------------
    def write_config(self) -> None:
        os.makedirs(self.state_path, exist_ok=True)
        # The simulated drivers and no default image unless a test asks: cumulo up would otherwise choose
        # libvirt and linuxbridge wherever this machine can run them (AreaService.all_in_one_choices), and
        # build the tiny guest on a first start.
        sections: dict[str, dict[str, Any]] = {"DEFAULT": {"state_path": self.state_path, "host": "cumulo-test",
                                                           "default_image": False},
                                               "api": {"port": self.port},
                                               "compute": {"hypervisor_driver": "fake"},
                                               "network": {"driver": "noop"}}
        for group, values in self.config.items():
            sections.setdefault(group, {}).update(values)
        with open(self.config_path, "w") as f:
            for group, values in sections.items():
                f.write(f"[{group}]\n")
                for k, v in values.items():
                    f.write(f"{k} = {','.join(map(str, v)) if isinstance(v, (list, tuple)) else v}\n")
                f.write("\n")

    @property
    def clouds_yaml(self) -> str:
        return os.path.join(self.state_path, "clouds.yaml")

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("OS_"):
                del env[k]
        env.update({"OS_CLIENT_CONFIG_FILE": self.clouds_yaml, "OS_CLOUD": "cumulo"})
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 90) -> CumuloCloud:
        self.write_config()
        status = os.path.join(self.state_path, "up.json")
        if os.path.exists(status):
            os.unlink(status)
        log = open(self.log_path, "ab")
        cmd = [self.python, "-m", "cumulo.cmd.main", "--config-file", self.config_path, "up",
               "--no-user-clouds-yaml"]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CloudError(f"cumulo up exited {self.proc.returncode}:\n{self.log_tail()}")
            if os.path.exists(status):
                try:
                    with open(status) as f:
                        info = json.load(f)
                except ValueError:
                    info = {}
                if info.get("pid") == self.proc.pid:
                    self.url = info["url"]
                    self._read_password()
                    return self
            time.sleep(0.1)
        self.stop()
        raise CloudError(f"cumulo up was not ready after {timeout}s:\n{self.log_tail()}")

    def _read_password(self) -> None:
        if os.path.exists(self.clouds_yaml):
            with open(self.clouds_yaml) as f:
                data = yaml.safe_load(f) or {}
            self.admin_password = data.get("clouds", {}).get("cumulo", {}).get("auth", {}).get("password")

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM (clean stop), then SIGKILL after ``timeout``; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self) -> None:
        """Crash it: SIGKILL, no clean-up (for durability tests)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def restart(self, timeout: float = 90) -> CumuloCloud:
        self.stop()
        return self.start(timeout)

    def log_tail(self, lines: int = 60) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def __enter__(self) -> CumuloCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- clients -------------------------------------------------------------
    def add_user_cloud(self, name: str, username: str, password: str, project_name: str | None = None,
                       **auth: Any) -> None:
        """Add a clouds.yaml entry for another user, usable as ``os_cloud=name``."""
        with open(self.clouds_yaml) as f:
            data = yaml.safe_load(f)
        base = data["clouds"]["cumulo"]
        entry = {**base, "auth": {"auth_url": base["auth"]["auth_url"], "username": username,
                                  "password": password, "user_domain_name": "Default",
                                  "project_domain_name": "Default", **auth}}
        if project_name:
            entry["auth"]["project_name"] = project_name
        else:
            entry["auth"].pop("project_domain_name", None)
        data["clouds"][name] = entry
        with open(self.clouds_yaml, "w") as f:
            yaml.safe_dump(data, f)

    def run(self, *args: str, check: bool = True, timeout: float = 300, input: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        argv = list(args)
        argv[0] = _bin(argv[0])
        proc = subprocess.run(argv, capture_output=True, text=True, env={**self.env, **(env or {})},
                              timeout=timeout, input=input)
        if check and proc.returncode != 0:
            raise CommandFailed(argv, proc.returncode, proc.stdout, proc.stderr)
        return proc

    def openstack(self, *args: str, os_cloud: str = "cumulo", json_out: bool | None = None,
                  check: bool = True, timeout: float = 300) -> Any:
        """Run the unmodified ``openstack`` CLI. Adds ``-f json`` to commands that print data."""
        argv = ["openstack", "--os-cloud", os_cloud, *args]
        wants_json = json_out if json_out is not None else _prints_data(args)
        if wants_json and "-f" not in args:
            argv += ["-f", "json"]
        proc = self.run(*argv, check=check, timeout=timeout)
        if not check:
            return proc
        if wants_json and proc.stdout.strip():
            return json.loads(proc.stdout)
        return proc.stdout

    def connect(self, cloud: str = "cumulo", **kwargs: Any) -> Any:
        import openstack
        from openstack.config import loader

        config = loader.OpenStackConfig(config_files=[self.clouds_yaml])
        region = config.get_one(cloud=cloud, **kwargs)
        return openstack.connection.Connection(config=region)


_DATA_VERBS = {"list", "show", "create", "issue", "set-quota"}


def _prints_data(args: tuple[str, ...]) -> bool:
    words = [a for a in args if not a.startswith("-")]
    return any(w in _DATA_VERBS for w in words[:3])
