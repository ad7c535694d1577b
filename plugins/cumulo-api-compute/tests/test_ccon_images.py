"""The image proxy (``/images`` below 2.36, metadata below 2.39) in Nova's shape, on the real image area."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cumulo.context import RequestContext
from cumulo.testing.fixtures import FakeHub, running_compute, use_fake_hypervisor

ADMIN = "admin:padmin:admin,member,reader"
OTHER = "u2:p2"
USER_CTX = RequestContext(user_id="u1", project_id="p1", roles=["member", "reader"])


@pytest.fixture
def cumulo_compute_hub(cumulo_db: Any) -> Iterator[FakeHub]:
    """The conftest's hub with the image area (filesystem store) and no network."""
    use_fake_hypervisor(cumulo_db)
    cumulo_db.set("default_store", "filesystem", group="image")
    cumulo_db.set("stores", ["filesystem"], group="image")
    with running_compute(FakeHub(without=("network", "volume"))) as hub:
        yield hub


def _image(hub: FakeHub, name: str, **fields: Any) -> dict[str, Any]:
    image = hub.image.create(USER_CTX, {"name": name, "disk_format": "raw", "container_format": "bare", **fields})
    hub.image.upload(USER_CTX, image["id"], iter([b"x" * 1024]))
    return hub.image.get(USER_CTX, image["id"])


def test_show_list_and_filters(cloud, cumulo_compute_hub):
    hub = cumulo_compute_hub
    a = _image(hub, "pa", min_ram=64, min_disk=1, auto_disk_config="true")
    b = _image(hub, "pb", instance_uuid="srv-1", image_type="snapshot")
    queued = hub.image.create(USER_CTX, {"name": "pq", "disk_format": "raw", "container_format": "bare"})

    shown = cloud.get(f"/v2.1/images/{a['id']}", version="2.1").json["image"]
    assert shown["status"] == "ACTIVE" and shown["progress"] == 100
    assert shown["minRam"] == 64 and shown["minDisk"] == 1 and shown["OS-EXT-IMG-SIZE:size"] == 1024
    assert shown["OS-DCF:diskConfig"] == "AUTO" and "server" not in shown
    assert shown["created"].endswith("Z") and shown["metadata"] == {"auto_disk_config": "true"}
    assert [lk["rel"] for lk in shown["links"]] == ["self", "bookmark"]
    snap = cloud.get(f"/v2.1/images/{b['id']}", version="2.1").json["image"]
    assert snap["server"]["id"] == "srv-1" and snap["server"]["links"][0]["href"].endswith("/servers/srv-1")
    q = cloud.get(f"/v2.1/images/{queued['id']}", version="2.1").json["image"]
    assert (q["status"], q["progress"]) == ("SAVING", 25)

    brief = cloud.get("/v2.1/images", version="2.1").json["images"]
    assert {i["name"] for i in brief} == {"pa", "pb", "pq"} and all(set(i) == {"id", "name", "links"} for i in brief)

    def names(query: str) -> set[str]:
        return {i["name"] for i in cloud.get(f"/v2.1/images/detail?{query}", version="2.1").json["images"]}

    assert names("name=pa") == {"pa"}
    assert names("status=ACTIVE") == {"pa", "pb"}
    assert names("status=SAVING") == set()  # Nova passes the status on; Glance's is "queued"
    assert names("type=snapshot") == {"pb"}
    assert names("server=srv-1") == {"pb"}
    assert names("server=http://x/v2.1/servers/srv-1") == {"pb"}
    assert names("changes-since=2000-01-01T00:00:00Z") == {"pa", "pb", "pq"}
    assert names("changes-since=2999-01-01T00:00:00Z") == set()
    page = cloud.get("/v2.1/images?limit=2", version="2.1").json
    assert len(page["images"]) == 2 and page["images_links"][0]["rel"] == "next"
    rest = cloud.get(f"/v2.1/images?marker={page['images'][-1]['id']}", version="2.1").json["images"]
    assert len(rest) == 1 and rest[0]["id"] not in {i["id"] for i in page["images"]}
    assert cloud.get("/v2.1/images?changes-since=yesterday", version="2.1").status_int == 400


def test_gone_after_2_35_and_metadata_after_2_38(cloud, cumulo_compute_hub):
    a = _image(cumulo_compute_hub, "pv")
    assert cloud.get("/v2.1/images", version="2.35").status_int == 200
    assert cloud.get("/v2.1/images", version="2.36").status_int == 404
    assert cloud.get(f"/v2.1/images/{a['id']}", version="2.36").status_int == 404
    assert cloud.get(f"/v2.1/images/{a['id']}/metadata", version="2.38").status_int == 200
    assert cloud.get(f"/v2.1/images/{a['id']}/metadata", version="2.39").status_int == 404


def test_metadata(cloud, cumulo_compute_hub):
    iid = _image(cumulo_compute_hub, "pm", os_distro="cirros")["id"]
    url = f"/v2.1/images/{iid}/metadata"
    assert cloud.get(url, version="2.1").json == {"metadata": {"os_distro": "cirros"}}
    resp = cloud.post(url, {"metadata": {"a": "1", "b": "2"}}, version="2.1")
    assert resp.status_int == 200 and resp.json["metadata"] == {"os_distro": "cirros", "a": "1", "b": "2"}
    resp = cloud.put(url, {"metadata": {"c": "3"}}, version="2.1")
    assert resp.json["metadata"] == {"c": "3"}
    assert cloud.get(url + "/c", version="2.1").json == {"meta": {"c": "3"}}
    assert cloud.get(url + "/nope", version="2.1").status_int == 404
    assert cloud.put(url + "/d", {"meta": {"d": "4"}}, version="2.1").json == {"meta": {"d": "4"}}
    assert cloud.put(url + "/d", {"meta": {"e": "4"}}, version="2.1").status_int == 400
    assert cloud.put(url + "/d", {"meta": {"d": "4", "e": "5"}}, version="2.1").status_int == 400
    assert cloud.delete(url + "/c", version="2.1").status_int == 204
    assert cloud.delete(url + "/c", version="2.1").status_int == 404
    assert cloud.get(url, version="2.1").json == {"metadata": {"d": "4"}}
    many = {f"k{i}": "v" for i in range(129)}
    assert cloud.post(url, {"metadata": many}, version="2.1").status_int == 403
    assert cloud.get(url, version="2.1", token=OTHER).status_int == 404  # a private image of another project


def test_delete(cloud, cumulo_compute_hub):
    iid = _image(cumulo_compute_hub, "pd")["id"]
    assert cloud.delete(f"/v2.1/images/{iid}", version="2.1", token=OTHER).status_int == 404
    assert cloud.delete(f"/v2.1/images/{iid}", version="2.1").status_int == 204
    assert cloud.get(f"/v2.1/images/{iid}", version="2.1").status_int == 404
    assert cloud.delete(f"/v2.1/images/{iid}", version="2.1").status_int == 404
