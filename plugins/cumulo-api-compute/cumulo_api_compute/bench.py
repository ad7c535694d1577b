"""``cumulo bench boot-delete``: boot and delete servers through the public Compute API.

Drives the cloud named by ``--os-cloud`` (clouds.yaml, as the ``openstack``
client does) through a keystoneauth session: each iteration POSTs a server,
polls it to ACTIVE, DELETEs it and polls until it is gone. Prints Rally's
table (min, median, 90%ile, 95%ile, max, avg, success %, count) for boot,
delete and total. Asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import statistics
import threading
import time
from typing import Any

from cliff.command import Command

MICROVERSION = "2.37"


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile with linear interpolation (Rally's)."""
    if not values:
        return float("nan")
    data = sorted(values)
    k = (len(data) - 1) * pct
    lo = int(k)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def table(rows: list[tuple[str, list[float], int]]) -> str:
    """Rally's summary table; ``rows`` are (action, durations of successes, attempts)."""
    head = ("Action", "Min (sec)", "Median (sec)", "90%ile (sec)", "95%ile (sec)", "Max (sec)", "Avg (sec)",
            "Success", "Count")
    lines = []
    for name, durations, count in rows:
        if durations:
            cells = [f"{min(durations):.3f}", f"{statistics.median(durations):.3f}",
                     f"{percentile(durations, 0.9):.3f}", f"{percentile(durations, 0.95):.3f}",
                     f"{max(durations):.3f}", f"{statistics.fmean(durations):.3f}"]
        else:
            cells = ["n/a"] * 6
        success = f"{100.0 * len(durations) / count:.1f}%" if count else "n/a"
        lines.append((name, *cells, success, str(count)))
    widths = [max(len(str(r[i])) for r in [head, *lines]) for i in range(len(head))]
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [sep, "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |", sep]
    out += ["| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in lines]
    out.append(sep)
    return "\n".join(out)


class _Runner:
    def __init__(self, session: Any, endpoint: str, flavor: str, image: str, network: str, timeout: float,
                 poll: float) -> None:
        self.session, self.endpoint = session, endpoint.rstrip("/")
        self.flavor, self.image, self.network = flavor, image, network
        self.timeout, self.poll = timeout, poll
        self.headers = {"OpenStack-API-Version": f"compute {MICROVERSION}", "Accept": "application/json"}
        self.errors: list[str] = []
        self.answers: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()

    def _req(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.session.request(self.endpoint + path, method, headers=self.headers, raise_exc=False, **kw)
        with self.lock:
            self.answers[f"{method} {resp.status_code}"] += 1
            if resp.status_code >= 500:  # a poll that got a 5xx is an error too, even if a later one succeeds
                self.errors.append(f"{method} {path.split('/')[1]}: {resp.status_code} {resp.text[:200]}")
        return resp

    def iteration(self, i: int) -> tuple[float | None, float | None, float | None]:
        start = time.monotonic()
        networks: Any = self.network if self.network in ("auto", "none") else [{"uuid": self.network}]
        body = {"server": {"name": f"bench-{i}", "imageRef": self.image, "flavorRef": self.flavor,
                           "networks": networks}}
        resp = self._req("POST", "/servers", json=body)
        if resp.status_code != 202:
            return self._fail(f"create: {resp.status_code} {resp.text[:200]}")
        sid = resp.json()["server"]["id"]
        boot = None
        deadline = start + self.timeout
        while time.monotonic() < deadline:
            r = self._req("GET", f"/servers/{sid}")
            if r.status_code == 200:
                status = r.json()["server"]["status"]
                if status == "ACTIVE":
                    boot = time.monotonic() - start
                    break
                if status == "ERROR":
                    self._fail(f"boot: {r.json()['server'].get('fault', {}).get('message')}")
                    break
            time.sleep(self.poll)
        else:
            self._fail(f"boot: server {sid} not ACTIVE after {self.timeout}s")
        d0 = time.monotonic()
        r = self._req("DELETE", f"/servers/{sid}")
        if r.status_code not in (202, 204):
            return self._fail(f"delete: {r.status_code} {r.text[:200]}", boot)
        deadline = d0 + self.timeout
        while time.monotonic() < deadline:
            r = self._req("GET", f"/servers/{sid}")
            if r.status_code == 404:
                delete = time.monotonic() - d0
                return boot, delete, (time.monotonic() - start) if boot is not None else None
            time.sleep(self.poll)
        return self._fail(f"delete: server {sid} still there after {self.timeout}s", boot)

    def _fail(self, message: str, boot: float | None = None) -> tuple[float | None, None, None]:
        with self.lock:
            self.errors.append(message)
        return boot, None, None


class BootDelete(Command):
    """Benchmark: boot and delete servers through the Compute API (Rally's boot_and_delete_server)."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--os-cloud", default="cumulo", help="Cloud in clouds.yaml (default: cumulo)")
        parser.add_argument("--times", type=int, default=100, help="Iterations (default 100)")
        parser.add_argument("--concurrency", type=int, default=10, help="Iterations at once (default 10)")
        parser.add_argument("--flavor", default="42", help="Flavor id or name (default 42, c1.nano)")
        parser.add_argument("--image", required=True, help="Image id or name")
        parser.add_argument("--network", default="none",
                            help="'none' (default), 'auto', or a network id the servers attach to")
        parser.add_argument("--timeout", type=float, default=600, help="Seconds to wait for each state")
        parser.add_argument("--poll", type=float, default=0.5, help="Seconds between status polls")
        parser.add_argument("--keep-quota", action="store_true",
                            help="Do not lift the project's instance/cores/ram quota first (needs admin)")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        args = parsed_args
        import openstack

        conn = openstack.connect(cloud=args.os_cloud)
        session = conn.session
        adapter = __import__("requests").adapters.HTTPAdapter(pool_maxsize=max(10, args.concurrency * 2),
                                                              pool_connections=4)
        session.session.mount("http://", adapter)
        session.session.mount("https://", adapter)
        endpoint = conn.compute.get_endpoint()
        if not endpoint:
            raise RuntimeError(f"cloud '{args.os_cloud}' has no compute endpoint in its catalog")
        image = conn.image.find_image(args.image, ignore_missing=False).id
        flavor = conn.compute.find_flavor(args.flavor, ignore_missing=False).id
        if not args.keep_quota:
            project = conn.current_project_id
            lifted = session.put(f"{endpoint}/os-quota-sets/{project}",
                                 json={"quota_set": {"instances": -1, "cores": -1, "ram": -1}},
                                 headers={"OpenStack-API-Version": f"compute {MICROVERSION}"}, raise_exc=False)
            if lifted.status_code != 200:
                self.app.stdout.write(f"warning: lifting the quota failed ({lifted.status_code}); "
                                      "pass --keep-quota to run within it\n")
        runner = _Runner(session, endpoint, flavor, image, args.network, args.timeout, args.poll)
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            results = list(pool.map(runner.iteration, range(args.times)))
        elapsed = time.monotonic() - started
        boots = [r[0] for r in results if r[0] is not None]
        deletes = [r[1] for r in results if r[1] is not None]
        totals = [r[2] for r in results if r[2] is not None]
        out = self.app.stdout
        out.write(table([("nova.boot_server", boots, args.times), ("nova.delete_server", deletes, args.times),
                         ("total", totals, args.times)]) + "\n")
        out.write(f"Load duration: {elapsed:.1f} s; {args.times} iterations at concurrency {args.concurrency}; "
                  f"{len(totals)} succeeded, {args.times - len(totals)} failed\n")
        out.write("Answers: " + ", ".join(f"{k} {v}" for k, v in sorted(runner.answers.items())) + "\n")
        for message in sorted(set(runner.errors))[:10]:
            out.write(f"  error: {message}\n")
        server_errors = sum(v for k, v in runner.answers.items() if k.split()[1].startswith("5"))
        return 0 if len(totals) == args.times and not server_errors else 1
