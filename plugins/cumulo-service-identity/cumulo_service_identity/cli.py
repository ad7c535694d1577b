"""``cumulo identity bootstrap`` and ``cumulo identity rotate-keys`` (``cumulo.cli`` commands of the identity area)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from cliff.command import Command
from cliff.show import ShowOne

from cumulo import registry
from cumulo.conf import CONF
from cumulo.db import migrate
from cumulo.interfaces.base import PluginContext
from cumulo.services import ServiceHub


class IdentityBootstrap(ShowOne):
    """Create (idempotently) the Default domain, admin user and project, roles and the catalog."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--admin-password", help="Password of the admin user (default: the "
                                                     "OS_BOOTSTRAP_PASSWORD variable, or generated when the "
                                                     "user does not exist yet; an existing password is kept)")
        parser.add_argument("--public-url", help="Base URL for the catalog endpoints "
                                                 "(default [api] public_url, or http://<bind_host>:<port>)")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        migrate.sync()
        public_url = (parsed_args.public_url or CONF.api.public_url
                      or f"http://{CONF.api.bind_host}:{CONF.api.port}")
        frontends = []
        for name in CONF.api.frontends:
            try:
                frontends.append(registry.load_plugin("api", name, PluginContext(CONF)))
            except registry.PluginError as err:
                self.app.stderr.write(f"Skipping frontend {name} in the catalog: {err}\n")
        password = parsed_args.admin_password or os.environ.get("OS_BOOTSTRAP_PASSWORD") or None
        result = ServiceHub(CONF).identity.bootstrap(password, public_url, frontends)
        if result["password"] is None:
            result["password"] = "(unchanged)"
        keys = ("auth_url", "username", "password", "project_name", "user_domain_name",
                "project_domain_name", "region_name", "created")
        return keys, tuple(result[k] for k in keys)


class IdentityRotateKeys(Command):
    """Rotate the token keys: stage a new key, promote the staged one, drop the oldest."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        svc = ServiceHub(CONF).identity
        svc.ensure_keys()
        svc.rotate_keys()
        repo = getattr(svc.provider, "repo", None)
        where = f" in {repo.path}" if repo is not None else ""
        self.app.stdout.write(f"Rotated the {CONF.identity.token_provider} token keys{where}.\n")
