"""CLI commands (``cumulo.cli``): cliff commands contributed to the ``cumulo`` tool.

A command is a :class:`cliff.command.Command` subclass (``Lister`` and
``ShowOne`` included); the entry-point name with ``_`` read as a space is the
command (``plugin_list`` -> ``cumulo plugin list``). Expected failures raise
:class:`cumulo.exception.CumuloError`; the app prints the message as one line
and exits non-zero. Output formatting (table, json, yaml, value) is cliff's.

The CLI is loaded by cliff's own command manager; this class states the
contract for ``cumulo plugin`` and the conformance kit.
"""

from __future__ import annotations

import abc
import argparse
from typing import Any

from cumulo.interfaces.base import Plugin


class Command(Plugin):
    INTERFACE_VERSION = "1.0"

    @abc.abstractmethod
    def take_action(self, parsed_args: argparse.Namespace) -> Any:
        """Do the command. Listers return ``(columns, rows)``, ShowOnes ``(columns, values)``."""
