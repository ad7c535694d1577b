"""``cumulo config sample|check``."""

from __future__ import annotations

import argparse
import importlib.metadata

from cliff.command import Command
from oslo_config import cfg, generator

from cumulo import exception
from cumulo.conf import CONF, check


def cumulo_namespaces() -> list[str]:
    """Every ``oslo.config.opts`` namespace contributed by the kernel or a Cumulo plugin."""
    eps = importlib.metadata.entry_points(group="oslo.config.opts")
    names = sorted({ep.name for ep in eps if ep.name == "cumulo" or ep.name.startswith("cumulo")})
    return names + ["oslo.policy"]


class ConfigSample(Command):
    """Print a complete, commented sample configuration (kernel and every installed plugin)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--output-file", help="Write here instead of standard output")
        parser.add_argument("--format", choices=["ini", "yaml", "json"], default="ini")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        gconf = cfg.ConfigOpts()
        generator.register_cli_opts(gconf)
        args = ["--format", parsed_args.format, "--wrap-width", "79"]
        for ns in cumulo_namespaces():
            args += ["--namespace", ns]
        if parsed_args.output_file:
            args += ["--output-file", parsed_args.output_file]
        gconf(args=args, default_config_files=[])
        generator.generate(gconf, output_file=None if parsed_args.output_file else self.app.stdout)


class ConfigCheck(Command):
    """Validate the configuration before start: bad values, unknown plugins and options, missing ones."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--no-database", action="store_true", help="Do not try to connect to the database")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        problems = check.run(CONF, check_database=not parsed_args.no_database)
        for line in problems:
            self.app.stdout.write(f"ERROR: {line}\n")
        if problems:
            raise exception.ConfigError(reason=f"{len(problems)} problem(s) in the configuration")
        self.app.stdout.write(f"Configuration OK ({', '.join(CONF.config_file) or 'defaults only'})\n")
