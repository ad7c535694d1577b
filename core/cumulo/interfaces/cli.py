"""CLI commands (``cumulo.cli``): cliff commands contributed to the ``cumulo`` tool.

A command is a :class:`cliff.command.Command` subclass (``Lister`` and
``ShowOne`` included); the entry-point name with ``_`` read as a space is the
command (``plugin_list`` -> ``cumulo plugin list``). Expected failures raise
:class:`cumulo.exception.CumuloError`; the app prints the message as one line
and exits non-zero. Output formatting (table, json, yaml, value) is cliff's.

Commands are plugins like any other: the ``cumulo`` app finds them by entry
point without importing them, and imports and checks only the command being
run (:func:`cumulo.registry.check_class`: ``take_action`` present with this
signature, ``interface_version`` declared and compatible). A command class
subclasses cliff's ``Command``/``Lister``/``ShowOne`` and declares::

    class RingShow(Lister):
        interface_version = "1.0"

        def take_action(self, parsed_args): ...

(The class need not subclass :class:`Command`: cliff's base classes have
their own metaclass.)
"""

from __future__ import annotations

import abc
import argparse
from typing import Any

from cumulo.interfaces.base import Plugin


class Command(Plugin):
    """A cliff command. The one kind not built as ``cls(ctx)``: cliff builds it, as ``cls(app, app_args,
    cmd_name)``; the configuration is the kernel's ``CONF``, loaded by the ``cumulo`` app."""

    INTERFACE_VERSION = "1.0"

    def __init__(self, app: Any, app_args: Any, cmd_name: str | None = None) -> None:  # cliff's signature
        raise NotImplementedError("a command derives from cliff's Command, Lister or ShowOne")

    @abc.abstractmethod
    def take_action(self, parsed_args: argparse.Namespace) -> Any:
        """Do the command. Listers return ``(columns, rows)``, ShowOnes ``(columns, values)``."""
