"""Real guests booted through the Compute API (libvirt, QEMU): time to the guest's own "up" line, and memory per guest.

Starts its own ``cumulo up`` with ``[compute] hypervisor_driver = libvirt`` (a running libvirtd is
reused; otherwise the cloud starts one), builds and uploads the tiny guest (``cumulo image
build-tiny --upload``), creates a 256 MiB flavor, then boots servers with openstacksdk
(``networks: none``), as ``tests/functional/test_libvirt_guests.py`` does with the CLI:

- one guest at a time, ``--runs`` times (the first run is *cold*: the host's base-image cache is
  empty, so it includes the image download), then median, min and max of the warm runs;
- ``--together`` guests at once (default 4): each guest's figures and the time until all are up.

Each guest's clock starts when its create request returns 202. The console API
(``os-getConsoleOutput``) is polled every 0.25 s until it holds ``cumulo-tiny: up <name>``; at the
same time ``<state_path>/libvirt/instances/<uuid>/console.log`` is watched directly (every 20 ms),
which says when the marker really appeared, so the difference to the API figure is polling and
request latency. The split of the rest: when the guest's QEMU process started (``/proc/<pid>/stat``)
and the server's ``launched_at`` (spawn done: image cache, overlay, config drive, domain defined
and started); after that it is the guest's own boot. Memory is each guest's ``qemu-system-x86_64``
RSS, PSS and anonymous memory (``/proc/<pid>/smaps_rollup``) once all guests of the round are up. The load average,
CPU count and number of QEMU processes on the host are printed before and after each phase.
Asserts nothing::

    .venv/bin/python tests/bench/bench_boot_libvirt.py [--runs 6] [--together 4] [--json FILE] [--workdir DIR]

Needs root, QEMU, libvirt (daemon and libvirt-python) and the tiny guest's Debian packages;
exits 2 saying what is missing otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from cumulo.testing.cloud import CumuloCloud

MARKER = "cumulo-tiny: up"
FLAVOR = "bench.tiny"
API_POLL = 0.25
FILE_POLL = 0.02
MiB = 1024 * 1024
TICK = os.sysconf("SC_CLK_TCK")


@dataclasses.dataclass
class Guest:
    """One server's timeline (``time.monotonic`` seconds) and memory; ``None`` until it happens."""

    name: str
    uuid: str = ""
    requested: float = 0.0  # just before the POST
    accepted: float = 0.0  # the POST returned 202
    accepted_wall: float = 0.0  # the same moment as time.time(), to place the server's launched_at
    qemu_started: float | None = None  # the guest's QEMU process started (/proc/<pid>/stat, 10 ms ticks)
    active: float | None = None  # launched_at: the compute host finished spawning (ACTIVE)
    console_api: float | None = None  # the console API first answered (not 409: the server left BUILDING)
    up_api: float | None = None  # the console API first held the marker
    file_created: float | None = None  # console.log exists (QEMU about to start)
    first_byte: float | None = None  # console.log holds the first byte the guest printed
    up_file: float | None = None  # console.log holds the marker
    polls: int = 0
    conflicts: int = 0
    up_line: str = ""
    error: str = ""
    rss: int | None = None
    pss: int | None = None
    qemu_cpu: float | None = None  # CPU seconds the guest's QEMU used until measured (all its life)
    anon: int | None = None  # private anonymous memory: the guest's RAM as it touches it, TCG's code cache
    accel: str = ""

    def since_accept(self, t: float | None) -> float | None:
        """Seconds from the 202 to ``t``."""
        return None if t is None else t - self.accepted

    def figures(self) -> dict[str, Any]:
        """The guest as JSON: durations in seconds from the 202, memory in bytes."""
        return {"name": self.name, "uuid": self.uuid, "create_request_s": self.accepted - self.requested,
                "qemu_started_s": self.since_accept(self.qemu_started), "active_s": self.since_accept(self.active),
                "console_api_answers_s": self.since_accept(self.console_api),
                "console_log_created_s": self.since_accept(self.file_created),
                "first_console_byte_s": self.since_accept(self.first_byte),
                "up_in_console_log_s": self.since_accept(self.up_file),
                "up_via_api_s": self.since_accept(self.up_api), "api_polls": self.polls,
                "api_conflicts": self.conflicts, "up_line": self.up_line, "error": self.error,
                "rss_bytes": self.rss, "pss_bytes": self.pss, "anonymous_bytes": self.anon, "qemu_cpu_s": self.qemu_cpu, "accel": self.accel}


# -- the host --------------------------------------------------------------------------------------
def missing_requirements() -> list[str]:
    """Why real guests cannot run here (empty when they can)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("needs root (the cloud starts libvirtd and QEMU runs as root)")
    for tool in ("qemu-system-x86_64", "qemu-img"):
        if shutil.which(tool) is None:
            missing.append(f"{tool} is not installed (tools/system-packages.sh installs it)")
    if not (shutil.which("libvirtd") or os.path.exists("/usr/sbin/libvirtd")):
        missing.append("libvirtd is not installed (tools/system-packages.sh installs it)")
    try:
        import libvirt  # noqa: F401
    except ImportError:
        missing.append("libvirt-python is not installed")
    from cumulo import registry

    if "libvirt" not in registry.names("hypervisor"):
        missing.append("the cumulo-hypervisor-libvirt plugin is not installed")
    return missing


def load() -> dict[str, Any]:
    """The load average, the CPUs this process may use, and how many QEMU guests run on the host."""
    one, five, fifteen = os.getloadavg()
    return {"loadavg": [round(one, 2), round(five, 2), round(fifteen, 2)], "nproc": len(os.sched_getaffinity(0)),
            "qemu_processes": len(qemu_processes())}


def qemu_processes() -> dict[int, list[str]]:
    """Every ``qemu-system-*`` process on the host: pid -> argv (other users' guests count towards the load)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if argv and os.path.basename(argv[0]).startswith("qemu-system"):
            found[int(entry)] = argv
    return found


def measure_qemu(guest: Guest) -> None:
    """Fill in the start time and memory of the guest's QEMU process (found by its ``-uuid``) and its accelerator."""
    for pid, argv in qemu_processes().items():
        if guest.uuid not in argv:
            continue
        guest.accel = argv[argv.index("-accel") + 1] if "-accel" in argv[:-1] else ""
        try:
            with open(f"/proc/{pid}/stat") as f:  # fields 14, 15: utime, stime; 22: start time (ticks since boot)
                stat = f.read().rpartition(")")[2].split()
            since_boot = time.clock_gettime(time.CLOCK_BOOTTIME) - time.monotonic()
            guest.qemu_started = int(stat[19]) / TICK - since_boot
            guest.qemu_cpu = (int(stat[11]) + int(stat[12])) / TICK
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    field = {"Rss": "rss", "Pss": "pss", "Anonymous": "anon"}.get(key)
                    if field:
                        setattr(guest, field, int(value.split()[0]) * 1024)
        except OSError as err:
            guest.error = guest.error or f"smaps_rollup of qemu pid {pid}: {err}"
        return


def host_cpu() -> tuple[float, float]:
    """CPU seconds the whole host has spent busy (user, system, irq) and stolen by its hypervisor, since boot."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in f.readline().split()[1:9])
    return (user + nice + system + irq + softirq) / TICK, steal / TICK


def versions() -> dict[str, str]:
    """QEMU's and libvirt's versions, the kernel and the CPU model (what the figures were measured on)."""
    qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout
    import libvirt

    lib = libvirt.getVersion()
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    return {"qemu": qemu.splitlines()[0] if qemu else "", "libvirt": f"{lib // 1000000}.{lib // 1000 % 1000}.{lib % 1000}",
            "kernel": platform.release(), "cpu": cpu, "python": platform.python_version()}


# -- the cloud -------------------------------------------------------------------------------------
def start_cloud(workdir: str) -> CumuloCloud:
    """A ``cumulo up`` with the libvirt driver, the tiny guest uploaded and the 256 MiB flavor created."""
    cloud = CumuloCloud(os.path.join(workdir, "cloud"), config={
        "compute": {"hypervisor_driver": "libvirt", "shutdown_timeout": 5},
        "libvirt": {"virt_type": "auto", "shutdown_timeout": 5},
    })
    cloud.start(timeout=180)
    try:
        proc = subprocess.run([sys.executable, "-m", "cumulo.cmd.main", "--config-file", cloud.config_path, "image",
                               "build-tiny", "--output", os.path.join(workdir, "tiny"), "--upload",
                               "--clouds-yaml", cloud.clouds_yaml],
                              capture_output=True, text=True, timeout=900, env=cloud.env)
        if proc.returncode != 0:
            raise RuntimeError(f"cumulo image build-tiny --upload failed: {proc.stderr.strip()[-1500:]}")
        cloud.openstack("flavor", "create", "--ram", "256", "--vcpus", "1", "--disk", "1", FLAVOR)
    except BaseException:
        cloud.stop()
        raise
    return cloud


class ConsoleWatcher(threading.Thread):
    """Watches the guests' ``console.log`` files directly, every ``FILE_POLL`` seconds, until stopped."""

    def __init__(self, instances_path: str) -> None:
        super().__init__(daemon=True)
        self.instances_path = instances_path
        self.guests: list[Guest] = []
        self.lock = threading.Lock()
        self.done = threading.Event()

    def add(self, guest: Guest) -> None:
        """Start watching ``guest`` (its uuid is known: the create returned)."""
        with self.lock:
            self.guests.append(guest)

    def run(self) -> None:
        while not self.done.is_set():
            with self.lock:
                pending = [g for g in self.guests if g.up_file is None]
            for guest in pending:
                self._look(guest)
            time.sleep(FILE_POLL)

    def _look(self, guest: Guest) -> None:
        path = os.path.join(self.instances_path, guest.uuid, "console.log")
        now = time.monotonic()
        try:
            size = os.path.getsize(path)
        except OSError:
            return
        if guest.file_created is None:
            guest.file_created = now
        if size and guest.first_byte is None:
            guest.first_byte = now
        if size:
            with open(path, "rb") as f:
                if MARKER.encode() in f.read():
                    guest.up_file = now


def boot_and_wait(conn: Any, guest: Guest, image_id: str, flavor_id: str, watcher: ConsoleWatcher,
                  start: threading.Barrier | None, timeout: float) -> None:
    """Create the server, then poll its console through the API until the marker (or ``timeout``)."""
    import openstack.exceptions as sdk_errors

    if start is not None:
        start.wait()
    guest.requested = time.monotonic()
    server = conn.compute.create_server(name=guest.name, image_id=image_id, flavor_id=flavor_id, networks="none")
    guest.accepted, guest.accepted_wall = time.monotonic(), time.time()
    guest.uuid = server.id
    watcher.add(guest)
    deadline = guest.accepted + timeout
    while time.monotonic() < deadline:
        guest.polls += 1
        try:
            output = conn.compute.get_server_console_output(guest.uuid).get("output") or ""
        except sdk_errors.ConflictException:  # still BUILDING: no host to ask yet
            guest.conflicts += 1
            output = None
        now = time.monotonic()
        if output is not None and guest.console_api is None:
            guest.console_api = now
        if output and MARKER in output:
            guest.up_api = now
            guest.up_line = next(line for line in output.splitlines() if MARKER in line).strip()
            return
        if output is None and conn.compute.get_server(guest.uuid).status == "ERROR":
            guest.error = "server went to ERROR"
            return
        time.sleep(API_POLL)
    guest.error = f"no '{MARKER}' on the console after {timeout:.0f} s"


def boot_group(cloud: CumuloCloud, names: list[str], timeout: float) -> tuple[list[Guest], dict[str, Any]]:
    """Boot ``names`` at once (one thread and connection each), measure memory, delete them.

    Returns the guests and the round: ``all_up_s`` (first 202 to the last marker seen through the API,
    None if one never came up), its wall time, and the CPU seconds the host spent busy and stolen
    meanwhile next to those the guests' QEMUs used (the rest is the cloud, the client and other work).
    """
    conns = [cloud.connect() for _ in names]
    for conn in conns:  # authenticate and discover before the clock runs
        conn.compute.find_flavor(FLAVOR, ignore_missing=False)
    image_id = conns[0].image.find_image("tiny", ignore_missing=False).id
    flavor_id = conns[0].compute.find_flavor(FLAVOR, ignore_missing=False).id
    watcher = ConsoleWatcher(os.path.join(cloud.state_path, "libvirt", "instances"))
    watcher.start()
    guests = [Guest(name) for name in names]
    start = threading.Barrier(len(names)) if len(names) > 1 else None
    wall0, (busy0, steal0) = time.monotonic(), host_cpu()
    threads = [threading.Thread(target=_guarded, args=(boot_and_wait, conn, g, image_id, flavor_id, watcher,
                                                        start, timeout))
               for conn, g in zip(conns, guests, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(4 * FILE_POLL)  # let the watcher see a marker the API saw first
    watcher.done.set()
    watcher.join()
    for conn, guest in zip(conns, guests, strict=True):  # all up: with several guests, PSS shares QEMU's libraries
        if guest.uuid:
            measure_qemu(guest)
            launched = conn.compute.get_server(guest.uuid).launched_at
            if launched:
                wall = datetime.datetime.fromisoformat(launched).replace(tzinfo=datetime.UTC).timestamp()
                guest.active = guest.accepted + wall - guest.accepted_wall
    busy1, steal1 = host_cpu()
    ups = [g.up_api for g in guests]
    first = min((g.accepted for g in guests if g.accepted), default=wall0)
    round_ = {"all_up_s": None if None in ups else max(u for u in ups if u is not None) - first,
              "wall_s": time.monotonic() - wall0, "host_busy_cpu_s": busy1 - busy0, "host_steal_cpu_s": steal1 - steal0,
              "guests_qemu_cpu_s": sum(g.qemu_cpu or 0.0 for g in guests)}
    for conn, guest in zip(conns, guests, strict=True):
        if guest.uuid:
            conn.compute.delete_server(guest.uuid)
    deadline = time.monotonic() + 120
    for conn, guest in zip(conns, guests, strict=True):  # gone before the next run starts
        while guest.uuid and conn.compute.find_server(guest.uuid) is not None and time.monotonic() < deadline:
            time.sleep(0.5)
    return guests, round_


def _guarded(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except Exception as err:  # a failed guest is reported in the table, not a traceback per thread
        guest = args[1]
        guest.error = f"{type(err).__name__}: {err}"


# -- the report ------------------------------------------------------------------------------------
def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / MiB:.0f}"


HEADER = (f"{'guest':<14} {'POST s':>6} {'qemu':>6} {'ACTIVE':>6} {'up(log)':>8} {'up(API)':>8} "
          f"{'lag':>5} {'polls':>5} {'RSS MiB':>7} {'PSS MiB':>7} {'anon MiB':>8}")


def row(guest: Guest) -> str:
    """One guest: the POST's own time, then seconds from its 202 to each event, then memory."""
    lag = None if guest.up_api is None or guest.up_file is None else guest.up_api - guest.up_file
    line = (f"{guest.name:<14} {guest.accepted - guest.requested:>6.2f} {_s(guest.since_accept(guest.qemu_started)):>6} "
            f"{_s(guest.since_accept(guest.active)):>6} {_s(guest.since_accept(guest.up_file)):>8} "
            f"{_s(guest.since_accept(guest.up_api)):>8} {_s(lag):>5} {guest.polls:>5} {_mib(guest.rss):>7} "
            f"{_mib(guest.pss):>7} {_mib(guest.anon):>8}")
    return line + (f"  ERROR {guest.error}" if guest.error else "")


def summary(label: str, values: list[float]) -> str:
    """Median, min and max of ``values`` (seconds)."""
    if not values:
        return f"{label}: no values"
    return (f"{label}: median {statistics.median(values):.2f} s, min {min(values):.2f} s, max {max(values):.2f} s "
            f"({len(values)} runs)")


def cpu_line(round_: dict[str, Any]) -> str:
    """Where the host's CPU went during one round (booting to the markers, memory, deletes)."""
    return (f"CPU during the round ({round_['wall_s']:.1f} s wall, {len(os.sched_getaffinity(0))} cores): "
            f"host busy {round_['host_busy_cpu_s']:.1f} s, stolen {round_['host_steal_cpu_s']:.1f} s; "
            f"the guests' QEMU {round_['guests_qemu_cpu_s']:.1f} s")


def print_load(label: str, info: dict[str, Any]) -> None:
    la = info["loadavg"]
    print(f"load {label}: {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} (1/5/15 min), nproc {info['nproc']}, "
          f"{info['qemu_processes']} qemu processes on the host", flush=True)


def run(args: argparse.Namespace, workdir: str) -> dict[str, Any]:
    """The whole benchmark; returns what ``--json`` saves."""
    result: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "host": platform.node(),
                              "versions": versions(), "command": " ".join([os.path.basename(sys.argv[0]),
                                                                           *sys.argv[1:]])}
    print(f"{result['date']} on {result['host']}: {result['versions']}", flush=True)
    result["load_before_setup"] = load()
    print_load("before setup", result["load_before_setup"])
    t0 = time.monotonic()
    cloud = start_cloud(workdir)
    print(f"cloud up, tiny guest built and uploaded in {time.monotonic() - t0:.1f} s", flush=True)
    try:
        print(f"\ncolumns: POST = the create request itself; then seconds after its 202: qemu = the guest's QEMU "
              f"process started, ACTIVE = the server's launched_at, up(log) = marker in console.log, up(API) = "
              f"marker seen through the console API (polled every {API_POLL} s); lag = up(API) - up(log)\n")
        single: dict[str, Any] = {"load_before": load(), "runs": []}
        result["single"] = single
        print_load("before single runs", single["load_before"])
        print(HEADER)
        for n in range(1, args.runs + 1):
            guests, round_ = boot_group(cloud, [f"bench-r{n}"], args.timeout)
            print(row(guests[0]) + ("  (cold: image not in the base cache)" if n == 1 else ""), flush=True)
            single["runs"].append({**guests[0].figures(), "round": round_})
        single["load_after"] = load()
        print_load("after single runs", single["load_after"])
        warm = [g for g in single["runs"][1:] if g["up_via_api_s"] is not None]
        for key in ("up_via_api_s", "up_in_console_log_s", "qemu_started_s", "active_s"):
            print(summary(f"warm {key}", [g[key] for g in warm if g[key] is not None]))
        rounds = [g["round"] for g in single["runs"]]
        print("all single runs: " + cpu_line({k: sum(r[k] or 0.0 for r in rounds) for k in rounds[0]}))
        if args.together > 1:
            together: dict[str, Any] = {"load_before": load()}
            result["together"] = together
            print(f"\n{args.together} guests at once")
            print_load("before", together["load_before"])
            print(HEADER)
            guests, round_ = boot_group(cloud, [f"bench-g{i}" for i in range(1, args.together + 1)], args.timeout)
            for guest in guests:
                print(row(guest))
            together.update(guests=[g.figures() for g in guests], round=round_, load_after=load())
            print(f"all {args.together} up (console API) {_s(round_['all_up_s'])} s after the first create was "
                  f"accepted")
            print(cpu_line(round_))
            print_load("after", together["load_after"])
    finally:
        cloud.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6, help="Single-guest runs; the first is cold (default 6).")
    parser.add_argument("--together", type=int, default=4, help="Guests booted at once (default 4; 0 skips).")
    parser.add_argument("--timeout", type=float, default=180, help="Seconds to wait for each guest's marker.")
    parser.add_argument("--json", metavar="FILE", help="Also save the figures as JSON.")
    parser.add_argument("--workdir", help="Where the cloud keeps its state (default: a temp dir, removed after).")
    args = parser.parse_args(argv)
    missing = missing_requirements()
    if missing:
        print("bench_boot_libvirt: cannot boot real guests here: " + "; ".join(missing), file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="bench-boot-") as tmp:
        result = run(args, tmp)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
        print(f"saved {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
