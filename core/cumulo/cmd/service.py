"""``cumulo service list|enable|disable``."""

from __future__ import annotations

import argparse
import datetime
from typing import Any

from cliff.lister import Lister
from cliff.show import ShowOne

from cumulo import service


def _cell(value: Any) -> Any:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime.datetime) else value


_COLUMNS = ("id", "binary", "host", "availability_zone", "status", "state", "last_seen_up", "disabled_reason")


class ServiceList(Lister):
    """List registered services and whether they are up."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--binary", help="Only this binary, e.g. cumulo-compute")
        parser.add_argument("--host", help="Only this host")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        rows = service.list_services(parsed_args.binary, parsed_args.host)
        return tuple(c.replace("_", " ").title() for c in _COLUMNS), [tuple(_cell(r.get(c)) for c in _COLUMNS) for r in rows]


class _SetDisabled(ShowOne):
    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    disabled = False

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("host")
        parser.add_argument("binary")
        if self.disabled:
            parser.add_argument("--reason", help="Why the service is disabled")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        row = service.set_disabled(parsed_args.host, parsed_args.binary, self.disabled,
                                   getattr(parsed_args, "reason", None))
        return _COLUMNS, tuple(_cell(row.get(c)) for c in _COLUMNS)


class ServiceEnable(_SetDisabled):
    """Enable a service: the scheduler may place work on it again."""


class ServiceDisable(_SetDisabled):
    """Disable a service: it keeps running, but nothing new is scheduled on it."""

    disabled = True
