"""Benchmark: issue and validate tokens at a given concurrency against a running Cumulo.

    python tests/bench/bench_tokens.py --concurrency 8 --requests 400          # starts its own cloud
    python tests/bench/bench_tokens.py --os-cloud cumulo --concurrency 16      # a running cloud

Phases (each with the same number of requests):

* ``issue-password``: ``POST /v3/auth/tokens`` with the password method (bcrypt
  dominates: its cost is ``[auth_sql] password_hash_rounds``);
* ``issue-token``: ``POST /v3/auth/tokens`` with the token method (rescoping;
  no password hash: what the token machinery itself costs);
* ``validate``: ``GET /v3/auth/tokens`` with ``X-Subject-Token`` (what every other
  API's middleware does on a cache miss).

Prints requests/s and latency percentiles (p50/p90/p95/p99, ms). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import requests


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def run_phase(name: str, total: int, concurrency: int, call: Callable[[requests.Session], int]) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    remaining = [total]

    def worker() -> None:
        s = requests.Session()
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            t0 = time.perf_counter()
            try:
                status = call(s)
            except requests.RequestException:
                status = -1
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)
                if status >= 400 or status < 0:
                    errors.append(status)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    lat = sorted(x * 1000 for x in latencies)
    result = {"phase": name, "requests": len(lat), "errors": len(errors), "seconds": elapsed,
              "rate": len(lat) / elapsed if elapsed else 0.0, "mean": statistics.fmean(lat) if lat else 0.0,
              **{f"p{p}": percentile(lat, p) for p in (50, 90, 95, 99)}}
    print(f"{name:16s} n={result['requests']:5d} err={result['errors']:3d} {result['rate']:8.1f} req/s  "
          f"mean {result['mean']:8.2f}  p50 {result['p50']:8.2f}  p90 {result['p90']:8.2f}  "
          f"p95 {result['p95']:8.2f}  p99 {result['p99']:8.2f} ms", flush=True)
    return result


def password_body(user: str, password: str, project: str) -> dict[str, Any]:
    return {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": user, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}


def bench(auth_url: str, user: str, password: str, project: str, concurrency: int, total: int) -> None:
    tokens_url = auth_url.rstrip("/") + "/auth/tokens"
    body = password_body(user, password, project)
    first = requests.post(tokens_url, json=body, timeout=60)
    first.raise_for_status()
    admin_token = first.headers["X-Subject-Token"]
    unscoped = requests.post(tokens_url, timeout=60, json={"auth": {"identity": body["auth"]["identity"]}})
    unscoped.raise_for_status()
    rescope = {"auth": {"identity": {"methods": ["token"], "token": {"id": unscoped.headers["X-Subject-Token"]}},
                        "scope": body["auth"]["scope"]}}
    print(f"# {auth_url}  concurrency={concurrency}  requests/phase={total}", flush=True)
    run_phase("issue-password", total, concurrency,
              lambda s: s.post(tokens_url, json=body, params={"nocatalog": "1"}, timeout=120).status_code)
    run_phase("issue-token", total, concurrency,
              lambda s: s.post(tokens_url, json=rescope, params={"nocatalog": "1"}, timeout=120).status_code)
    headers = {"X-Auth-Token": admin_token, "X-Subject-Token": admin_token}
    run_phase("validate", total, concurrency,
              lambda s: s.get(tokens_url, headers=headers, params={"nocatalog": "1"}, timeout=120).status_code)


def bench_in_process(concurrency: int, total: int) -> None:
    """``hub.identity.validate_token`` called directly: the cost every API request pays on a
    middleware cache miss, without HTTP. Caches warm, one token."""
    from cumulo import conf, db
    from cumulo.db import migrate
    from cumulo.services import ServiceHub

    with tempfile.TemporaryDirectory() as tmp:
        conf.CONF(args=[], project="cumulo", default_config_files=[])
        conf.CONF.set_override("state_path", tmp)
        db.reset()
        migrate.sync()
        svc = ServiceHub().identity
        conf.CONF.set_override("password_hash_rounds", 4, group="auth_sql")
        svc.bootstrap("pw", "http://bench.invalid", [])
        token, _ = svc.authenticate(password_body("admin", "pw", "admin")["auth"])
        print(f"# in-process validate_token  concurrency={concurrency}  calls={total}", flush=True)
        run_phase("validate-inproc", total, concurrency, lambda _s: (svc.validate_token(token), 200)[1])
        db.reset()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--os-cloud", help="Cloud in clouds.yaml (OS_CLIENT_CONFIG_FILE); default: start one")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="Requests per phase")
    parser.add_argument("--hash-rounds", type=int, default=12,
                        help="bcrypt cost of the cloud this script starts (ignored with --os-cloud)")
    parser.add_argument("--in-process", action="store_true",
                        help="Measure validate_token in this process (no HTTP, no cloud)")
    args = parser.parse_args(argv)
    if args.in_process:
        bench_in_process(args.concurrency, args.requests)
        return 0
    if args.os_cloud:
        import openstack.config

        cfg = openstack.config.OpenStackConfig().get_one(cloud=args.os_cloud)
        a = cfg.auth
        bench(a["auth_url"], a["username"], a["password"], a["project_name"], args.concurrency, args.requests)
        return 0
    from cumulo.testing.cloud import CumuloCloud

    with tempfile.TemporaryDirectory() as tmp:
        cloud = CumuloCloud(tmp, config={"api": {"frontends": "identity"},
                                         "auth_sql": {"password_hash_rounds": args.hash_rounds}})
        cloud.start()
        try:
            bench(cloud.url + "/identity/v3", "admin", cloud.admin_password or "", "admin",
                  args.concurrency, args.requests)
        finally:
            cloud.stop()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    sys.exit(main())
