"""RPC call rate on each transport: calls/s and latency at several concurrencies.

Usage::

    python tests/bench/bench_rpc.py [--calls 5000] [--concurrency 1,16,150]
                                    [--transports inprocess,rabbit] [--rabbit-url URL] [--workers 64]

Prints one line per (transport, concurrency): calls/s, median and 99th percentile
latency. Casts are measured too (sent/s, then the time until all ran). It asserts
nothing. A transport that cannot be reached is reported and skipped.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from cumulo import messaging
from cumulo.conf import CONF
from cumulo.context import RequestContext

PAYLOAD = {"instance": {"uuid": str(uuid.uuid4()), "name": "bench", "flavor": {"vcpus": 1, "ram": 512, "disk": 1},
                        "metadata": {f"k{i}": "v" * 16 for i in range(16)}}}


class Endpoint:
    def __init__(self) -> None:
        self.casts = 0
        self.lock = threading.Lock()
        self.all_cast = threading.Event()
        self.expect = 0

    def echo(self, ctx, payload):
        return payload

    def note(self, ctx, payload):
        with self.lock:
            self.casts += 1
            if self.casts >= self.expect:
                self.all_cast.set()


def run(url: str, calls: int, concurrency: list[int], workers: int) -> None:
    CONF.set_override("control_exchange", f"bench-{uuid.uuid4().hex[:8]}", group="messaging")
    transport = messaging.get_transport(url)
    endpoint = Endpoint()
    server = messaging.RPCServer(transport, "bench", server="h1", endpoints=[endpoint], workers=workers).start()
    client = messaging.RPCClient(transport, "bench", timeout=60)
    ctx = RequestContext(user_id="u", project_id="p", roles=["member"])
    name = url.split(":", 1)[0]
    try:
        client.call(ctx, "echo", payload=PAYLOAD)  # warm up connections
        for n in concurrency:
            latencies: list[float] = []

            def one(_: int, latencies: list[float] = latencies) -> None:
                t0 = time.perf_counter()
                client.call(ctx, "echo", payload=PAYLOAD)
                latencies.append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            with ThreadPoolExecutor(n) as pool:
                list(pool.map(one, range(calls)))
            elapsed = time.perf_counter() - t0
            latencies.sort()
            print(f"{name:10s} call  concurrency {n:4d}: {calls / elapsed:8.0f} calls/s  "
                  f"median {statistics.median(latencies) * 1000:7.2f} ms  "
                  f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:7.2f} ms")
        endpoint.casts, endpoint.expect = 0, calls
        endpoint.all_cast.clear()
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max(concurrency)) as pool:
            list(pool.map(lambda _: client.cast(ctx, "note", payload=PAYLOAD), range(calls)))
        sent = time.perf_counter() - t0
        endpoint.all_cast.wait(120)
        done = time.perf_counter() - t0
        print(f"{name:10s} cast  concurrency {max(concurrency):4d}: {calls / sent:8.0f} sent/s  "
              f"all {calls} run after {done:.2f} s")
    finally:
        server.stop()
        if hasattr(transport, "delete_declared"):
            transport.close()
            transport.delete_declared()
        messaging.reset()
        CONF.clear_override("control_exchange", group="messaging")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--concurrency", default="1,16,150")
    parser.add_argument("--transports", default="inprocess,rabbit")
    parser.add_argument("--rabbit-url", default="rabbit://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--workers", type=int, default=64)
    args = parser.parse_args(argv)
    concurrency = [int(c) for c in args.concurrency.split(",")]
    urls = {"inprocess": "inprocess://bench", "rabbit": args.rabbit_url}
    for name in args.transports.split(","):
        try:
            run(urls[name], args.calls, concurrency, args.workers)
        except Exception as err:  # a benchmark reports, it does not fail
            print(f"{name}: not measured ({type(err).__name__}: {err})", file=sys.stderr)


if __name__ == "__main__":
    main()
