"""The unmodified AWS CLI (``aws``, v1 from PyPI) for functional tests, in its own venv.

awscli pins ``docutils`` below what the project's Sphinx needs, so it cannot live in the
project's venv. :func:`aws_cli` finds or makes one ``aws``::

    aws = aws_cli()
    subprocess.run([aws, "s3", "ls", "--endpoint-url", url], env={...AWS_ACCESS_KEY_ID...})

In order: ``$CUMULO_AWSCLI`` (the path of an ``aws`` executable), else the venv at
``~/.cache/cumulo/awscli-venv`` (made once with ``pip install awscli==AWSCLI_VERSION``, under a
file lock so parallel test processes make it once), else the test skips
(:func:`cumulo.testing.fixtures.unavailable`: a failure under ``CI``).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys

from cumulo.testing.fixtures import unavailable

#: The awscli v1 release installed into the venv (it runs on Python 3.9+; its botocore speaks SigV4
#: with the default ``when_supported`` checksums, as current clients do).
AWSCLI_VERSION = "1.46.3"
DEFAULT_VENV = os.path.expanduser("~/.cache/cumulo/awscli-venv")
LOCK_PATH = os.path.expanduser("~/.cache/cumulo/awscli-venv.lock")

__all__ = ["AWSCLI_VERSION", "DEFAULT_VENV", "aws_cli"]


def _works(aws: str) -> bool:
    try:
        proc = subprocess.run([aws, "--version"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0 and "aws-cli/" in (proc.stdout + proc.stderr)


def _install(venv: str) -> str | None:
    """Make ``venv`` with awscli; the reason it failed, or None."""
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        made = subprocess.run([sys.executable, "-m", "venv", venv], capture_output=True, text=True)
        if made.returncode != 0:
            return f"python -m venv {venv}: {made.stderr.strip()[-500:]}"
    pip = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                          f"awscli=={AWSCLI_VERSION}"], capture_output=True, text=True, timeout=900)
    if pip.returncode != 0:
        return f"pip install awscli=={AWSCLI_VERSION}: {(pip.stderr or pip.stdout).strip()[-500:]}"
    return None


def aws_cli(venv: str = DEFAULT_VENV) -> str:
    """The path of a working ``aws`` executable (see the module docstring); skips the test without one."""
    given = os.environ.get("CUMULO_AWSCLI")
    if given:
        if not _works(given):
            unavailable(f"CUMULO_AWSCLI={given} is not a working aws executable")
        return given
    aws = os.path.join(venv, "bin", "aws")
    if os.path.exists(aws) and _works(aws):
        return aws
    os.makedirs(os.path.dirname(LOCK_PATH), exist_ok=True)
    with open(LOCK_PATH, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be making it: wait, then reuse it
        try:
            if not (os.path.exists(aws) and _works(aws)):
                failed = _install(venv)
                if failed:
                    unavailable(f"the AWS CLI could not be installed: {failed}")
        except (OSError, subprocess.SubprocessError) as err:
            unavailable(f"the AWS CLI could not be installed: {err}")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    if not _works(aws):
        unavailable(f"{aws} does not run")
    return aws
