"""Storage nodes as real processes: failures, handoffs, replication, auditing, quorum.

Each node is a ``python -m cumulo_object_ring.node`` process with its own port
and devices; tests stop and start them and count the copies on disk.
"""

from __future__ import annotations

import hashlib
import os

import pytest
from cumulo_object_ring import client, diskfile
from cumulo_object_ring.ring import Ring, ring_paths
from cumulo_object_ring.testing import ProcessCluster

from cumulo.interfaces.object import ObjectNotFound, ObjectUnavailable


def _put(backend, name: str, data: bytes) -> None:
    backend.put_object("AUTH_t", "c", name, iter([data[:5], data[5:]]), "text/plain", {"X-Object-Meta-N": name})


def _get(backend, name: str) -> bytes:
    return b"".join(backend.get_object("AUTH_t", "c", name).body)


@pytest.fixture
def four_nodes(tmp_path):
    c = ProcessCluster(tmp_path, [[1], [2], [3], [1]])
    yield c
    c.stop()


@pytest.fixture
def three_nodes(tmp_path):
    """Four devices in three zones on three servers: node 0 holds two devices in zone 1."""
    c = ProcessCluster(tmp_path, [[1, 1], [2], [3]])
    yield c
    c.stop()


def test_one_node_down_then_replicator_restores_three_copies(four_nodes):
    c, b = four_nodes, four_nodes.backend
    b.put_container("AUTH_t", "c", {})
    before = {f"old-{i}": f"old body {i}".encode() for i in range(12)}
    for name, data in before.items():
        _put(b, name, data)
    c.nodes[0].stop()
    # Reads and writes keep working with a node down.
    for name, data in before.items():
        assert _get(b, name) == data
    during = {f"new-{i}": f"new body {i}".encode() for i in range(12)}
    for name, data in during.items():
        _put(b, name, data)
    for i in range(3):
        before[f"old-{i}"] = f"rewritten {i}".encode()
        _put(b, f"old-{i}", before[f"old-{i}"])
    b.delete_object("AUTH_t", "c", "old-11")
    del before["old-11"]
    everything = {**before, **during}
    for name, data in everything.items():
        assert _get(b, name) == data
    assert sorted(o["name"] for o in b.list_objects("AUTH_t", "c")) == sorted(everything)
    # Writes that missed a primary landed on a handoff: still three copies each.
    for name in during:
        assert len(c.data_files("AUTH_t", "c", name)) == 3, name

    c.nodes[0].start()
    for _ in range(2):  # handoffs push to the returned primaries, then remove themselves
        c.run("replicate")
    for name, data in everything.items():
        files = c.data_files("AUTH_t", "c", name)
        assert len(files) == 3, (name, files)
        assert {os.path.dirname(f) for f in files} == c.primary_dirs("AUTH_t", "c", name)
        for f in files:  # every copy is the newest version and intact
            assert diskfile.verify_data_file(f) is None
            with open(f, "rb") as fh:
                assert diskfile.read_header(fh)["etag"] == hashlib.md5(data).hexdigest()
    assert c.data_files("AUTH_t", "c", "old-11") == []
    with pytest.raises(ObjectNotFound):
        b.get_object("AUTH_t", "c", "old-11")


def test_auditor_quarantines_corrupt_copy_and_replicator_repairs(four_nodes):
    c, b = four_nodes, four_nodes.backend
    b.put_container("AUTH_t", "c", {})
    data = b"precious bytes " * 100
    _put(b, "victim", data)
    files = c.data_files("AUTH_t", "c", "victim")
    assert len(files) == 3
    with open(files[0], "r+b") as f:  # flip the last byte of one copy
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last[0] ^ 0xFF]))
    audit = c.run("audit")
    assert sum(s.get("quarantined", 0) for s in audit.values()) == 1
    assert len(c.data_files("AUTH_t", "c", "victim")) == 2
    assert _get(b, "victim") == data
    c.run("replicate")
    files = c.data_files("AUTH_t", "c", "victim")
    assert len(files) == 3
    assert all(diskfile.verify_data_file(f) is None for f in files)
    assert sum(s.get("quarantined", 0) for s in c.run("audit").values()) == 0


def test_two_of_three_servers_down_writes_fail_and_nothing_acknowledged_is_lost(three_nodes):
    c, b = three_nodes, three_nodes.backend
    b.put_container("AUTH_t", "c", {})
    acked = {f"obj-{i}": f"body {i}".encode() for i in range(10)}
    for name, data in acked.items():
        _put(b, name, data)
    c.nodes[1].stop()
    c.nodes[2].stop()
    with pytest.raises(ObjectUnavailable):
        _put(b, "refused", b"never stored")
    with pytest.raises(ObjectUnavailable):
        b.delete_object("AUTH_t", "c", "obj-0")
    # What was acknowledged is still readable from the surviving server.
    for name, data in acked.items():
        assert _get(b, name) == data
    c.nodes[1].start()
    c.nodes[2].start()
    c.run("replicate")
    for name, data in acked.items():
        assert _get(b, name) == data
        assert len(c.data_files("AUTH_t", "c", name)) == 3
    with pytest.raises(ObjectNotFound):
        b.get_object("AUTH_t", "c", "refused")
    assert sorted(o["name"] for o in b.list_objects("AUTH_t", "c")) == sorted(acked)


def test_container_update_missed_while_down_is_caught_up(four_nodes):
    c, b = four_nodes, four_nodes.backend
    b.put_container("AUTH_t", "c", {})
    ring = Ring(ring_paths(str(c.root / "rings"), "container")[1])
    _, cnodes = ring.get_nodes("AUTH_t", "c")
    down = c.ports.index(cnodes[0]["port"])
    c.nodes[down].stop()
    for i in range(5):
        _put(b, f"o{i}", b"x")
    c.nodes[down].start()
    c.run("update")  # async pendings reach the container replica that was down
    c.run("replicate")
    node = {"ip": "127.0.0.1", "port": c.ports[down]}
    resp = client.request(node, "GET", client.node_path(cnodes[0]["device"], ring.get_part("AUTH_t", "c"),
                                                        "AUTH_t", "c"), signer=b.signer)
    assert sorted(r["name"] for r in resp.json()) == [f"o{i}" for i in range(5)]
    c.run("update")
    assert b.head_account("AUTH_t")["object_count"] == 5


def test_expirer_removes_expired_objects_everywhere(four_nodes):
    import time

    c, b = four_nodes, four_nodes.backend
    b.put_container("AUTH_t", "c", {})
    soon = str(int(time.time()) + 3)  # X-Delete-At is whole seconds: +1 may be 10 ms away on a busy machine
    b.put_object("AUTH_t", "c", "short-lived", iter([b"bye"]), "text/plain", {"X-Delete-At": soon})
    b.put_object("AUTH_t", "c", "keeper", iter([b"stay"]), "text/plain", {})
    assert _get(b, "short-lived") == b"bye"
    assert b.head_object("AUTH_t", "c", "short-lived").metadata["X-Delete-At"] == soon
    time.sleep(max(0.0, int(soon) - time.time() + 0.05))
    with pytest.raises(ObjectNotFound):  # gone at once, before the expirer ran
        b.get_object("AUTH_t", "c", "short-lived")
    stats = c.run("expire")
    assert sum(s["expired"] for s in stats.values()) == 3
    assert c.data_files("AUTH_t", "c", "short-lived") == []
    assert [o["name"] for o in b.list_objects("AUTH_t", "c")] == ["keeper"]


def test_rebalance_moves_data_to_new_primaries(tmp_path):
    """Add a device to running nodes' rings: the replicator moves partitions and drops the old copies."""
    import time

    from cumulo_object_ring.ring import RING_NAMES, RingBuilder
    from cumulo_object_ring.testing import InProcessCluster

    c = InProcessCluster(tmp_path, nodes=4, spare_nodes=1)
    try:
        b = c.backend
        b.put_container("AUTH_t", "c", {})
        bodies = {f"o{i}": f"body {i}".encode() for i in range(40)}
        for name, data in bodies.items():
            _put(b, name, data)
        ring_dir = str(tmp_path / "rings")
        for name in RING_NAMES:
            bp, rp = ring_paths(ring_dir, name)
            builder = RingBuilder.load(bp)
            builder.add_dev(zone=4, ip="127.0.0.1", port=c.ports[4], device="d1", weight=100)
            assert builder.rebalance(seed=3)["parts_moved"] > 0
            builder.save(bp)
            builder.write_ring(rp)
        time.sleep(1.1)  # rings are re-checked once a second
        new_ring = Ring(ring_paths(ring_dir, "object")[1])
        moved = [n for n in bodies if any(d["port"] == c.ports[4] for d in new_ring.get_nodes("AUTH_t", "c", n)[1])]
        assert moved, "the new device should be primary for some of the objects"
        for _ in range(2):
            c.run("replicate")
        for name, data in bodies.items():
            part, nodes = new_ring.get_nodes("AUTH_t", "c", name)
            files = c.data_files("AUTH_t", "c", name)
            assert len(files) == 3, (name, files)
            where = {(f.split(os.sep)[-7], f.split(os.sep)[-6]) for f in files}
            assert where == {(f"node{c.ports.index(n['port'])}", n["device"]) for n in nodes}
            assert _get(b, name) == data
        # Listings followed the container databases to their new homes too.
        assert sorted(o["name"] for o in b.list_objects("AUTH_t", "c")) == sorted(bodies)
    finally:
        c.stop()


def test_daemons_run_on_their_own_intervals(tmp_path):
    """Nobody triggers anything: the auditor finds a corrupt copy and the replicator repairs it."""
    import time

    from cumulo_object_ring.testing import InProcessCluster

    c = InProcessCluster(tmp_path, daemon_interval=0.3)
    try:
        b = c.backend
        b.put_container("AUTH_t", "c", {})
        data = b"self-healing " * 50
        _put(b, "patient", data)
        files = c.data_files("AUTH_t", "c", "patient")
        assert len(files) == 3
        with open(files[1], "r+b") as f:
            f.write(b"X")  # corrupt the first body byte
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            quarantined = list(tmp_path.glob("node*/*/quarantined/objects/*"))
            files = c.data_files("AUTH_t", "c", "patient")
            if quarantined and len(files) == 3 and all(diskfile.verify_data_file(f) is None for f in files) \
                    and b.head_account("AUTH_t")["object_count"] == 1:
                break
            time.sleep(0.2)
        assert len(quarantined) == 1
        assert len(files) == 3 and all(diskfile.verify_data_file(f) is None for f in files)
        assert b.head_account("AUTH_t")["object_count"] == 1  # the updater reported the container too
    finally:
        c.stop()


def test_read_resumes_from_another_replica_when_a_node_dies_midway(four_nodes):
    c, b = four_nodes, four_nodes.backend
    b.put_container("AUTH_t", "c", {})
    data = os.urandom(8 * 1024 * 1024)
    b.put_object("AUTH_t", "c", "movie", iter([data[i:i + 65536] for i in range(0, len(data), 65536)]),
                 "video/mp4", {})
    part, nodes = c.object_ring.get_nodes("AUTH_t", "c", "movie")
    info = b.get_object("AUTH_t", "c", "movie")
    first = next(info.body)
    c.nodes[c.ports.index(nodes[0]["port"])].proc.kill()  # the node we are reading from
    rest = b"".join(info.body)
    assert hashlib.md5(first + rest).hexdigest() == hashlib.md5(data).hexdigest()
