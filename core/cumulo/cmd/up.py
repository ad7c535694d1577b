"""``cumulo up``: the whole cloud in one process, with embedded defaults.

SQLite in the state path, the in-process transport, every enabled API
frontend on one port (each under its own path), the kernel services and the
local storage nodes. Admin credentials go into ``<state_path>/clouds.yaml``
(and, unless ``--no-user-clouds-yaml``, the ``cumulo`` entry of
``~/.config/openstack/clouds.yaml``). Ctrl-C stops it cleanly; state persists,
so a restart keeps everything.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from typing import Any

import yaml
from cliff.command import Command

from cumulo import exception, registry, statefiles
from cumulo.conf import CONF
from cumulo.db import migrate
from cumulo.interfaces.base import PluginContext
from cumulo.services import ServiceHub, choose_all_in_one_plugins
from cumulo.wsgi.middleware import ServiceType
from cumulo.wsgi.server import PathDispatcher, Server

LOG = logging.getLogger(__name__)
CLOUD_NAME = "cumulo"
NOT_FOUND = json.dumps({"error": {"code": 404, "title": "Not Found",
                                  "message": "No API is mounted at this path; GET / lists the APIs."}}).encode()


def _index_app(frontends: list[Any], base_url: str) -> Any:
    body = json.dumps({"cumulo": {"apis": [
        {"service_type": f.service_type, "url": f.endpoint_url(base_url)} for f in frontends]}}).encode()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if (environ.get("PATH_INFO", "") not in ("", "/") or environ.get("QUERY_STRING")
                or environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD")
                or environ.get("HTTP_AUTHORIZATION", "").startswith("AWS")):
            # Only a plain GET / is the root document. Anything else (an unknown path, an EC2
            # Action, an S3 request) is a 404, so clients such as boto3 see "no such API".
            start_response("404 Not Found", [("Content-Type", "application/json"),
                                             ("Content-Length", str(len(NOT_FOUND)))])
            return [NOT_FOUND]
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return app


def write_clouds_yaml(path: str, creds: dict[str, Any]) -> None:
    """Add or replace the ``cumulo`` cloud in a clouds.yaml, keeping other clouds."""
    data: dict[str, Any] = {}
    if os.path.exists(path):
        with open(path) as f:
            data = yaml.safe_load(f) or {}
    data.setdefault("clouds", {})[CLOUD_NAME] = {
        "auth": {k: creds[k] for k in ("auth_url", "username", "password", "project_name",
                                       "user_domain_name", "project_domain_name")},
        "region_name": creds["region_name"],
        "identity_api_version": 3,
        "interface": "public",
    }
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        yaml.safe_dump(data, f, default_flow_style=False)
    os.replace(tmp, path)


class AllInOne:
    """The running cloud: start() then stop(). Used by ``cumulo up`` and tests."""

    def __init__(self, areas: tuple[str, ...] | None = None, serve_api: bool = True) -> None:
        self.areas, self.serve_api = areas, serve_api
        self.hub = ServiceHub(CONF)
        self.stoppables: list[Any] = []
        self.server: Server | None = None
        self.base_url = ""
        self.creds: dict[str, Any] | None = None

    def start(self) -> None:
        os.makedirs(CONF.state_path, exist_ok=True)
        migrate.sync()
        frontends = registry.load_plugins("api", CONF.api.frontends, PluginContext(CONF)) if self.serve_api else []
        if self.serve_api:
            self.server = Server(PathDispatcher({}), CONF.api.bind_host, CONF.api.port, CONF.api.threads)
            self.server.bind()
            if CONF.api.port == 0:  # what the services that call back (metadata proxies) must use
                CONF.set_override("port", self.server.port, group="api")
            self.base_url = (CONF.api.public_url or f"http://{self.server.host}:{self.server.port}").rstrip("/")
        self.stoppables.extend(self.hub.start_all(self.areas))
        if self.serve_api and self.hub.has("identity") and (self.areas is None or "identity" in self.areas):
            self.creds = self.hub.identity.bootstrap(None, self.base_url, frontends)
        if self.server is not None:
            # Each app knows its catalog service type (access rules of application credentials name it).
            mounts: dict[str, Any] = {f.path_prefix: ServiceType(f.build_app(self.hub), f.service_type)
                                      for f in frontends}
            mounts[""] = _index_app(frontends, self.base_url)
            self.server.server.wsgi_app = PathDispatcher(mounts)
            self.server.start()
            self.stoppables.append(self.server)

    def stop(self) -> None:
        for s in reversed(self.stoppables):
            try:
                s.stop()
            except Exception:
                LOG.exception("Stopping %s failed", s)
        self.stoppables.clear()
        from cumulo import messaging

        messaging.reset()  # close broker connections cleanly


class Up(Command):
    """Run the all-in-one cloud in this process until interrupted."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--state-path", help="Where state lives (default [DEFAULT] state_path, ~/.cumulo)")
        parser.add_argument("--host", help="Address to listen on (default [api] bind_host, 127.0.0.1)")
        parser.add_argument("--port", type=int, help="Port of the API server (default [api] port, 8800; 0 = any)")
        parser.add_argument("--services", help="Comma-separated areas to run (default: every installed area; "
                                               "'cumulo plugin list --kind service' lists them)")
        parser.add_argument("--no-api", action="store_true", help="Run services only (a multi-node worker)")
        parser.add_argument("--no-user-clouds-yaml", action="store_true",
                            help="Do not add the 'cumulo' cloud to ~/.config/openstack/clouds.yaml")
        return parser

    def _apply_args(self, args: argparse.Namespace) -> None:
        if args.state_path:
            CONF.set_override("state_path", os.path.abspath(args.state_path))
        if args.host:
            CONF.set_override("bind_host", args.host, group="api")
        if args.port is not None:
            CONF.set_override("port", args.port, group="api")

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        self._apply_args(parsed_args)
        areas = tuple(a.strip() for a in parsed_args.services.split(",")) if parsed_args.services else None
        cloud = AllInOne(areas, serve_api=not parsed_args.no_api)
        installed = cloud.hub.areas()  # the hub loads the area plugins once; starting reuses them
        unknown = [a for a in areas or () if a not in installed]
        if unknown:
            raise exception.ConfigError(reason=f"Unknown service area(s) {', '.join(unknown)}; "
                                               f"installed areas are {', '.join(installed)}")
        for line in choose_all_in_one_plugins(cloud.hub.plugins()):  # before any area builds its drivers
            self.app.stdout.write(f"Chosen: {line}\n")
            LOG.info("All-in-one choice: %s", line)
        statefiles.secure_umask()
        tightened = statefiles.tighten(CONF.state_path)
        if tightened:
            self.app.stdout.write(f"Tightened permissions of {tightened} file(s) under {CONF.state_path} "
                                  "(they were readable by other users).\n")
        _setup_logging()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        image = DefaultImage(self.app.stdout)
        try:
            cloud.start()
            self._announce(cloud, parsed_args)
            if cloud.server is not None:
                image.start()
            stop.wait()
        finally:
            self.app.stdout.write("Stopping...\n")
            self.app.stdout.flush()
            image.stop()
            cloud.stop()
            _remove(os.path.join(CONF.state_path, "up.json"))
        self.app.stdout.write("Stopped.\n")
        return 0

    def _announce(self, cloud: AllInOne, args: argparse.Namespace) -> None:
        out = self.app.stdout
        clouds_path = os.path.join(CONF.state_path, "clouds.yaml")
        if cloud.creds and cloud.creds.get("password"):
            write_clouds_yaml(clouds_path, cloud.creds)
            if not args.no_user_clouds_yaml:
                write_clouds_yaml(os.path.expanduser("~/.config/openstack/clouds.yaml"), cloud.creds)
            out.write(f"Admin password (shown once): {cloud.creds['password']}\n")
        elif cloud.creds:
            _refresh_auth_url(clouds_path, cloud.creds["auth_url"])
        if cloud.server is not None:
            out.write(f"Cumulo is up at {cloud.base_url}\n")
            for f in registry.load_plugins("api", CONF.api.frontends, PluginContext(CONF)):
                url = f.endpoint_url(cloud.base_url)
                project_id = (cloud.creds or {}).get("project_id")
                if project_id:  # the admin project's own URL, not the catalog's template
                    url = url.replace("$(project_id)s", project_id).replace("%(project_id)s", project_id)
                out.write(f"  {f.service_type:<14} {url}\n")
        if os.path.exists(clouds_path):
            # The clients read ~/.config/openstack/clouds.yaml themselves; only a private copy needs naming.
            env = "" if not args.no_user_clouds_yaml else f"OS_CLIENT_CONFIG_FILE={clouds_path} "
            out.write(f"Credentials: {clouds_path} (cloud '{CLOUD_NAME}'); try:\n"
                      f"  {env}openstack --os-cloud {CLOUD_NAME} catalog list\n")
        out.write(f"State: {CONF.state_path}; logs: {os.path.join(CONF.state_path, 'cumulo.log')}. "
                  "Ctrl-C stops.\n")
        out.flush()
        status = {"pid": os.getpid(), "url": cloud.base_url, "clouds_yaml": clouds_path, "cloud": CLOUD_NAME}
        with open(os.path.join(CONF.state_path, "up.json"), "w") as f:
            json.dump(status, f)


class DefaultImage:
    """The first start's bootable image (``[DEFAULT] default_image``): ``image build-tiny --upload`` in the background.

    Run as a child ``cumulo`` process (the command is a plugin's; the kernel
    only knows its name), its progress lines printed as they come. Done once
    per state path: a marker file remembers it.
    """

    COMMAND = ("image", "build-tiny")
    MARKER = "default-image.done"

    def __init__(self, out: Any) -> None:
        self.out = out
        self.proc: subprocess.Popen[str] | None = None
        self.thread: threading.Thread | None = None

    def _say(self, line: str) -> None:
        self.out.write(f"Default image: {line}\n")
        self.out.flush()

    def start(self) -> None:
        marker = os.path.join(CONF.state_path, self.MARKER)
        if not CONF.default_image or os.path.exists(marker):
            return
        if "_".join(self.COMMAND) not in registry.names("cli"):  # cliff's entry-point name for "image build-tiny"
            LOG.info("No default image: the '%s' command (cumulo-guest-tiny) is not installed", " ".join(self.COMMAND))
            return
        argv = [sys.executable, "-m", "cumulo.cmd.main"]
        for path in CONF.config_file or ():
            argv += ["--config-file", path]
        argv += [*self.COMMAND, "--upload", "--clouds-yaml", os.path.join(CONF.state_path, "clouds.yaml")]
        self._say("building the tiny guest from Debian packages and uploading it (in the background)")
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.thread = threading.Thread(target=self._follow, args=(self.proc, marker), name="default-image",
                                       daemon=True)
        self.thread.start()

    def _follow(self, proc: subprocess.Popen[str], marker: str) -> None:
        last = ""
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.strip():
                last = line.strip()
                LOG.info("default image: %s", last)
                if not last.startswith(("Traceback", "  ")):
                    self._say(last)
        if proc.wait() == 0:
            with open(marker, "w") as f:
                f.write("built and uploaded by cumulo up; delete this file to do it again\n")
            self._say("ready: openstack --os-cloud cumulo server create --image tiny --flavor m1.tiny ...")
        elif proc.returncode > 0:
            self._say(f"not made ({last[-300:]}); 'cumulo image build-tiny --upload' retries")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _refresh_auth_url(path: str, auth_url: str) -> None:
    """After a restart on another port, keep the stored credentials pointing at us."""
    if not os.path.exists(path):
        return
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    entry = data.get("clouds", {}).get(CLOUD_NAME)
    if entry and entry.get("auth", {}).get("auth_url") != auth_url:
        entry["auth"]["auth_url"] = auth_url
        write_clouds_yaml(path, {**entry["auth"], "region_name": entry.get("region_name", CONF.region_name)})


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _setup_logging() -> None:
    root = logging.getLogger()
    handler = logging.FileHandler(CONF.log_file or os.path.join(CONF.state_path, "cumulo.log"))
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if CONF.debug else logging.INFO)
    for noisy in ("cheroot", "urllib3", "kombu", "amqp", "stevedore", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
