"""Load: Rally's boot-and-delete against the all-in-one while the machine is busy with something else.

``cumulo bench boot-delete`` (the plugin's benchmark command, unchanged) runs
against ``cumulo up`` with 50 fake hosts while one CPU burner per core runs at
the same priority as the cloud (``os.nice(0)``: it really competes). Every
iteration must succeed and no request may be answered 5xx: a database that is
busy makes requests wait and retry, never fail (the 1.7 % of "database is
locked" 500s this guards against came from exactly this run on a busy
machine).

CI size by default: 300 iterations at concurrency 50. ``CUMULO_LOAD_TIMES``
and ``CUMULO_LOAD_CONCURRENCY`` override (the target is 5000 at 150; figures
in doc/source/benchmarks/load.rst), ``CUMULO_LOAD_HOSTS`` the fake host count.
The table, the load average and the status counts are printed (``-s``).
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

TIMES = int(os.environ.get("CUMULO_LOAD_TIMES", "300"))
CONCURRENCY = int(os.environ.get("CUMULO_LOAD_CONCURRENCY", "50"))
HOSTS = int(os.environ.get("CUMULO_LOAD_HOSTS", "50"))

# One line per request on the cumulo.access logger: METHOD path status (bare or status=NNN) and more.
ACCESS = re.compile(r" cumulo\.access (\S+) (\S+) (?:status=)?(\d{3}|-)(?:\s|$)")
BURN = "import os\nos.nice(0)\nwhile True:\n    pass\n"


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


@contextlib.contextmanager
def cpu_burners(count: int | None = None) -> Iterator[list[subprocess.Popen[bytes]]]:
    """A busy loop per core, at normal priority, for the duration of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(count or os.cpu_count() or 2)]
    try:
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def statuses(log_path: str) -> collections.Counter[str]:
    """Answers by status class and method (``"POST 202"``, ``"GET 5xx"``) in the cloud's access log."""
    counts: collections.Counter[str] = collections.Counter()
    with open(log_path, errors="replace") as f:
        for line in f:
            m = ACCESS.search(line)
            if m:
                method, _path, status = m.groups()
                counts[f"{method} {'5xx' if status.startswith('5') or status == '-' else status}"] += 1
    return counts


@pytest.mark.slow
def test_boot_and_delete_under_cpu_contention(make_cloud, tmp_path):
    cloud = make_cloud({"hypervisor_fake": {"host_count": HOSTS}}, name="load").start(timeout=180)
    image = tmp_path / "img.raw"
    image.write_bytes(os.urandom(1024))
    name = "cirros-load-" + uuid.uuid4().hex[:6]
    cloud.openstack("image", "create", "--public", "--disk-format", "raw", "--container-format", "bare",
                    "--file", str(image), name)
    log_path = os.path.join(cloud.state_path, "cumulo.log")
    before = statuses(log_path)

    with cpu_burners() as burners:
        load_at_start = loadavg()
        started = time.monotonic()
        proc = cloud.run("cumulo", "bench", "boot-delete", "--os-cloud", "cumulo", "--image", name,
                         "--times", str(TIMES), "--concurrency", str(CONCURRENCY),
                         check=False, timeout=max(900, TIMES))
        elapsed = time.monotonic() - started
        load_at_end = loadavg()
        assert all(p.poll() is None for p in burners), "a CPU burner stopped early"

    after = statuses(log_path)
    during = {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}
    print(f"\n{proc.stdout}{proc.stderr[-3000:]}")
    print(f"wall {elapsed:.1f} s; load average {load_at_start} at start, {load_at_end} at the end "
          f"({os.cpu_count()} cores, {len(burners)} burners); answers: {dict(sorted(during.items()))}")

    assert f"{TIMES} succeeded, 0 failed" in proc.stdout, proc.stdout + proc.stderr[-3000:]
    assert proc.returncode == 0
    server_errors = {k: v for k, v in during.items() if k.endswith("5xx")}
    assert not server_errors, f"5xx answers during the run: {server_errors}\n{cloud.log_tail()}"
    assert during.get("POST 202", 0) >= TIMES
