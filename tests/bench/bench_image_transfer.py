"""A large image (1 GiB by default) uploaded and downloaded through the Image API, with the server's peak memory.

Starts its own ``cumulo up`` per store (``--stores filesystem,object``), uploads
a file with openstacksdk (``create_image(filename=...)``, which streams the file),
downloads it streamed (``download_image(stream=True)``) into an MD5, and prints
the time, throughput, and the cloud process's VmRSS/VmHWM (peak resident
memory, from /proc/<pid>/status) before and after. Asserts nothing; says
IDENTICAL or DIFFERENT::

    python tests/bench/bench_image_transfer.py [--size 1GiB] [--stores filesystem,object] [--workdir DIR]

Needs about 2x the size free in the work directory per store (source file + stored copy).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time

from cumulo import registry
from cumulo.testing.cloud import CumuloCloud

MiB = 1024 * 1024
UNITS = {"": 1, "b": 1, "k": 1024, "kib": 1024, "m": MiB, "mib": MiB, "g": 1024 * MiB, "gib": 1024 * MiB}


def parse_size(text: str) -> int:
    text = text.strip().lower()
    digits = "".join(ch for ch in text if ch.isdigit() or ch == ".")
    return int(float(digits) * UNITS[text[len(digits):].strip()])


def memory(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def make_source(path: str, size: int) -> str:
    """A file of ``size`` bytes: random 1 MiB blocks, each stamped with its index (not compressible, fast)."""
    block = os.urandom(MiB)
    md5 = hashlib.md5()
    with open(path, "wb") as f:
        written = 0
        while written < size:
            chunk = (written.to_bytes(8, "big") + block[8:])[: size - written]
            f.write(chunk)
            md5.update(chunk)
            written += len(chunk)
    return md5.hexdigest()


def run_store(store: str, src: str, size: int, expected: str, workdir: str) -> None:
    frontends = ",".join(f for f in ("identity", "image") if f in registry.names("api"))
    cloud = CumuloCloud(os.path.join(workdir, f"cloud-{store}"),
                        config={"api": {"frontends": frontends}, "image": {"default_store": store}})
    cloud.start()
    try:
        conn = cloud.connect()
        list(conn.image.images())  # warm up: auth, discovery, first request
        before = memory(cloud.pid)
        t0 = time.perf_counter()
        image = conn.image.create_image(name="bench", filename=src, disk_format="raw", container_format="bare")
        image = conn.image.get_image(image)
        up = time.perf_counter() - t0
        after_up = memory(cloud.pid)
        t0 = time.perf_counter()
        resp = conn.image.download_image(image, stream=True)
        md5, got = hashlib.md5(), 0
        for chunk in resp.iter_content(4 * MiB):
            md5.update(chunk)
            got += len(chunk)
        down = time.perf_counter() - t0
        after = memory(cloud.pid)
        same = md5.hexdigest() == expected and got == size and image.checksum == expected
        print(f"[{store}] status {image.status}, size {image.size}, server checksum {image.checksum}")
        print(f"[{store}] upload   {up:7.1f}s  {size / MiB / up:7.1f} MiB/s")
        print(f"[{store}] download {down:7.1f}s  {size / MiB / down:7.1f} MiB/s")
        print(f"[{store}] server VmRSS {before['VmRSS'] / MiB:.1f} MiB before, {after['VmRSS'] / MiB:.1f} MiB after; "
              f"VmHWM {before['VmHWM'] / MiB:.1f} -> {after_up['VmHWM'] / MiB:.1f} (after upload) -> "
              f"{after['VmHWM'] / MiB:.1f} MiB (after download): peak grew "
              f"{(after['VmHWM'] - before['VmHWM']) / MiB:.1f} MiB for {size / MiB:.0f} MiB of data")
        print(f"[{store}] downloaded bytes {'IDENTICAL' if same else 'DIFFERENT'} ({got} bytes, md5 {md5.hexdigest()})")
        conn.image.delete_image(image)
    finally:
        cloud.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1GiB")
    parser.add_argument("--stores", default="filesystem,object")
    parser.add_argument("--workdir", help="where the clouds keep their state (default: a temp dir)")
    args = parser.parse_args(argv)
    size = parse_size(args.size)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        src = os.path.join(tmp, "source.img")
        t0 = time.perf_counter()
        expected = make_source(src, size)
        print(f"source: {size} bytes, md5 {expected} ({time.perf_counter() - t0:.1f}s to write)")
        for store in [s.strip() for s in args.stores.split(",") if s.strip()]:
            run_store(store, src, size, expected, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
