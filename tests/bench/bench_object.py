"""Object Storage throughput: PUT, GET and DELETE N objects of a given size at a given concurrency.

Against a running cloud (credentials from clouds.yaml)::

    python tests/bench/bench_object.py --os-cloud cumulo --count 500 --size 1KiB --concurrency 8

or against a throwaway ``cumulo up`` it starts itself (``--backend dir|ring``)::

    python tests/bench/bench_object.py --start --backend dir --count 200 --size 1MiB

Prints ops/s, MB/s and latency percentiles per operation; asserts nothing.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

import requests


def parse_size(text: str) -> int:
    units = {"kib": 1024, "mib": 1024**2, "gib": 1024**3, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "b": 1}
    low = text.strip().lower()
    for suffix, mult in units.items():
        if low.endswith(suffix):
            return int(float(low[: -len(suffix)]) * mult)
    return int(low)


def session_for(cloud_name: str, config_file: str | None) -> tuple[str, str]:
    """(token, storage URL) through keystoneauth, as the clients get them."""
    import openstack

    if config_file:
        os.environ["OS_CLIENT_CONFIG_FILE"] = config_file
    conn = openstack.connect(cloud=cloud_name)
    token = conn.session.get_token()
    url = conn.session.get_endpoint(service_type="object-store", interface="public")
    return token, url.rstrip("/")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


_local = threading.local()


def _session() -> requests.Session:
    if not hasattr(_local, "s"):
        _local.s = requests.Session()
    return _local.s


def run_phase(name: str, fn: Any, count: int, concurrency: int, size: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0

    def one(i: int) -> float:
        t0 = time.perf_counter()
        fn(i)
        return time.perf_counter() - t0

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        for fut in concurrent.futures.as_completed([pool.submit(one, i) for i in range(count)]):
            try:
                latencies.append(fut.result())
            except Exception as err:  # reported, not raised: this is a benchmark
                errors += 1
                if errors <= 3:
                    print(f"  {name} error: {err}", file=sys.stderr)
    elapsed = time.perf_counter() - start
    ops = len(latencies) / elapsed if elapsed else 0.0
    mbs = ops * size / 1e6 if name != "DELETE" else 0.0
    ms = [x * 1000 for x in latencies]
    row = {"ops": ops, "mbs": mbs, "p50": percentile(ms, 50), "p90": percentile(ms, 90),
           "p99": percentile(ms, 99), "mean": statistics.fmean(ms) if ms else 0.0, "errors": errors}
    print(f"{name:<7} {ops:9.1f} ops/s {mbs:9.2f} MB/s   latency ms p50 {row['p50']:7.2f}  p90 {row['p90']:7.2f}"
          f"  p99 {row['p99']:7.2f}  errors {errors}")
    return row


def bench(token: str, url: str, count: int, size: int, concurrency: int) -> dict[str, dict[str, float]]:
    container = f"bench-{uuid.uuid4().hex[:8]}"
    headers = {"X-Auth-Token": token}
    requests.put(f"{url}/{container}", headers=headers).raise_for_status()
    payload = os.urandom(size)

    def put(i: int) -> None:
        r = _session().put(f"{url}/{container}/obj-{i:06d}", data=payload, headers=headers)
        if r.status_code != 201:
            raise RuntimeError(f"PUT {r.status_code} {r.text[:100]}")

    def get(i: int) -> None:
        r = _session().get(f"{url}/{container}/obj-{i:06d}", headers=headers)
        if r.status_code != 200 or len(r.content) != size:
            raise RuntimeError(f"GET {r.status_code}")

    def delete(i: int) -> None:
        r = _session().delete(f"{url}/{container}/obj-{i:06d}", headers=headers)
        if r.status_code != 204:
            raise RuntimeError(f"DELETE {r.status_code}")

    print(f"{count} objects of {size} bytes, concurrency {concurrency}, {url}")
    results = {"PUT": run_phase("PUT", put, count, concurrency, size),
               "GET": run_phase("GET", get, count, concurrency, size),
               "DELETE": run_phase("DELETE", delete, count, concurrency, size)}
    requests.delete(f"{url}/{container}", headers=headers)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--os-cloud", default=os.environ.get("OS_CLOUD", "cumulo"))
    parser.add_argument("--config-file", help="clouds.yaml (default: OS_CLIENT_CONFIG_FILE or the usual places)")
    parser.add_argument("--start", action="store_true", help="start a throwaway cumulo up for the run")
    parser.add_argument("--backend", default="dir", help="[object] backend of the cloud --start makes")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--size", default="1KiB", help="object size: 1KiB, 1MiB, 4096...")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    size = parse_size(args.size)
    if args.start:
        from cumulo.testing.cloud import CumuloCloud

        with tempfile.TemporaryDirectory() as tmp:
            cloud = CumuloCloud(tmp, config={"api": {"frontends": "identity,object-store"},
                                             "object": {"backend": args.backend}})
            with cloud:
                token, url = session_for("cumulo", cloud.clouds_yaml)
                bench(token, url, args.count, size, args.concurrency)
        return 0
    token, url = session_for(args.os_cloud, args.config_file)
    bench(token, url, args.count, size, args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
