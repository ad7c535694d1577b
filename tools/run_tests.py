"""The whole test suite: kernel unit tests, every plugin's tests, functional and integration tests.

``./dev test`` runs this; extra arguments go to pytest (e.g. ``-k token``,
``tests/unit``). With no path given, the type check (``mypy``, configured in
``mypy.ini``) runs first, then every suite, two workers at a time; pytest runs
even when the type check fails, and the run fails if either did.
``CUMULO_SKIP_TYPECHECK=1`` leaves the type check out.

A whole-suite run also records what it proved: pytest writes a junit report into
``.test-results/`` (the Tempest stage puts its ``results.json`` there too, through
``CUMULO_RESULTS_DIR``), and ``tools/feature_matrix.py`` merges them into
``doc/source/data/feature-results.json`` and prints the matrix's summary. Commit that file
to publish a run's evidence.
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


def typecheck() -> int:
    """Run mypy over the kernel and every plugin (the ``files`` of mypy.ini); its exit code."""
    print("==== run_tests: type check (mypy, see mypy.ini) ====", flush=True)
    if importlib.util.find_spec("mypy") is None:
        print("run_tests: mypy is not installed (pip install -r requirements-test.txt -c constraints.txt)",
              file=sys.stderr)
        return 1
    code = subprocess.call([sys.executable, "-m", "mypy"])
    verdict = "passed" if code == 0 else f"FAILED (exit {code}); the tests run anyway"
    print(f"==== run_tests: type check {verdict} ====", flush=True)
    return code


def record_feature_matrix(results_dir: str) -> None:
    """Merge the run's junit report and Tempest results into the feature matrix, and print its summary.

    It reports; it does not judge (the tests did): a problem here is printed, never the run's verdict.
    """
    reports = sorted(os.listdir(results_dir)) if os.path.isdir(results_dir) else []
    flags = [f"--junit={os.path.join(results_dir, r)}" for r in reports if r.endswith(".xml")]
    flags += [f"--tempest={os.path.join(results_dir, r)}" for r in reports if r.endswith(".json")]
    if not flags:
        return
    print("==== run_tests: feature matrix (tools/feature_matrix.py) ====", flush=True)
    tool = os.path.join(ROOT, "tools", "feature_matrix.py")
    for command in (["collect", *flags], ["summary"]):
        if subprocess.call([sys.executable, tool, *command]) != 0:
            print(f"run_tests: feature_matrix {command[0]} failed (the tests' verdict stands)", file=sys.stderr)
            return


def main(argv: list[str]) -> int:
    os.chdir(ROOT)
    explicit_paths = [a for a in argv if not a.startswith("-") and os.path.exists(a.split("::")[0])]
    typed = 0
    if not explicit_paths and os.environ.get("CUMULO_SKIP_TYPECHECK") != "1":
        typed = typecheck()
        print("==== run_tests: tests (pytest) ====", flush=True)
    args = [sys.executable, "-m", "pytest", *(argv if explicit_paths else suites() + argv)]
    results_dir = os.path.join(ROOT, ".test-results")
    if not explicit_paths:
        os.makedirs(results_dir, exist_ok=True)
        for old in os.listdir(results_dir):
            os.unlink(os.path.join(results_dir, old))
        args.append(f"--junitxml={os.path.join(results_dir, 'junit.xml')}")
        if importlib.util.find_spec("pytest_rerunfailures") and not any(a.startswith("--reruns") for a in argv):
            # One retry of a failed test: real guests under TCG on two loaded cores are timing-bound.
            # The summary (-raR) lists each rerun; a test that needs one is a flake to fix.
            args += ["--reruns", os.environ.get("CUMULO_TEST_RERUNS", "1"), "--reruns-delay", "2", "-raR"]
        os.environ["CUMULO_RESULTS_DIR"] = results_dir
    if importlib.util.find_spec("xdist") and "-n" not in argv and not any(a.startswith("-n") for a in argv):
        args += ["-n", os.environ.get("CUMULO_TEST_WORKERS", "2"), "--dist", "loadfile"]
    code = subprocess.call(args)
    if not explicit_paths:
        record_feature_matrix(results_dir)
    if code == 5:  # pytest: no tests collected
        print("run_tests: no tests were collected", file=sys.stderr)
    if typed != 0:
        print("run_tests: the type check failed (see its output above the tests)", file=sys.stderr)
    return code or (1 if typed else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
