"""Rings: which devices hold which partition, and the builder that decides it.

A ring maps a name's hash to a *partition* (the top ``part_power`` bits of
an md5), and a partition to ``replicas`` devices (``replica2part2dev[r][p]``).
The :class:`RingBuilder` keeps the operator's view (devices, weights,
regions and zones, when each partition last moved) and rebalances; the
:class:`Ring` is the compact, read-only file the proxy and the storage nodes
load (gzip'd JSON, ``format_version`` 1), reloaded when the file changes.

Rebalance contract:

* every partition gets ``replicas`` distinct devices of weight > 0;
* replicas are spread as widely as possible: over regions, then zones, then
  servers (ip:port), so two replicas share a zone only when there are fewer
  zones than replicas;
* within that, each device holds partitions in proportion to its weight
  (its *target*, computed per tier by water-filling the replica share);
* as few partitions move as possible: only replicas on removed devices,
  replicas crowding a tier, and the excess of over-full devices are picked
  up, then placed on the best device;
* a partition moved less than ``min_part_hours`` ago is not moved again
  (except off a removed device), and at most one replica of a partition
  moves per rebalance, so a quorum always stays where it was.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import math
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

FORMAT_VERSION = 1
RING_NAMES = ("account", "container", "object")
DEV_KEYS = ("id", "region", "zone", "ip", "port", "device", "weight", "meta")


class RingError(Exception):
    """A ring or builder operation cannot be done; the message says why."""


def hash_path(account: str, container: str | None = None, obj: str | None = None,
              suffix: str = "cumulo") -> str:
    """The md5 hex that places ``/account[/container[/object]]``; also the on-disk name."""
    path = "/" + "/".join(p for p in (account, container, obj) if p is not None)
    return hashlib.md5((path + "/" + suffix).encode("utf-8", "surrogatepass")).hexdigest()


def atomic_write(path: str, data: bytes) -> None:
    """Write a whole file or nothing: temp file, fsync, rename, fsync dir."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------
# The builder
# --------------------------------------------------------------------------------------------
class RingBuilder:
    """The operator's ring: devices, weights and the partition assignment."""

    def __init__(self, part_power: int, replicas: int, min_part_hours: float = 1) -> None:
        if not 1 <= part_power <= 24:
            raise RingError("part_power must be between 1 and 24")
        if replicas < 1:
            raise RingError("replicas must be at least 1")
        if min_part_hours < 0:
            raise RingError("min_part_hours must not be negative")
        self.part_power = part_power
        self.replicas = replicas
        self.min_part_hours = min_part_hours
        self.devs: dict[int, dict[str, Any]] = {}
        self.removed: set[int] = set()  # removed on the next rebalance
        self.replica2part2dev: list[list[int]] | None = None
        self.last_part_moves: list[float] = [0.0] * self.parts
        self.version = 0
        self.dirty = False

    @property
    def parts(self) -> int:
        return 2 ** self.part_power

    # -- devices ---------------------------------------------------------------------------
    def add_dev(self, region: int = 1, zone: int = 1, ip: str = "127.0.0.1", port: int = 6200,
                device: str = "d1", weight: float = 100.0, meta: str = "", id: int | None = None) -> int:
        """Add a device; it gets partitions on the next rebalance. Returns its id."""
        if weight < 0:
            raise RingError("weight must not be negative")
        for d in self.devs.values():
            if d["ip"] == ip and d["port"] == port and d["device"] == device and d["id"] not in self.removed:
                raise RingError(f"Device {ip}:{port}/{device} is already in the ring as id {d['id']}")
        dev_id = id if id is not None else (max(self.devs) + 1 if self.devs else 0)
        if dev_id in self.devs:
            raise RingError(f"Device id {dev_id} is already used")
        self.devs[dev_id] = {"id": dev_id, "region": int(region), "zone": int(zone), "ip": ip, "port": int(port),
                             "device": device, "weight": float(weight), "meta": meta}
        self.dirty = True
        return dev_id

    def search(self, value: str) -> list[dict[str, Any]]:
        """Devices matching an id (``5`` or ``d5``), ``ip:port``, ``ip:port/device`` or a device name."""
        found = []
        for d in self.devs.values():
            if d["id"] in self.removed:
                continue
            keys = {str(d["id"]), f"d{d['id']}", d["device"], f"{d['ip']}:{d['port']}",
                    f"{d['ip']}:{d['port']}/{d['device']}"}
            if value in keys:
                found.append(d)
        return found

    def _dev(self, dev_id: int) -> dict[str, Any]:
        if dev_id not in self.devs or dev_id in self.removed:
            raise RingError(f"No device with id {dev_id}")
        return self.devs[dev_id]

    def remove_dev(self, dev_id: int) -> None:
        """Mark a device for removal: its partitions move on the next rebalance."""
        self._dev(dev_id)
        self.removed.add(dev_id)
        self.dirty = True

    def set_dev_weight(self, dev_id: int, weight: float) -> None:
        if weight < 0:
            raise RingError("weight must not be negative")
        self._dev(dev_id)["weight"] = float(weight)
        self.dirty = True

    def set_dev_address(self, dev_id: int, ip: str | None = None, port: int | None = None) -> None:
        """Change where a device is reached (no partition moves)."""
        dev = self._dev(dev_id)
        if ip:
            dev["ip"] = ip
        if port:
            dev["port"] = int(port)
        self.dirty = True

    def active_devs(self) -> list[dict[str, Any]]:
        return [d for i, d in sorted(self.devs.items()) if i not in self.removed and d["weight"] > 0]

    def pretend_min_part_hours_passed(self) -> None:
        self.last_part_moves = [0.0] * self.parts

    # -- targets ---------------------------------------------------------------------------
    @staticmethod
    def _water_fill(total: float, weights: dict[Any, float], caps: dict[Any, float]) -> dict[Any, float]:
        """Share ``total`` in proportion to weights, no group above its cap."""
        share = dict.fromkeys(weights, 0.0)
        free = {k for k, w in weights.items() if w > 0}
        remaining = total
        while free and remaining > 1e-12:
            wsum = sum(weights[k] for k in free)
            capped = {k for k in free if remaining * weights[k] / wsum >= caps[k] - share[k] - 1e-12}
            if not capped:
                for k in free:
                    share[k] += remaining * weights[k] / wsum
                break
            for k in capped:
                remaining -= caps[k] - share[k]
                share[k] = caps[k]
            free -= capped
        return share

    def replica_shares(self) -> dict[int, float]:
        """Each active device's expected replicas per partition (dispersion first, then weight)."""
        devs = self.active_devs()
        if not devs:
            return {}

        def fill(total: float, groups: dict[Any, list[dict[str, Any]]], level: int) -> dict[int, float]:
            keyf = [lambda d: d["region"], lambda d: d["zone"], lambda d: (d["ip"], d["port"]),
                    lambda d: d["id"]][level]
            sub: dict[Any, list[dict[str, Any]]] = {}
            for members in groups.values():
                for d in members:
                    sub.setdefault(keyf(d), []).append(d)
            n = len(sub)
            weights = {k: sum(d["weight"] for d in m) for k, m in sub.items()}
            # As wide as possible: no group holds more than its fair part of the replicas,
            # and never more replicas than it has devices.
            caps = {k: min(len(m), max(1.0, math.ceil(total / n))) for k, m in sub.items()}
            shares = self._water_fill(total, weights, caps)
            if level == 3:
                return {k: v for k, v in shares.items()}
            out: dict[int, float] = {}
            for k, members in sub.items():
                out.update(fill(shares[k], {k: members}, level + 1))
            return out

        return fill(float(min(self.replicas, len(devs))), {None: devs}, 0)

    def targets(self) -> dict[int, float]:
        """Partitions each active device should hold."""
        return {i: s * self.parts for i, s in self.replica_shares().items()}

    # -- rebalance -------------------------------------------------------------------------
    def rebalance(self, seed: int | None = None, now: float | None = None) -> dict[str, Any]:
        """Assign partitions; returns ``parts_moved``, ``balance``, ``dispersion``, ``removed``."""
        now = time.time() if now is None else now
        devs = self.active_devs()
        if len(devs) < 1:
            raise RingError("The ring has no device with a weight above 0")
        if len(devs) < self.replicas:
            raise RingError(f"{self.replicas} replicas need at least {self.replicas} devices of weight above 0; "
                            f"the ring has {len(devs)}")
        rnd = random.Random(seed)
        byid = {d["id"]: d for d in devs}
        if self.replica2part2dev is None:
            self.replica2part2dev = [[-1] * self.parts for _ in range(self.replicas)]
        r2p = self.replica2part2dev
        targets = self.targets()
        counts: Counter[int] = Counter()
        for row in r2p:
            for dev_id in row:
                if dev_id in byid:
                    counts[dev_id] += 1
        movable_after = now - self.min_part_hours * 3600
        moved_now: set[int] = set()
        gathered: list[tuple[int, int, int]] = []  # (part, replica, old device)

        def gather(part: int, replica: int) -> None:
            old = r2p[replica][part]
            if old in byid:
                counts[old] -= 1
            r2p[replica][part] = -1
            gathered.append((part, replica, old))
            moved_now.add(part)

        # 1. Replicas with no device, or on a removed or zero-weight device: always.
        for replica, row in enumerate(r2p):
            for part, dev_id in enumerate(row):
                if dev_id not in byid:
                    if dev_id >= 0:
                        gather(part, replica)
                    else:
                        gathered.append((part, replica, -1))

        def movable(part: int) -> bool:
            return part not in moved_now and self.last_part_moves[part] <= movable_after

        # 2. Replicas crowding a tier while a tier of that level has room.
        tiers = [lambda d: d["region"], lambda d: (d["region"], d["zone"]),
                 lambda d: (d["region"], d["zone"], d["ip"], d["port"])]
        all_keys = [{t(d) for d in devs} for t in tiers]
        for part in range(self.parts):
            if not movable(part):
                continue
            holders = [(r, r2p[r][part]) for r in range(self.replicas) if r2p[r][part] in byid]
            for level, tier in enumerate(tiers):
                c = Counter(tier(byid[d]) for _, d in holders)
                empties = len(all_keys[level]) - len(c)
                if c and max(c.values()) - (0 if empties else min(c.values())) > 1:
                    crowded = max(c, key=lambda k: c[k])
                    candidates = [(r, d) for r, d in holders if tier(byid[d]) == crowded]
                    r, d = max(candidates, key=lambda rd: counts[rd[1]] / max(targets.get(rd[1], 0), 1e-9))
                    gather(part, r)
                    break

        # 3. The excess of over-full devices.
        parts_by_dev: dict[int, list[tuple[int, int]]] = {}
        for replica, row in enumerate(r2p):
            for part, dev_id in enumerate(row):
                if dev_id in byid:
                    parts_by_dev.setdefault(dev_id, []).append((part, replica))
        for dev_id, items in parts_by_dev.items():
            excess = counts[dev_id] - math.ceil(targets.get(dev_id, 0) - 1e-9)
            if excess <= 0:
                continue
            rnd.shuffle(items)
            for part, replica in items:
                if excess <= 0:
                    break
                if movable(part):
                    gather(part, replica)
                    excess -= 1

        # 4. Place every gathered replica on the best device.
        rnd.shuffle(gathered)
        gathered.sort(key=lambda g: g[2] in byid)  # unplaced first: they matter most
        moved = 0
        for part, replica, old in gathered:
            holder_devs = [byid[r2p[r][part]] for r in range(self.replicas) if r2p[r][part] in byid]
            best_dev = self._best_device(devs, holder_devs, counts, targets, tiers, rnd)
            r2p[replica][part] = best_dev["id"]
            counts[best_dev["id"]] += 1
            if best_dev["id"] != old:
                self.last_part_moves[part] = now
                moved += 1
        for dev_id in list(self.removed):
            self.devs.pop(dev_id, None)
        removed = sorted(self.removed)
        self.removed.clear()
        # A weight-0 device stays listed (drained) until it is removed.
        self.version += 1
        self.dirty = False
        report = self.report()
        return {"parts_moved": moved, "balance": report["balance"], "dispersion": report["dispersion"],
                "removed": removed}

    @staticmethod
    def _best_device(devs: list[dict[str, Any]], holders: list[dict[str, Any]], counts: Counter[int],
                     targets: dict[int, float], tiers: list[Any], rnd: random.Random) -> dict[str, Any]:
        held = {d["id"] for d in holders}
        tier_counts = [Counter(t(d) for d in holders) for t in tiers]

        def key(d: dict[str, Any]) -> tuple[Any, ...]:
            fill = (counts[d["id"]] + 1) / max(targets.get(d["id"], 0), 1e-9)
            return (*(tier_counts[i][t(d)] for i, t in enumerate(tiers)), fill, rnd.random())

        candidates = [d for d in devs if d["id"] not in held]
        return min(candidates, key=key)

    # -- reporting -------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        """Per-device parts vs target, overall balance (%), dispersion (% of parts not spread as wide as possible)."""
        targets = self.targets()
        counts: Counter[int] = Counter()
        crowded = 0
        devs = {d["id"]: d for d in self.devs.values()}
        if self.replica2part2dev is not None:
            for row in self.replica2part2dev:
                counts.update(x for x in row if x >= 0)
            zones_avail = len({(d["region"], d["zone"]) for d in self.active_devs()})
            best = max(1, math.ceil(self.replicas / max(zones_avail, 1)))
            for part in range(self.parts):
                zc = Counter((devs[r[part]]["region"], devs[r[part]]["zone"])
                             for r in self.replica2part2dev if r[part] in devs)
                if zc and max(zc.values()) > best:
                    crowded += 1
        rows = []
        balance = 0.0
        total_weight = sum(d["weight"] for d in self.active_devs()) or 1.0
        for dev_id, d in sorted(devs.items()):
            target = targets.get(dev_id, 0.0)
            parts = counts.get(dev_id, 0)
            dev_balance = (100.0 * parts / target - 100.0) if target else (100.0 if parts else 0.0)
            if target or parts:
                balance = max(balance, abs(dev_balance))
            rows.append({**d, "parts": parts, "target": round(target, 2),
                         "weight_share_parts": round(self.parts * self.replicas * d["weight"] / total_weight, 2),
                         "balance": round(dev_balance, 2), "removing": dev_id in self.removed})
        return {"part_power": self.part_power, "partitions": self.parts, "replicas": self.replicas,
                "min_part_hours": self.min_part_hours, "version": self.version,
                "balance": round(balance, 2),
                "dispersion": round(100.0 * crowded / self.parts, 2) if self.replica2part2dev else 0.0,
                "devices": rows, "dirty": self.dirty}

    # -- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format_version": FORMAT_VERSION, "part_power": self.part_power, "replicas": self.replicas,
                "min_part_hours": self.min_part_hours, "devs": list(self.devs.values()),
                "removed": sorted(self.removed), "replica2part2dev": self.replica2part2dev,
                "last_part_moves": self.last_part_moves, "version": self.version, "dirty": self.dirty}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RingBuilder:
        if data.get("format_version") != FORMAT_VERSION:
            raise RingError(f"Unsupported builder format {data.get('format_version')!r}")
        b = cls(data["part_power"], data["replicas"], data["min_part_hours"])
        b.devs = {d["id"]: d for d in data["devs"]}
        b.removed = set(data.get("removed", []))
        b.replica2part2dev = data.get("replica2part2dev")
        b.last_part_moves = data.get("last_part_moves") or [0.0] * b.parts
        b.version = data.get("version", 0)
        b.dirty = data.get("dirty", False)
        return b

    def save(self, path: str) -> None:
        atomic_write(path, gzip.compress(json.dumps(self.to_dict()).encode()))

    @classmethod
    def load(cls, path: str) -> RingBuilder:
        try:
            with open(path, "rb") as f:
                return cls.from_dict(json.loads(gzip.decompress(f.read())))
        except FileNotFoundError:
            raise RingError(f"No ring builder at {path}; create it with 'cumulo ring create'") from None
        except (OSError, ValueError, KeyError) as err:
            raise RingError(f"Cannot read ring builder {path}: {err}") from None

    def ring_data(self) -> dict[str, Any]:
        """What the ring file holds: only devices that hold partitions matter, but all are listed."""
        if self.replica2part2dev is None:
            raise RingError("The ring has not been rebalanced yet")
        return {"format_version": FORMAT_VERSION, "part_power": self.part_power, "replicas": self.replicas,
                "version": self.version,
                "devs": [{k: d[k] for k in DEV_KEYS} for d in self.devs.values()],
                "replica2part2dev": self.replica2part2dev}

    def write_ring(self, path: str) -> None:
        atomic_write(path, gzip.compress(json.dumps(self.ring_data()).encode()))


# --------------------------------------------------------------------------------------------
# The ring (read side)
# --------------------------------------------------------------------------------------------
class Ring:
    """A loaded ring file; reloads itself when the file changes (checked at most every ``check_interval``s)."""

    def __init__(self, path: str, hash_suffix: str = "cumulo", check_interval: float = 1.0) -> None:
        self.path = path
        self.hash_suffix = hash_suffix
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._mtime = 0.0
        self._checked = 0.0
        self._load()

    def _load(self) -> None:
        try:
            st = os.stat(self.path)
            with open(self.path, "rb") as f:
                data = json.loads(gzip.decompress(f.read()))
        except FileNotFoundError:
            raise RingError(f"No ring file at {self.path}; build it with 'cumulo ring rebalance'") from None
        except (OSError, ValueError) as err:
            raise RingError(f"Cannot read ring {self.path}: {err}") from None
        if data.get("format_version") != FORMAT_VERSION:
            raise RingError(f"Unsupported ring format {data.get('format_version')!r} in {self.path}")
        self.part_power = data["part_power"]
        self.replicas = data["replicas"]
        self.version = data["version"]
        self.devs: dict[int, dict[str, Any]] = {d["id"]: d for d in data["devs"]}
        self.replica2part2dev: list[list[int]] = data["replica2part2dev"]
        self._shift = 32 - self.part_power
        self._mtime = st.st_mtime_ns
        self._checked = time.monotonic()

    def maybe_reload(self) -> None:
        if time.monotonic() - self._checked < self.check_interval:
            return
        with self._lock:
            self._checked = time.monotonic()
            with contextlib.suppress(OSError):
                if os.stat(self.path).st_mtime_ns != self._mtime:
                    self._load()

    @property
    def partition_count(self) -> int:
        return 2 ** self.part_power

    def get_part(self, account: str, container: str | None = None, obj: str | None = None) -> int:
        digest = hash_path(account, container, obj, self.hash_suffix)
        return int(digest[:8], 16) >> self._shift

    def part_of_hash(self, name_hash: str) -> int:
        return int(name_hash[:8], 16) >> self._shift

    def get_part_nodes(self, part: int) -> list[dict[str, Any]]:
        self.maybe_reload()
        seen: set[int] = set()
        nodes = []
        for replica, row in enumerate(self.replica2part2dev):
            dev_id = row[part]
            if dev_id in self.devs and dev_id not in seen:
                seen.add(dev_id)
                nodes.append({**self.devs[dev_id], "index": replica})
        return nodes

    def get_nodes(self, account: str, container: str | None = None,
                  obj: str | None = None) -> tuple[int, list[dict[str, Any]]]:
        part = self.get_part(account, container, obj)
        return part, self.get_part_nodes(part)

    def get_more_nodes(self, part: int) -> Iterator[dict[str, Any]]:
        """Handoff devices for a partition: other zones first, then other servers, in a per-partition order."""
        primaries = self.get_part_nodes(part)
        used = {d["id"] for d in primaries}
        zones = {(d["region"], d["zone"]) for d in primaries}
        servers = {(d["ip"], d["port"]) for d in primaries}

        def key(d: dict[str, Any]) -> tuple[Any, ...]:
            h = hashlib.md5(f"{part}-{d['id']}".encode()).hexdigest()
            return ((d["region"], d["zone"]) in zones, (d["ip"], d["port"]) in servers, h)

        others = [d for d in self.devs.values() if d["id"] not in used and d.get("weight", 0) > 0]
        for d in sorted(others, key=key):
            yield {**d, "index": None}

    def reload_now(self) -> None:
        """Reload if the file changed, without waiting for ``check_interval``."""
        self._checked = -math.inf
        self.maybe_reload()

    def has_device(self, ip: str, port: int, device: str) -> bool:
        """Whether ``ip:port/device`` is a device of this ring."""
        self.maybe_reload()
        return any(d["ip"] == ip and d["port"] == port and d["device"] == device for d in self.devs.values())

    def local_devices(self, ip: str, port: int) -> list[dict[str, Any]]:
        self.maybe_reload()
        return [d for d in self.devs.values() if d["port"] == port and d["ip"] == ip]

    def servers(self) -> list[tuple[str, int]]:
        self.maybe_reload()
        return sorted({(d["ip"], d["port"]) for d in self.devs.values()})


def ring_paths(ring_dir: str, name: str) -> tuple[str, str]:
    """``(builder file, ring file)`` of a ring named account, container or object."""
    if name not in RING_NAMES:
        raise RingError(f"Unknown ring '{name}'; rings are: {', '.join(RING_NAMES)}")
    return os.path.join(ring_dir, f"{name}.builder"), os.path.join(ring_dir, f"{name}.ring.gz")
