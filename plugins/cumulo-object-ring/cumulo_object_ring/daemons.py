"""Background work of a storage node: replicator, auditor, expirer, updater.

Each has ``run_once() -> stats``; the node runs them on intervals and on
``POST /_admin/<name>``.

* **Replicator**: for each object partition on a local device, compare the
  per-suffix hashes with every other primary and push the files the peer
  lacks (push only: each node pushes what it has, so all converge). A
  partition on a device that is not one of its primaries (a handoff) is
  pushed to all primaries, then removed once every primary has it.
  Databases replicate by rows: each peer is sent the rows changed since the
  last ``seq`` it acknowledged. Deleted databases older than
  ``reclaim_age`` are removed.
* **Auditor**: re-reads every ``.data`` file, checks size and md5, and
  quarantines a bad copy; the next replication restores a good one.
* **Expirer**: objects whose ``X-Delete-At`` passed get a tombstone dated at
  that time (so every replica converges on the same one) and the container
  listing is updated.
* **Updater**: retries container updates that failed (async pendings) and
  reports container statistics to the account servers.

Every request they send goes through the node's ``request``, signed with the cluster secret.
They depend on :class:`cumulo_object_ring.context.DaemonContext`, not on the node.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
import uuid
from typing import Any

from cumulo_object_ring import client, diskfile
from cumulo_object_ring.context import DaemonContext
from cumulo_object_ring.db import AccountBroker, Broker, ContainerBroker, DatabaseNotFound
from cumulo_object_ring.diskfile import Device, ObjectState, normalize_timestamp
from cumulo_object_ring.ring import Ring, RingError

LOG = logging.getLogger(__name__)


def write_async_pending(device: Device, update: dict[str, Any], suffix: str) -> None:
    d = os.path.join(device.path, "async_pending")
    os.makedirs(d, exist_ok=True)
    name = f"{update['headers']['X-Timestamp']}-{uuid.uuid4().hex}.json"
    tmp = device.tmp_path()
    with open(tmp, "w") as f:
        json.dump(update, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(d, name))


def _walk_hash_dirs(device: Device, kind: str) -> Any:
    base = os.path.join(device.path, kind)
    for part in device.partitions(kind):
        pdir = os.path.join(base, str(part))
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for suffix in os.listdir(pdir):
                sdir = os.path.join(pdir, suffix)
                with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                    for h in os.listdir(sdir):
                        yield part, os.path.join(sdir, h), h


class Daemon:
    """One kind of background pass over the node's devices."""

    def __init__(self, node: DaemonContext) -> None:
        self.node = node

    def run_once(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError


# --------------------------------------------------------------------------------------------
class Replicator(Daemon):
    def run_once(self) -> dict[str, Any]:
        stats = {"partitions": 0, "files_pushed": 0, "handoffs_removed": 0, "dbs_synced": 0,
                 "dbs_removed": 0, "errors": 0}
        for device in self.node.devices.values():
            try:
                ring = self.node.ring("object")
            except RingError:
                ring = None
            if ring is not None:
                for part in device.partitions("objects"):
                    self._replicate_partition(ring, device, part, stats)
            for kind, ring_name in (("containers", "container"), ("accounts", "account")):
                try:
                    dring = self.node.ring(ring_name)
                except RingError:
                    continue
                for part in device.partitions(kind):
                    self._replicate_db_partition(dring, device, kind, part, stats)
        return stats

    # -- objects ---------------------------------------------------------------------------
    def _replicate_partition(self, ring: Ring, device: Device, part: int, stats: dict[str, Any]) -> None:
        if part >= ring.partition_count:
            return
        stats["partitions"] += 1
        primaries = ring.get_part_nodes(part)
        me = [n for n in primaries if self.node.is_local(n) and n["device"] == device.name]
        peers = [n for n in primaries if not (self.node.is_local(n) and n["device"] == device.name)]
        local = diskfile.suffix_hashes(device, part, self.node.reclaim_age)
        if not local:
            if not me:
                with contextlib.suppress(OSError):
                    shutil.rmtree(os.path.join(device.path, "objects", str(part)))
            return
        listing = {sfx: diskfile.suffix_listing(device, part, sfx) for sfx in local}
        all_ok = True
        for peer in peers:
            try:
                self._sync_to(device, part, local, peer, stats)
            except (*client.NodeError, ValueError) as err:
                LOG.info("Replication of partition %s to %s:%s/%s failed: %s", part, peer["ip"], peer["port"],
                         peer["device"], err)
                stats["errors"] += 1
                all_ok = False
        if not me and all_ok:
            # A handoff: every primary has what we had, so it is no longer needed here. Only the
            # files pushed go: anything written meanwhile stays for the next pass.
            pdir = os.path.join(device.path, "objects", str(part))
            for sfx, hashes in listing.items():
                for name_hash, files in hashes.items():
                    hdir = os.path.join(pdir, sfx, name_hash)
                    for fname in files:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(os.path.join(hdir, fname))
                    for d in (hdir, os.path.join(pdir, sfx)):
                        with contextlib.suppress(OSError):
                            os.rmdir(d)
            with contextlib.suppress(OSError):
                os.rmdir(pdir)
            stats["handoffs_removed"] += 1

    def _sync_to(self, device: Device, part: int, local: dict[str, str], peer: dict[str, Any],
                 stats: dict[str, Any]) -> None:
        base = f"/_repl/{client.node_path(peer['device'], part)[1:]}"
        resp = self.node.request(peer, "GET", base)
        if resp.status != 200:
            raise ValueError(f"peer answered {resp.status}")
        remote = resp.json()
        for suffix, h in local.items():
            if remote.get(suffix) == h:
                continue
            r = self.node.request(peer, "GET", f"{base}/{suffix}")
            if r.status != 200:
                raise ValueError(f"peer answered {r.status} listing suffix {suffix}")
            remote_files = r.json()
            for name_hash, files in diskfile.suffix_listing(device, part, suffix).items():
                theirs = remote_files.get(name_hash, [])
                for fname in self._files_to_send(files, theirs):
                    path = os.path.join(device.path, "objects", str(part), suffix, name_hash, fname)
                    try:
                        f = open(path, "rb")  # streamed to the peer, never read whole
                    except FileNotFoundError:
                        continue
                    with f:
                        put = self.node.request(peer, "PUT", f"{base}/{suffix}/{name_hash}/{fname}", body=f)
                    if put.status >= 300:
                        raise ValueError(f"peer refused {fname}: {put.status}")
                    stats["files_pushed"] += 1

    @staticmethod
    def _files_to_send(mine: list[str], theirs: list[str]) -> list[str]:
        def newest(files: list[str], exts: tuple[str, ...]) -> str:
            return max((f.rsplit(".", 1)[0] for f in files if f.endswith(exts)), default="")

        their_main, their_meta = newest(theirs, (".data", ".ts")), newest(theirs, (".meta",))
        out = []
        for f in sorted(mine):
            ts, ext = f.rsplit(".", 1)
            if f in theirs:
                continue
            if ext in ("data", "ts") and ts > their_main:
                out.append(f)
            elif ext == "meta" and ts > their_meta and ts > their_main:
                out.append(f)
        return out

    # -- databases -------------------------------------------------------------------------
    def _replicate_db_partition(self, ring: Ring, device: Device, kind: str, part: int,
                                stats: dict[str, Any]) -> None:
        if part >= ring.partition_count:
            return
        primaries = ring.get_part_nodes(part)
        is_primary = any(self.node.is_local(n) and n["device"] == device.name for n in primaries)
        peers = [n for n in primaries if not (self.node.is_local(n) and n["device"] == device.name)]
        cls = AccountBroker if kind == "accounts" else ContainerBroker
        pdir = os.path.join(device.path, kind, str(part))
        for _, hash_dir, h in list(_walk_hash_dirs_one(pdir)):
            broker = cls(os.path.join(hash_dir, h + ".db"))
            if not broker.exists:
                continue
            try:
                info = broker.get_info()
            except (DatabaseNotFound, Exception) as err:
                LOG.warning("Cannot read %s: %s", broker.path, err)
                stats["errors"] += 1
                continue
            if self._reclaimable(broker, info):
                shutil.rmtree(hash_dir, ignore_errors=True)
                stats["dbs_removed"] += 1
                continue
            ok = True
            seq_before = broker.max_seq()
            for peer in peers:
                try:
                    self._sync_db(broker, info, kind, part, h, peer)
                    stats["dbs_synced"] += 1
                except (*client.NodeError, ValueError) as err:
                    LOG.info("Replication of %s to %s:%s failed: %s", broker.path, peer["ip"], peer["port"], err)
                    stats["errors"] += 1
                    ok = False
            if not is_primary and ok and broker.max_seq() == seq_before:
                shutil.rmtree(hash_dir, ignore_errors=True)
                stats["handoffs_removed"] += 1

    def _reclaimable(self, broker: Broker, info: dict[str, str]) -> bool:
        if not broker.is_deleted(info):
            return False
        if float(info.get("delete_timestamp", "0")) > time.time() - self.node.reclaim_age:
            return False
        if isinstance(broker, ContainerBroker):
            return broker.head()["object_count"] == 0
        return False

    def _sync_db(self, broker: Broker, info: dict[str, str], kind: str, part: int, h: str,
                 peer: dict[str, Any]) -> None:
        path = f"/_repl_db/{kind}/{client.node_path(peer['device'], part)[1:]}/{h}"
        resp = self.node.request(peer, "GET", path, query=f"remote_id={info['id']}")
        if resp.status != 200:
            raise ValueError(f"peer answered {resp.status}")
        point = resp.json()["point"]
        with broker.conn() as c:
            metadata = broker.raw_metadata(c)
        first = True
        while True:
            rows = broker.rows_since(point, 1000)
            if not rows and not first:
                break
            new_point = rows[-1]["seq"] if rows else point
            payload = {"remote_id": info["id"], "info": info, "metadata": metadata,
                       "rows": [{k: v for k, v in r.items() if k != "seq"} for r in rows], "point": new_point}
            r = self.node.request_json(peer, "POST", path, payload)
            if r.status != 200:
                raise ValueError(f"peer refused merge: {r.status}")
            point, first = new_point, False
            if len(rows) < 1000:
                break


def _walk_hash_dirs_one(pdir: str) -> Any:
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for suffix in os.listdir(pdir):
            sdir = os.path.join(pdir, suffix)
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                for h in os.listdir(sdir):
                    if len(h) == 32:
                        yield None, os.path.join(sdir, h), h


# --------------------------------------------------------------------------------------------
class Auditor(Daemon):
    def run_once(self) -> dict[str, Any]:
        stats = {"checked": 0, "quarantined": 0}
        for device in self.node.devices.values():
            for _part, hash_dir, _h in list(_walk_hash_dirs(device, "objects")):
                newest, _ = diskfile.current_files(diskfile.list_files(hash_dir))
                if not newest or not newest.endswith(".data"):
                    continue
                stats["checked"] += 1
                problem = diskfile.verify_data_file(os.path.join(hash_dir, newest))
                if problem:
                    dest = diskfile.quarantine(device, hash_dir)
                    LOG.warning("Quarantined %s (%s) to %s", hash_dir, problem, dest)
                    stats["quarantined"] += 1
        return stats


# --------------------------------------------------------------------------------------------
class Expirer(Daemon):
    def run_once(self) -> dict[str, Any]:
        stats = {"expired": 0}
        now = time.time()
        for device in self.node.devices.values():
            edir = os.path.join(device.path, "expiring")
            for entry in sorted(os.listdir(edir)):
                try:
                    delete_at, part, name_hash = entry.split("-")
                except ValueError:
                    continue
                if int(delete_at) > now:
                    break  # sorted by time: the rest is later
                hash_dir = device.hash_dir("objects", int(part), name_hash)
                state = ObjectState(hash_dir)
                if state.exists and state.meta.get("delete_at") is not None and \
                        int(state.meta["delete_at"]) <= now:
                    ts = max(normalize_timestamp(state.meta["delete_at"]),
                             normalize_timestamp(float(state.timestamp or 0) + 0.00001))
                    name = state.meta.get("name", "")
                    diskfile.write_small(device, hash_dir, ts + ".ts", {"name": name})
                    diskfile.cleanup(hash_dir)
                    self._update_container(device, name, ts)
                    stats["expired"] += 1
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(edir, entry))
        return stats

    def _update_container(self, device: Device, name: str, ts: str) -> None:
        try:
            account, container, obj = name[1:].split("/", 2)
            part, nodes = self.node.container_nodes(account, container)
        except (ValueError, RingError):
            return
        update = {"op": "DELETE", "account": account, "container": container, "obj": obj, "part": part,
                  "headers": {"X-Timestamp": ts, "X-Size": "0", "X-Etag": "", "X-Content-Type": "",
                              "X-Backend-Server-Type": "container"}}
        failed = [n for n in nodes if not self.node.send_container_update(n, update)]
        if failed:
            write_async_pending(device, {**update, "nodes": failed}, self.node.hash_suffix)


# --------------------------------------------------------------------------------------------
class Updater(Daemon):
    def run_once(self) -> dict[str, Any]:
        stats = {"async_sent": 0, "async_left": 0, "containers_reported": 0}
        for device in self.node.devices.values():
            adir = os.path.join(device.path, "async_pending")
            for entry in sorted(os.listdir(adir)):
                path = os.path.join(adir, entry)
                try:
                    with open(path) as f:
                        update = json.load(f)
                except (OSError, ValueError):
                    continue
                left = [n for n in update["nodes"] if not self._send(n, update)]
                if left:
                    stats["async_left"] += 1
                    if len(left) < len(update["nodes"]):
                        write_async_pending(device, {**update, "nodes": left}, self.node.hash_suffix)
                        os.unlink(path)
                else:
                    os.unlink(path)
                    stats["async_sent"] += 1
            for _part, hash_dir, h in list(_walk_hash_dirs(device, "containers")):
                broker = ContainerBroker(os.path.join(hash_dir, h + ".db"))
                try:
                    if self._report(broker):
                        stats["containers_reported"] += 1
                except DatabaseNotFound:
                    continue
        return stats

    def _send(self, node: dict[str, Any], update: dict[str, Any]) -> bool:
        if self.node.send_container_update(node, update):
            return True
        # The container may have moved since (ring change): then its current primaries get it.
        try:
            part, current = self.node.container_nodes(update["account"], update["container"])
        except RingError:
            return False
        if any(n["ip"] == node["ip"] and n["port"] == node["port"] and n["device"] == node["device"]
               for n in current) and part == update["part"]:
            return False
        moved = {**update, "part": part}
        return any([self.node.send_container_update(n, moved) for n in current])

    def _report(self, broker: ContainerBroker) -> bool:
        with broker.conn() as c:
            info = broker.get_info(c)
            count, used = broker.stats(c)
        current = [info["put_timestamp"], info["delete_timestamp"], count, used]
        if info.get("reported") and json.loads(info["reported"]) == current:
            return False
        try:
            part, nodes = self.node.account_nodes(info["account"])
        except RingError:
            return False
        return self.node.report_container(broker, nodes, part, quorum=len(nodes) // 2 + 1)
