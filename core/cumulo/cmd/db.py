"""``cumulo db sync|version``."""

from __future__ import annotations

import argparse
from typing import Any

from cliff.command import Command
from cliff.lister import Lister

from cumulo import db
from cumulo.db import migrate


class DbSync(Command):
    """Create or upgrade the database schema (kernel and plugins) to the latest revision."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        migrate.sync()
        self.app.stdout.write(f"Database {db.get_engine().url.render_as_string(hide_password=True)} is at "
                              f"{', '.join(sorted(migrate.current()))}\n")


class DbVersion(Lister):
    """Show the schema revision of each migration branch, and the latest available."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        pending = migrate.pending()
        rows = [(h, "no" if h in pending else "yes") for h in sorted(migrate.heads())]
        return ("Head revision", "Applied"), rows
