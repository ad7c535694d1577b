"""``cumulo plugin new``: the command that writes a plugin skeleton (see :mod:`cumulo_devtools.scaffold`)."""

from __future__ import annotations

import argparse

from cliff.command import Command

from cumulo import registry
from cumulo_devtools import scaffold


class PluginNew(Command):
    """Scaffold a new plugin distribution: setup, entry point, a class implementing the interface, a test."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("kind", choices=sorted(k for k in registry.KINDS if k != "cli"), help="Plugin kind")
        parser.add_argument("name", help="Plugin name (letters, digits, '_' and '-')")
        parser.add_argument("--path", required=True, help="Directory to create the distribution in")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        path = scaffold.new_plugin(parsed_args.kind, parsed_args.name, parsed_args.path)
        self.app.stdout.write(f"Created {path}\nInstall it with: pip install -e {path}\n")
