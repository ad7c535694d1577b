"""Block Storage through openstacksdk: volume create/delete rate, backup and restore throughput, incremental savings.

Starts its own ``cumulo up`` (identity, image, object-store and volumev3
frontends; the default ``file`` volume driver; quotas lifted) and measures,
through the unmodified openstacksdk:

1. create/delete rate of 1 GiB empty volumes (``create_volume(wait=True)``,
   ``delete_volume(wait=True)``), sequentially and with 4 client threads (one
   connection each);
2. a full backup and its restore of a volume holding ``--data-mib`` MiB of
   random bytes, written through the area's own path (an image uploaded with
   those bytes, a volume made from it), checked byte for byte after restore;
3. ``--changed-mib`` MiB in one run from the middle of the data rewritten with
   other random bytes (``qemu-io write -s`` on the file driver's qcow2, which
   the bench runs beside), then an incremental backup: the objects and bytes
   it stores against the full's, and its restore, checked likewise.

For scale it also times one PUT of a backup-chunk-sized object through the
Swift API into the same object backend.

Prints the figures and the machine's load (``uptime``); asserts nothing::

    python tests/bench/bench_volume.py [--count 20] [--data-mib 256] [--changed-mib 8] [--chunk-mib 32]
                                       [--object-backend ring|dir] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

from openstack.exceptions import NotFoundException

from cumulo import registry
from cumulo.testing.cloud import CumuloCloud

MiB = 1024 * 1024
GIB = 1024 * MiB
CONTAINER = "volumebackups"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_delete(conns: list[Any], count: int) -> tuple[float, float]:
    """Seconds to create ``count`` volumes, then to delete them, spread over the connections' threads."""

    def create(i: int) -> str:
        vol = conns[i % len(conns)].create_volume(size=1, name=uniq("bench"), wait=True, timeout=300)
        if vol.status != "available":
            raise RuntimeError(f"volume {vol.id} is {vol.status}")
        return str(vol.id)

    def delete(item: tuple[int, str]) -> None:
        conns[item[0] % len(conns)].delete_volume(item[1], wait=True, timeout=300)

    with concurrent.futures.ThreadPoolExecutor(len(conns)) as pool:
        t0 = time.perf_counter()
        ids = list(pool.map(create, range(count)))
        created = time.perf_counter() - t0
        t0 = time.perf_counter()
        list(pool.map(delete, enumerate(ids)))
        deleted = time.perf_counter() - t0
    return created, deleted


def backup_objects(conn: Any) -> dict[str, int]:
    """Name -> bytes of every object in the backup container (empty before the first backup)."""
    try:
        return {o.name: int(o.content_length or 0) for o in conn.object_store.objects(CONTAINER)}
    except NotFoundException:  # the container does not exist yet
        return {}


def wait_backup(conn: Any, backup_id: str, timeout: float = 1800) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        backup = conn.block_storage.get_backup(backup_id)
        if backup.status in ("available", "error"):
            return backup
        time.sleep(0.1)
    raise RuntimeError(f"backup {backup_id} did not finish in {timeout} s")


def wait_volume(conn: Any, volume_id: str, timeout: float = 1800) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        vol = conn.block_storage.get_volume(volume_id)
        if vol.status in ("available", "error", "error_restoring"):
            return vol
        time.sleep(0.1)
    raise RuntimeError(f"volume {volume_id} did not finish in {timeout} s")


def backup(conn: Any, volume_id: str, incremental: bool) -> tuple[float, Any, dict[str, int]]:
    """(seconds, the backup, the objects it added) of one backup of ``volume_id``."""
    before = backup_objects(conn)
    t0 = time.perf_counter()
    made = conn.block_storage.create_backup(volume_id=volume_id, name=uniq("bench"), is_incremental=incremental)
    done = wait_backup(conn, made.id)
    seconds = time.perf_counter() - t0
    if done.status != "available":
        raise RuntimeError(f"backup {done.id} is {done.status}")
    after = backup_objects(conn)
    return seconds, done, {k: v for k, v in after.items() if k not in before}


def restore(conn: Any, backup_id: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    result = conn.block_storage.restore_backup(backup_id, name=uniq("restored"))
    volume_id = result["volume_id"] if isinstance(result, dict) else result.volume_id
    vol = wait_volume(conn, volume_id)
    wait_backup(conn, backup_id)
    seconds = time.perf_counter() - t0
    if vol.status != "available":
        raise RuntimeError(f"restored volume {volume_id} is {vol.status}")
    return seconds, str(volume_id)


def digest(cloud: CumuloCloud, volume_id: str, length: int, workdir: str) -> str:
    """sha256 of the first ``length`` bytes of the volume's guest data (its qcow2 converted to raw)."""
    raw = os.path.join(workdir, f"raw-{volume_id}")
    subprocess.run(["qemu-img", "convert", "-U", "-f", "qcow2", "-O", "raw", qcow2(cloud, volume_id), raw],
                   check=True, timeout=600)
    h = hashlib.sha256()
    with open(raw, "rb") as f:
        left = length
        while left > 0 and (chunk := f.read(min(4 * MiB, left))):
            h.update(chunk)
            left -= len(chunk)
    os.unlink(raw)
    return h.hexdigest()


def qcow2(cloud: CumuloCloud, volume_id: str) -> str:
    return os.path.join(cloud.state_path, "volumes", f"volume-{volume_id}.qcow2")


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:6.2f} volumes/s ({seconds:6.1f} s for {count})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="volumes per create/delete run")
    parser.add_argument("--data-mib", type=int, default=256, help="MiB of random data in the backed-up volume")
    parser.add_argument("--changed-mib", type=int, default=8, help="MiB rewritten before the incremental")
    parser.add_argument("--object-backend", default="ring", help="[object] backend the backups are stored in")
    parser.add_argument("--chunk-mib", type=int, default=32, help="[volume] backup_chunk_size in MiB")
    parser.add_argument("--workdir", help="where the cloud keeps its state (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.data_mib * MiB > GIB or args.changed_mib > args.data_mib:
        parser.error("--data-mib must fit a 1 GiB volume and --changed-mib must be at most --data-mib")
    frontends = ",".join(f for f in ("identity", "image", "object-store", "volumev3") if f in registry.names("api"))
    print(f"load before: {uptime()}")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        cloud = CumuloCloud(os.path.join(tmp, "cloud"), config={
            "api": {"frontends": frontends}, "object": {"backend": args.object_backend},
            "volume": {"driver": "file", "backup_chunk_size": args.chunk_mib * MiB, "quota_volumes": -1, "quota_gigabytes": -1, "quota_backups": -1,
                       "quota_backup_gigabytes": -1}})
        cloud.start()
        try:
            run(cloud, args, tmp)
        finally:
            cloud.stop()
    print(f"load after:  {uptime()}")
    return 0


def run(cloud: CumuloCloud, args: argparse.Namespace, tmp: str) -> None:
    conn = cloud.connect()
    list(conn.block_storage.volumes())  # warm up: auth, discovery, first request
    for threads in (1, 4):
        conns = [conn] + [cloud.connect() for _ in range(threads - 1)]
        created, deleted = create_delete(conns, args.count)
        print(f"[{threads} client{'s' if threads > 1 else ''}] create {rate(args.count, created)}; "
              f"delete {rate(args.count, deleted)}")

    # a volume holding random data, written through the Image and Block Storage APIs
    data = os.urandom(args.data_mib * MiB)
    source = os.path.join(tmp, "random.raw")
    with open(source, "wb") as f:
        f.write(data)
    image = conn.image.create_image(name=uniq("bench-random"), filename=source, disk_format="raw",
                                    container_format="bare")
    vol = conn.create_volume(size=1, image=image.id, name=uniq("bench-backed"), wait=True, timeout=600)
    size = args.data_mib * MiB
    expected = hashlib.sha256(data).hexdigest()
    print(f"volume {vol.id}: 1 GiB, the first {args.data_mib} MiB random (sha256 {expected[:12]}...)")

    # for scale: one object of the backup chunk size PUT through the Swift API to the same store
    chunk = os.urandom(args.chunk_mib * MiB)
    conn.object_store.create_container("bench-reference")
    t0 = time.perf_counter()
    conn.object_store.upload_object(container="bench-reference", name="chunk", data=chunk)
    put_s = time.perf_counter() - t0
    conn.object_store.delete_object("chunk", container="bench-reference")
    print(f"reference: one {args.chunk_mib} MiB object PUT through the Swift API in {put_s:.1f} s "
          f"({args.chunk_mib / put_s:.1f} MiB/s), object backend {args.object_backend}")

    full_s, full, full_objects = backup(conn, vol.id, incremental=False)
    full_bytes = sum(full_objects.values())
    print(f"full backup        {full_s:7.1f} s  {args.data_mib / full_s:7.1f} MiB/s of data; "
          f"{len(full_objects)} objects stored ({full.object_count} counted by the API), "
          f"{full_bytes / MiB:.1f} MiB")
    restore_s, restored = restore(conn, full.id)
    same = digest(cloud, restored, size, tmp) == expected
    print(f"restore (full)     {restore_s:7.1f} s  {args.data_mib / restore_s:7.1f} MiB/s of data; "
          f"restored data {'IDENTICAL' if same else 'DIFFERENT'}")

    # rewrite --changed-mib MiB of new random bytes in one run from the middle of the data
    changed = os.path.join(tmp, "changed.raw")
    with open(changed, "wb") as f:
        f.write(os.urandom(args.changed_mib * MiB))
    start = size // 2 // MiB * MiB
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -s {changed} {start} {args.changed_mib * MiB}",
                    qcow2(cloud, vol.id)], check=True, capture_output=True, timeout=600)
    inc_s, inc, inc_objects = backup(conn, vol.id, incremental=True)
    inc_bytes = sum(inc_objects.values())
    print(f"incremental backup {inc_s:7.1f} s  after {args.changed_mib} MiB rewritten at offset {start // MiB} MiB; "
          f"{len(inc_objects)} objects stored ({inc.object_count} counted by the API), {inc_bytes / MiB:.1f} MiB")
    print(f"incremental vs full: {len(inc_objects)}/{len(full_objects)} objects, "
          f"{inc_bytes / MiB:.1f}/{full_bytes / MiB:.1f} MiB stored: saves "
          f"{100 * (1 - inc_bytes / full_bytes):.1f} % of the bytes, "
          f"{100 * (1 - inc_s / full_s):.1f} % of the time")
    raw_now = digest(cloud, vol.id, size, tmp)
    inc_restore_s, inc_restored = restore(conn, inc.id)
    same = digest(cloud, inc_restored, size, tmp) == raw_now and raw_now != expected
    print(f"restore (incremental) {inc_restore_s:4.1f} s  {args.data_mib / inc_restore_s:7.1f} MiB/s of data; "
          f"restored data {'IDENTICAL' if same else 'DIFFERENT'} to the changed volume")


if __name__ == "__main__":
    sys.exit(main())
