"""Generated passwords for guests (a new server's ``adminPass``, a rescue or rebuild password).

The Compute API frontend makes one when a client creates a server without
``adminPass``; the compute area makes one for a rescue or a rebuild asked
without a password. Both use :func:`generate_password`.
"""

from __future__ import annotations

import secrets

__all__ = ["generate_password"]

#: Letters and digits that cannot be misread for each other (no l/1, O/0, I).
ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def generate_password(length: int = 12) -> str:
    """A random password of ``length`` characters from :data:`ALPHABET` (:mod:`secrets`)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))
