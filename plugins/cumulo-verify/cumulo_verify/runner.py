"""The pinned Tempest in its own venv, a named selection of its tests, and the summary of a run."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import fcntl
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable

# The Tempest release `cumulo verify` installs and its results are recorded with (doc/source/tempest.rst).
# 47.0.0 supports Python 3.10-3.12 and the APIs the cloud speaks (identity v3, compute 2.1-2.79, image v2).
TEMPEST_VERSION = "47.0.0"
DEFAULT_VENV = os.path.expanduser("~/.cache/cumulo/tempest-venv")
#: Tempest and its dependencies as wheels, kept after an install so that a new venv installs offline.
WHEELHOUSE = os.path.join(os.environ.get("CUMULO_WHEELHOUSE") or os.path.expanduser("~/.cache/cumulo/wheelhouse"),
                          "tempest")

# --service NAME -> Tempest's package under tempest.api.
SERVICES = {"identity": "identity", "compute": "compute", "image": "image", "network": "network",
            "object-storage": "object_storage", "volume": "volume"}
# Tempest's own smoke filter (tempest run --smoke), combined here with the services' packages.
SMOKE = r"\[.*\bsmoke\b.*\]"

Progress = Callable[[str], None]


class VerifyError(Exception):
    """Tempest could not be installed or run."""


@dataclasses.dataclass(frozen=True)
class TestResult:
    """One test (or one class set-up) as Tempest reported it."""

    id: str
    status: str  # success, fail, skip, xfail, uxsuccess
    reason: str
    duration: float

    @property
    def service(self) -> str:
        """``identity`` for ``tempest.api.identity....`` (also inside ``setUpClass (...)``)."""
        m = re.search(r"tempest\.api\.(\w+)\.", self.id)
        if not m:
            return "other"
        for name, package in SERVICES.items():
            if package == m.group(1):
                return name
        return m.group(1)

    @property
    def name(self) -> str:
        """The id without Tempest's ``[id-...,smoke]`` attributes."""
        return re.sub(r"\[[^\]]*\]$", "", self.id)


@dataclasses.dataclass(frozen=True)
class ServiceSummary:
    service: str
    passed: int
    failed: int
    skipped: int


@dataclasses.dataclass(frozen=True)
class RunResult:
    tempest_version: str
    started: str
    duration: float
    command: list[str]
    regex: str
    returncode: int
    tests: list[TestResult]

    def summary(self) -> list[ServiceSummary]:
        counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        for t in self.tests:
            kind = {"success": "passed", "xfail": "passed", "skip": "skipped"}.get(t.status, "failed")
            counts[t.service][kind] += 1
        return [ServiceSummary(s, c["passed"], c["failed"], c["skipped"]) for s, c in sorted(counts.items())]

    def failures(self) -> list[TestResult]:
        return [t for t in self.tests if t.status not in ("success", "xfail", "skip")]


def venv_python(venv: str) -> str:
    return os.path.join(venv, "bin", "python")


def installed_version(venv: str) -> str | None:
    """The Tempest version installed in ``venv``, or None."""
    if not os.path.exists(venv_python(venv)):
        return None
    proc = subprocess.run([venv_python(venv), "-c", "import importlib.metadata as m; print(m.version('tempest'))"],
                          capture_output=True, text=True, timeout=60)
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def install(venv: str = DEFAULT_VENV, progress: Progress = lambda _m: None) -> str:
    """A venv at ``venv`` with Tempest ``TEMPEST_VERSION`` (kept when already there); its version.

    Two installs at once (a CI stage and a test, two terminals) take turns on ``<venv>.lock``.

    :raises VerifyError: the venv could not be made or pip failed.
    """
    os.makedirs(os.path.dirname(os.path.abspath(venv)), exist_ok=True)
    with open(os.path.abspath(venv) + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _install(venv, progress)


def _install(venv: str, progress: Progress) -> str:
    if installed_version(venv) == TEMPEST_VERSION:
        progress(f"tempest {TEMPEST_VERSION} already in {venv}")
        return TEMPEST_VERSION
    if not os.path.exists(venv_python(venv)):
        progress(f"creating {venv}")
        made = subprocess.run([sys.executable, "-m", "venv", venv], capture_output=True, text=True)
        if made.returncode != 0:
            raise VerifyError(f"python -m venv {venv}: {made.stderr.strip()[-500:]}")
    progress(f"pip install tempest=={TEMPEST_VERSION}")
    requirement = f"tempest=={TEMPEST_VERSION}"
    pip = [venv_python(venv), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    done = subprocess.run([*pip, "--find-links", WHEELHOUSE, requirement], capture_output=True, text=True)
    if done.returncode != 0 and os.path.isdir(WHEELHOUSE):
        progress(f"the package index failed; installing from {WHEELHOUSE}")
        done = subprocess.run([*pip, "--no-index", "--find-links", WHEELHOUSE, requirement],
                              capture_output=True, text=True)
    if done.returncode != 0:
        raise VerifyError(f"pip install {requirement}: {done.stderr.strip()[-1000:]}")
    # Keep the wheels for the next venv (pip's cache makes this quick); failing here changes nothing.
    subprocess.run([venv_python(venv), "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--find-links",
                    WHEELHOUSE, "-w", WHEELHOUSE, requirement], capture_output=True, text=True)
    version = installed_version(venv)
    if version != TEMPEST_VERSION:
        raise VerifyError(f"{venv} has tempest {version} after installing {TEMPEST_VERSION}")
    return version


def selection(services: list[str], smoke: bool, regex: str | None) -> str:
    """The regex ``tempest run`` gets: ``regex`` as given, else the services' API tests (smoke-tagged ones).

    :raises VerifyError: an unknown service.
    """
    if regex:
        return regex
    unknown = [s for s in services if s not in SERVICES]
    if unknown:
        raise VerifyError(f"unknown service {', '.join(unknown)}: choose from {', '.join(SERVICES)}")
    packages = "|".join(SERVICES[s] for s in services) if services else "\\w+"
    pattern = rf"^tempest\.api\.({packages})\."
    return pattern + (rf".*{SMOKE}" if smoke else "")


def run(workspace: str, config_file: str, regex: str, venv: str = DEFAULT_VENV, concurrency: int = 1,
        exclude_regex: str | None = None, stream: bool = True) -> RunResult:
    """``tempest run`` in ``workspace``; the results, also written to ``results.subunit`` and ``results.json``.

    :raises VerifyError: Tempest is not installed in ``venv``, or the run produced no results.
    """
    version = installed_version(venv)
    if version is None:
        raise VerifyError(f"no Tempest in {venv}: run `cumulo verify --install` first")
    tempest = os.path.join(venv, "bin", "tempest")
    selection_args = ["--config-file", config_file, "--regex", regex]
    if exclude_regex:
        selection_args += ["--exclude-regex", exclude_regex]
    stestr = os.path.join(venv, "bin", "stestr")
    if not os.path.isdir(os.path.join(workspace, ".stestr")):  # listing needs the repository a run would make
        subprocess.run([stestr, "init"], cwd=workspace, capture_output=True)
    listed = subprocess.run([tempest, "run", "--list-tests", *selection_args], cwd=workspace, capture_output=True,
                            text=True)
    cmd = [tempest, "run", *selection_args, "--concurrency", str(concurrency)]
    if listed.returncode != 0:
        raise VerifyError(f"tempest run --list-tests exited {listed.returncode}: "
                          f"{(listed.stderr or listed.stdout).strip()[-1000:]}")
    selected = [line.strip() for line in listed.stdout.splitlines() if line.startswith("tempest.")]
    started = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
    t0 = time.monotonic()
    # Tempest's progress goes to stderr: stdout is the summary table (or its -f json).
    out = sys.stderr.fileno() if stream else subprocess.DEVNULL
    proc = subprocess.run(cmd, cwd=workspace, stdout=out, stderr=out)
    duration = time.monotonic() - t0
    last = subprocess.run([stestr, "last", "--subunit"], cwd=workspace, capture_output=True)
    if last.returncode not in (0, 1) or not last.stdout:
        raise VerifyError(f"tempest run exited {proc.returncode} and left no results in {workspace}/.stestr")
    with open(os.path.join(workspace, "results.subunit"), "wb") as f:
        f.write(last.stdout)
    script = os.path.join(os.path.dirname(__file__), "subunit_summary.py")
    parsed = subprocess.run([venv_python(venv), script], input=last.stdout, capture_output=True)
    if parsed.returncode != 0:
        raise VerifyError(f"reading the subunit stream: {parsed.stderr.decode(errors='replace')[-500:]}")
    tests = expand_class_setups([TestResult(**t) for t in json.loads(parsed.stdout)], selected)
    result = RunResult(tempest_version=version, started=started, duration=round(duration, 1), command=cmd,
                       regex=regex, returncode=proc.returncode, tests=tests)
    write_json(result, os.path.join(workspace, "results.json"))
    return result


def _class_of(test_id: str) -> str:
    """``tempest.api.x.test_y.Class`` of ``tempest.api.x.test_y.Class.test_z[id-...]``."""
    return re.sub(r"\.[^.]*$", "", re.sub(r"\[.*$", "", test_id))


def expand_class_setups(results: list[TestResult], selected: list[str]) -> list[TestResult]:
    """Each selected test of a class whose ``setUpClass`` failed or skipped, with that result (Tempest reports
    the class once), so that the counts are per test. ``selected``: ``tempest run --list-tests``."""
    setups: dict[str, TestResult] = {}
    for r in results:
        m = re.fullmatch(r"setUpClass \((\S+)\)", r.id)
        if m:
            setups[m.group(1)] = r
    listed_classes = {_class_of(t) for t in selected}
    out = [r for r in results if not (r.id.startswith("setUpClass (") and r.id[12:-1] in listed_classes)]
    ran = {r.id for r in results}
    for test_id in selected:
        setup = setups.get(_class_of(test_id))
        if test_id not in ran and setup is not None:
            out.append(TestResult(test_id, setup.status, f"(class set-up) {setup.reason}", 0.0))
    return out


def write_json(result: RunResult, path: str) -> None:
    doc = dataclasses.asdict(result)
    doc["summary"] = [dataclasses.asdict(s) for s in result.summary()]
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
