"""What every plugin interface shares: a version contract and its options.

Every plugin kind has one interface: an abstract base class in its own module
under :mod:`cumulo.interfaces`. The class docstring and the abstract methods'
docstrings are the contract.

Versioning
----------
An interface carries ``INTERFACE_VERSION`` (``"MAJOR.MINOR"``), the version
the kernel implements now. A plugin declares ``interface_version``, the version
it was written for. The registry accepts a plugin when the majors are equal and
the plugin's minor is not newer than the kernel's: minors only add optional
methods with defaults, majors change or remove something.
"""

from __future__ import annotations

import abc
import importlib
from typing import Any, ClassVar

from oslo_config import cfg


def resolve(path: str, owner: str = "plugin") -> Any:
    """Import ``"package.module:attribute"`` and return the attribute.

    Lets a plugin class name its heavy parts (an app factory, a manager) without
    importing them until they are used. ``owner`` names the class attribute in errors.

    :raises TypeError: ``path`` is not of the form ``package.module:attribute``.
    """
    module, _, name = path.partition(":")
    if not module or not name:
        raise TypeError(f"{owner} must name 'package.module:attribute', not {path!r}")
    return getattr(importlib.import_module(module), name)


def parse_version(text: str) -> tuple[int, int]:
    """``"1.2"`` -> ``(1, 2)``; raises ValueError for anything else."""
    major, _, minor = str(text).partition(".")
    return int(major), int(minor or 0)


class Plugin(abc.ABC):  # noqa: B024 - the interfaces below declare the abstract methods
    """Base of every interface.

    Subclasses of an interface set ``interface_version`` in their own class
    body; the registry refuses a plugin that does not.
    """

    #: Set by each interface: the version the kernel implements.
    INTERFACE_VERSION: ClassVar[str] = "1.0"
    #: Set by each plugin: the interface version it was written for.
    interface_version: ClassVar[str | None] = None

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        """Options this plugin reads, as ``[(group, [opts])]``.

        The registry registers them before the plugin is instantiated, and
        ``cumulo plugin show`` and the sample-config generator list them.
        Group names are the plugin's own (by convention ``<kind>_<name>``).
        """
        return []
