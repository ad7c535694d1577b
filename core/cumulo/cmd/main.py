"""The ``cumulo`` operator CLI: a cliff app whose commands are ``cumulo.cli`` entry points."""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import sys
from typing import Any

from cliff.app import App
from cliff.commandmanager import CommandManager
from oslo_config import cfg

import cumulo
from cumulo import conf as cumulo_conf
from cumulo import exception, statefiles
from cumulo.conf import CONF


class LazyCommandManager(CommandManager):
    """Find ``cumulo.cli`` commands without importing them: only the command run is loaded.

    (cliff's own manager imports every command's module at start, which would
    import every plugin that contributes a command.)
    """

    def load_commands(self, namespace: str) -> None:
        self.group_list.append(namespace)
        for ep in sorted(importlib.metadata.entry_points(group=namespace), key=lambda e: e.name):
            name = ep.name.replace("_", " ") if self.convert_underscores else ep.name
            self.commands.setdefault(name, ep)

    def find_command(self, argv: list[str]) -> tuple[Any, str, list[str]]:
        """The command to run, checked like any plugin (``cli`` kind) before it runs.

        :raises cumulo.registry.PluginError: the command does not implement
            :class:`cumulo.interfaces.cli.Command` or its version.
        """
        from cumulo import registry

        factory, name, rest = super().find_command(argv)
        if not getattr(factory, "__module__", "").startswith("cliff."):  # cliff's own help/complete are not plugins
            registry.check_class("cli", factory, name.replace(" ", "_"))
        return factory, name, rest


class CumuloApp(App):
    # One line on error: cliff prints "message"; our errors carry no traceback.
    CONSOLE_MESSAGE_FORMAT = "%(message)s"

    def __init__(self) -> None:
        super().__init__(
            description="Cumulo cloud operator CLI",
            version=cumulo.__version__,
            command_manager=LazyCommandManager("cumulo.cli"),
            deferred_help=True,
        )

    def run_subcommand(self, argv: list[str]) -> int:
        """A command plugin that cannot be loaded is one line and exit status 2, like any other error."""
        from cumulo import registry

        try:
            return int(super().run_subcommand(argv) or 0)
        except registry.PluginError as err:
            self.stderr.write(f"{err}\n")
            return 2

    def build_option_parser(self, description: str | None, version: str | None,
                            argparse_kwargs: dict[str, Any] | None = None) -> argparse.ArgumentParser:
        parser = super().build_option_parser(description, version, argparse_kwargs)
        parser.add_argument("--config-file", action="append", default=[], metavar="PATH",
                            help="Configuration file; repeat to layer them (later files override). "
                                 "Default: cumulo.conf in ~/.cumulo, ~/, /etc/cumulo, /etc.")
        return parser

    def initialize_app(self, argv: list[str]) -> None:
        files = self.options.config_file or cfg.find_config_files(project="cumulo")
        try:
            cumulo_conf.load(config_files=files)
        except cfg.Error as err:
            raise exception.ConfigError(reason=f"configuration error: {err}") from None
        logging.getLogger("cumulo").setLevel(logging.DEBUG if CONF.debug else logging.INFO)
        for chatty in ("alembic", "stevedore", "kombu", "amqp", "urllib3", "cheroot"):
            logging.getLogger(chatty).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    statefiles.secure_umask()  # databases, object data, keys: never readable by others
    return CumuloApp().run(argv)


if __name__ == "__main__":
    sys.exit(main())
