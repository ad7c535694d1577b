"""State files are the owner's alone: a restrictive umask and a state path tightened on start.

The state path holds the SQLite database (password and secret hashes, user
data), object and image data, keys and credentials. Every ``cumulo`` process
runs with umask 077 (so new files are 0600 and directories 0700, children
included), and ``cumulo up`` tightens a state path that an earlier version or
an operator left open, saying what it changed.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat

SECURE_UMASK = 0o077
_STAMP = ".permissions-checked"


def secure_umask() -> int:
    """Set umask 077 for this process and its children; return the previous one."""
    return os.umask(SECURE_UMASK)


def tighten(path: str) -> int:
    """Make ``path`` 0700 and everything under it unreadable by group and others.

    Returns how many files and directories were changed. The full walk runs once
    per state path (a stamp file remembers it); afterwards only the top directory
    is checked, since the umask keeps new files private.
    """
    os.makedirs(path, mode=0o700, exist_ok=True)
    changed = _restrict(path)
    stamp = os.path.join(path, _STAMP)
    if os.path.exists(stamp):
        return changed
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            changed += _restrict(os.path.join(root, name))
    with open(os.open(stamp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write("state path permissions tightened; new files are private by umask\n")
    return changed


def _restrict(path: str) -> int:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 0
    if stat.S_ISLNK(st.st_mode) or not st.st_mode & 0o077:
        return 0
    os.chmod(path, stat.S_IMODE(st.st_mode) & 0o700 | (0o700 if stat.S_ISDIR(st.st_mode) else 0o600))
    return 1


def secret(path: str, create: bool = True) -> str | None:
    """The secret kept in ``path`` (0600); made (64 hex digits) when missing and ``create``, else None.

    Two processes racing to make it agree: the file is created exclusively, and
    the loser reads the winner's.
    """
    for _ in range(2):
        try:
            with open(path, encoding="ascii") as f:
                value = f.read().strip()
            if value:
                return value
        except FileNotFoundError:
            pass
        if not create:
            return None
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as err:
            if err.errno != errno.EEXIST:
                raise
            continue  # another process made it: read that one
        with os.fdopen(fd, "w", encoding="ascii") as f:
            value = secrets.token_hex(32)
            f.write(value + "\n")
        return value
    raise OSError(f"{path} exists but holds no secret")
