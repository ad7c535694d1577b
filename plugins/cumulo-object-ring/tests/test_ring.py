"""Ring builder and ring: balance, zone dispersion, minimal movement, min_part_hours, file format."""

from __future__ import annotations

import gzip
import json
import os
import time
from collections import Counter

import pytest
from cumulo_object_ring.ring import Ring, RingBuilder, RingError, hash_path


def _builder(zones: list[int], part_power: int = 8, replicas: int = 3, min_part_hours: float = 1,
             weights: list[float] | None = None) -> RingBuilder:
    b = RingBuilder(part_power, replicas, min_part_hours)
    for i, z in enumerate(zones):
        b.add_dev(zone=z, ip=f"10.0.0.{i + 1}", port=6200, device="d1",
                  weight=(weights[i] if weights else 100))
    return b


def _assignment(b: RingBuilder) -> set[tuple[int, int]]:
    """(partition, device) pairs: what a replica move changes."""
    return {(p, d) for row in b.replica2part2dev for p, d in enumerate(row)}


def _check_valid(b: RingBuilder) -> None:
    devs = {d["id"]: d for d in b.devs.values()}
    for p in range(b.parts):
        ids = [row[p] for row in b.replica2part2dev]
        assert len(set(ids)) == b.replicas, f"partition {p} has a device twice: {ids}"
        assert all(i in devs and devs[i]["weight"] > 0 for i in ids)


def _zones_per_part(b: RingBuilder) -> Counter:
    devs = {d["id"]: d for d in b.devs.values()}
    return Counter(len({devs[row[p]]["zone"] for row in b.replica2part2dev}) for p in range(b.parts))


def test_every_partition_spans_three_zones_when_possible():
    b = _builder([1, 1, 2, 3])
    b.rebalance(seed=1)
    _check_valid(b)
    assert _zones_per_part(b) == Counter({3: b.parts})
    # Two devices share zone 1's third of the replicas; zones 2 and 3 hold a replica of every partition.
    parts = Counter(d for row in b.replica2part2dev for d in row)
    assert parts[2] == parts[3] == b.parts
    assert parts[0] + parts[1] == b.parts and abs(parts[0] - parts[1]) <= 1
    assert b.report()["dispersion"] == 0.0


def test_balance_by_weight_within_a_tier():
    b = _builder([1, 2, 3, 4, 5, 6], weights=[100, 100, 100, 100, 200, 200])
    b.rebalance(seed=2)
    _check_valid(b)
    rep = b.report()
    assert rep["balance"] < 2.0
    parts = {d["id"]: d["parts"] for d in rep["devices"]}
    assert parts[4] == pytest.approx(2 * parts[0], rel=0.05)
    assert sum(parts.values()) == b.parts * b.replicas


def test_fewer_zones_than_replicas_still_spreads_as_wide_as_possible():
    b = _builder([1, 1, 2, 2])
    b.rebalance(seed=3)
    _check_valid(b)
    assert _zones_per_part(b) == Counter({2: b.parts})


def test_adding_a_device_moves_only_its_share():
    b = _builder([1, 1, 2, 3])
    b.rebalance(seed=4)
    before = _assignment(b)
    b.pretend_min_part_hours_passed()
    b.add_dev(zone=1, ip="10.0.0.9", port=6200, device="d1", weight=100)
    result = b.rebalance(seed=5)
    _check_valid(b)
    moved = len(before - _assignment(b))
    target = b.targets()[4]
    assert result["parts_moved"] == moved
    # The new device takes its fair share of zone 1 and nothing else moves.
    assert abs(moved - target) <= 2
    assert _zones_per_part(b) == Counter({3: b.parts})
    assert b.report()["balance"] < 2.0


def test_adding_a_zone_moves_only_its_share():
    b = _builder([1, 1, 2, 3])
    b.rebalance(seed=4)
    before = _assignment(b)
    b.pretend_min_part_hours_passed()
    b.add_dev(zone=4, ip="10.0.0.9", port=6200, device="d1", weight=100)
    b.rebalance(seed=6)
    _check_valid(b)
    moved = len(before - _assignment(b))
    assert abs(moved - b.targets()[4]) <= 2
    assert _zones_per_part(b) == Counter({3: b.parts})


def test_removing_a_device_moves_only_its_partitions():
    b = _builder([1, 1, 2, 3, 1])
    b.rebalance(seed=7)
    before = _assignment(b)
    held = {p for p, d in before if d == 4}
    b.pretend_min_part_hours_passed()
    b.remove_dev(4)
    result = b.rebalance(seed=8)
    _check_valid(b)
    assert result["removed"] == [4]
    assert 4 not in b.devs
    lost = before - _assignment(b)
    assert {p for p, _ in lost} == held  # only the removed device's partitions moved
    assert len(lost) == len(held)
    assert _zones_per_part(b) == Counter({3: b.parts})


def test_removal_ignores_min_part_hours():
    b = _builder([1, 1, 2, 3, 1])
    b.rebalance(seed=9)
    b.remove_dev(0)
    b.rebalance(seed=10)  # no pretend: partitions on a removed device must move anyway
    _check_valid(b)


def test_reweight_moves_proportionally():
    b = _builder([1, 2, 3, 4, 5, 6])
    b.rebalance(seed=11)
    before = _assignment(b)
    b.pretend_min_part_hours_passed()
    b.set_dev_weight(0, 50)
    b.rebalance(seed=12)
    _check_valid(b)
    moved = len(before - _assignment(b))
    parts = Counter(d for row in b.replica2part2dev for d in row)
    assert parts[0] == pytest.approx(b.targets()[0], abs=1)
    assert moved <= (128 - b.targets()[0]) + 2
    b.pretend_min_part_hours_passed()
    b.set_dev_weight(0, 0)
    b.rebalance(seed=13)
    _check_valid(b)
    assert Counter(d for row in b.replica2part2dev for d in row)[0] == 0


def test_min_part_hours_blocks_second_move():
    b = _builder([1, 1, 2, 3], min_part_hours=1)
    now = time.time()
    b.rebalance(seed=14, now=now)
    before = _assignment(b)
    b.add_dev(zone=1, ip="10.0.0.9", port=6200, device="d1", weight=100)
    result = b.rebalance(seed=15, now=now + 600)  # ten minutes later: nothing may move
    assert result["parts_moved"] == 0
    assert _assignment(b) == before
    result = b.rebalance(seed=16, now=now + 3601)  # an hour later: it may
    assert result["parts_moved"] > 0
    _check_valid(b)


def test_one_replica_per_partition_moves_per_rebalance():
    b = _builder([1, 2, 3])
    b.rebalance(seed=17)
    before = {p: {row[p] for row in b.replica2part2dev} for p in range(b.parts)}
    b.pretend_min_part_hours_passed()
    for z in (4, 5, 6):
        b.add_dev(zone=z, ip=f"10.0.1.{z}", port=6200, device="d1", weight=100)
    b.rebalance(seed=18)
    _check_valid(b)
    for p in range(b.parts):
        now = {row[p] for row in b.replica2part2dev}
        assert len(before[p] - now) <= 1, p


def test_too_few_devices_is_an_error():
    b = _builder([1, 2])
    with pytest.raises(RingError, match="3 replicas need at least 3 devices"):
        b.rebalance()


def test_builder_and_ring_files_round_trip(tmp_path):
    b = _builder([1, 1, 2, 3], part_power=6)
    b.rebalance(seed=19)
    bp, rp = str(tmp_path / "object.builder"), str(tmp_path / "object.ring.gz")
    b.save(bp)
    b.write_ring(rp)
    again = RingBuilder.load(bp)
    assert again.replica2part2dev == b.replica2part2dev and again.devs == b.devs
    with open(rp, "rb") as f:
        data = json.loads(gzip.decompress(f.read()))
    assert data["format_version"] == 1 and len(data["replica2part2dev"]) == 3
    ring = Ring(rp, check_interval=0)
    part, nodes = ring.get_nodes("AUTH_a", "c", "o")
    assert part == int(hash_path("AUTH_a", "c", "o")[:8], 16) >> (32 - 6)
    assert len(nodes) == 3 and len({n["zone"] for n in nodes}) == 3
    handoffs = list(ring.get_more_nodes(part))
    assert len(handoffs) == 1 and handoffs[0]["id"] not in {n["id"] for n in nodes}
    # The ring reloads itself when the file changes.
    b.pretend_min_part_hours_passed()
    b.add_dev(zone=4, ip="10.0.0.9", port=6200, device="d1", weight=100)
    b.rebalance(seed=20)
    b.write_ring(rp)
    os.utime(rp, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    ring.maybe_reload()
    assert ring.version == b.version and 4 in ring.devs


def test_corrupt_builder_is_reported(tmp_path):
    path = tmp_path / "object.builder"
    path.write_bytes(b"not gzip")
    with pytest.raises(RingError, match="Cannot read ring builder"):
        RingBuilder.load(str(path))
    with pytest.raises(RingError, match="create it with"):
        RingBuilder.load(str(tmp_path / "missing.builder"))
