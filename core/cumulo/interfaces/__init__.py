"""Plugin interfaces: one module per plugin kind (see :data:`cumulo.registry.KINDS`)."""

from cumulo.interfaces.base import Plugin, parse_version  # noqa: F401
