"""The whole test suite: kernel unit tests, every plugin's tests, functional and integration tests.

``./dev test`` runs this; extra arguments go to pytest (e.g. ``-k token``,
``tests/unit``). With no path given, every suite runs, two workers at a time.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def suites() -> list[str]:
    plugin_tests = sorted(glob.glob("plugins/*/tests") + glob.glob("plugins-contrib/*/tests"))
    return ["tests/unit", *plugin_tests, "tests/functional", "tests/integration"]


def main(argv: list[str]) -> int:
    os.chdir(ROOT)
    explicit_paths = [a for a in argv if not a.startswith("-") and os.path.exists(a.split("::")[0])]
    args = [sys.executable, "-m", "pytest", *(argv if explicit_paths else suites() + argv)]
    if importlib.util.find_spec("xdist") and "-n" not in argv and not any(a.startswith("-n") for a in argv):
        args += ["-n", os.environ.get("CUMULO_TEST_WORKERS", "2"), "--dist", "loadfile"]
    code = subprocess.call(args)
    if code == 5:  # pytest: no tests collected
        print("run_tests: no tests were collected", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
