"""The real clients against ``cumulo up`` with ``[object] backend = ring``.

python-swiftclient and the ``openstack`` CLI upload, list, download and
delete; with one storage node killed they keep working, and the node is
started again by the cloud's supervisor (restarts keeping ports and data are
tested in ``test_local_and_cli``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import time

import pytest
from cumulo_object_ring import client
from cumulo_object_ring.local import local_nodes
from cumulo_object_ring.signing import Signer

from cumulo.testing.cloud import CumuloCloud

swiftclient = pytest.importorskip("swiftclient.client")


def _swift(cloud: CumuloCloud):
    conn = cloud.connect()
    url = conn.object_store.get_endpoint()
    token = conn.auth_token
    return swiftclient.Connection(preauthurl=url, preauthtoken=token, retries=0)


def test_swift_and_openstack_clients_with_a_node_down(tmp_path):
    cloud = CumuloCloud(tmp_path, config={"object": {"backend": "ring"},
                                          "object_ring": {"local_part_power": 6, "replicator_interval": 600}})
    cloud.start()
    try:
        swift = _swift(cloud)
        swift.put_container("ringbox")
        body = os.urandom(300_000)
        etag = swift.put_object("ringbox", "photos/ünï cat.jpg", body, content_type="image/jpeg",
                                headers={"X-Object-Meta-Owner": "tabby"})
        assert etag == hashlib.md5(body).hexdigest()
        headers, got = swift.get_object("ringbox", "photos/ünï cat.jpg")
        assert got == body and headers["x-object-meta-owner"] == "tabby"
        listing = cloud.openstack("object", "list", "ringbox", json_out=True)
        assert [o["Name"] for o in listing] == ["photos/ünï cat.jpg"]

        # Kill one storage node (found through its health endpoint): the clients do not notice.
        ip, port = local_nodes(os.path.join(cloud.state_path, "rings"))[1]
        signer = Signer(open(os.path.join(cloud.state_path, "object-ring.secret")).read().strip())
        pid = client.request({"ip": ip, "port": port}, "GET", "/_admin/health", signer=signer).json()["pid"]
        os.kill(pid, signal.SIGKILL)
        for i in range(5):
            swift.put_object("ringbox", f"during-{i}", f"body {i}".encode())
        for i in range(5):
            assert swift.get_object("ringbox", f"during-{i}")[1] == f"body {i}".encode()
        assert swift.get_object("ringbox", "photos/ünï cat.jpg")[1] == body
        swift.delete_object("ringbox", "during-0")
        names = [o["name"] for o in swift.get_container("ringbox")[1]]
        assert names == ["during-1", "during-2", "during-3", "during-4", "photos/ünï cat.jpg"]

        # The cloud's supervisor started the killed node again.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(*client.NodeError):
                health = client.request({"ip": ip, "port": port}, "GET", "/_admin/health", signer=signer)
                if health.status == 200 and health.json()["pid"] != pid:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("the killed storage node was not restarted")
        # And, like every node, it serves nothing unsigned.
        assert client.request({"ip": ip, "port": port}, "GET", "/_admin/health", signer=None).status == 401

    finally:
        cloud.stop()
