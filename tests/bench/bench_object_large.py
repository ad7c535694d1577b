"""A 6 GiB object through python-swiftclient: a sparse file uploaded in segments, downloaded back.

Objects above ``[object] max_file_size`` (5 GiB) only go through manifests, so this
uploads with ``swift upload --use-slo --segment-size 1G`` (``--dlo`` for a dynamic
manifest), downloads with ``swift download -o -`` streamed into an MD5, and compares
with the file's MD5. Starts its own ``cumulo up`` (state in --workdir, default a temp
dir; it needs about 6 GiB free there). Prints timings; asserts nothing, but says
IDENTICAL or DIFFERENT::

    python tests/bench/bench_object_large.py --size 6GiB --segment-size 1GiB [--backend ring]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time

import yaml

from cumulo.testing.cloud import CumuloCloud

sys.path.insert(0, os.path.dirname(__file__))
from bench_object import parse_size


def md5_of(stream: object, size_hint: int) -> str:
    h = hashlib.md5()
    while True:
        chunk = stream.read(4 * 1024 * 1024)  # type: ignore[attr-defined]
        if not chunk:
            return h.hexdigest()
        h.update(chunk)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="6GiB")
    parser.add_argument("--segment-size", default="1GiB")
    parser.add_argument("--backend", default="dir")
    parser.add_argument("--dlo", action="store_true", help="dynamic manifest instead of a static one")
    parser.add_argument("--workdir", help="where the cloud keeps its state (default: a temp dir)")
    args = parser.parse_args(argv)
    size, segment = parse_size(args.size), parse_size(args.segment_size)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        path = os.path.join(tmp, "sparse.img")
        with open(path, "wb") as f:
            f.truncate(size)
            for i in range(8):
                f.seek(i * size // 8)
                f.write(f"mark {i}".encode())
        with open(path, "rb") as f:
            t0 = time.perf_counter()
            expected = md5_of(f, size)
        print(f"source: {size} bytes sparse, md5 {expected} ({time.perf_counter() - t0:.1f}s)")
        cloud = CumuloCloud(os.path.join(tmp, "cloud"), config={
            "api": {"frontends": "identity,object-store"}, "object": {"backend": args.backend}})
        with cloud:
            with open(cloud.clouds_yaml) as f:
                auth = yaml.safe_load(f)["clouds"]["cumulo"]["auth"]
            env = {**cloud.env, "OS_AUTH_URL": auth["auth_url"], "OS_USERNAME": auth["username"],
                   "OS_PASSWORD": auth["password"], "OS_PROJECT_NAME": auth["project_name"],
                   "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
                   "OS_IDENTITY_API_VERSION": "3", "OS_AUTH_VERSION": "3"}
            swift = os.path.join(os.path.dirname(sys.executable), "swift")
            mode = "--use-dlo" if args.dlo else "--use-slo"
            t0 = time.perf_counter()
            subprocess.run([swift, "upload", mode, "--segment-size", str(segment), "big", "sparse.img"],
                           cwd=tmp, env=env, check=True, stdout=subprocess.DEVNULL)
            up = time.perf_counter() - t0
            print(f"upload ({mode}, {segment}-byte segments): {up:.1f}s, {size / up / 1e6:.1f} MB/s")
            t0 = time.perf_counter()
            proc = subprocess.Popen([swift, "download", "big", "sparse.img", "-o", "-"], env=env,
                                    stdout=subprocess.PIPE)
            got = md5_of(proc.stdout, size)
            proc.wait()
            down = time.perf_counter() - t0
            print(f"download: {down:.1f}s, {size / down / 1e6:.1f} MB/s, md5 {got}")
            print("IDENTICAL" if got == expected else "DIFFERENT")
    return 0


if __name__ == "__main__":
    sys.exit(main())
