"""The image service (``hub.image``): lifecycle, visibility, sharing, quotas, streaming, recovery.

Every test runs with the filesystem store and with the object-storage store.
"""

from __future__ import annotations

import hashlib
import os

import cumulo_service_image.manager as manager
import pytest
import sqlalchemy as sa
from cumulo_service_image.common import now
from cumulo_service_image.models import Image

from cumulo import db, exception
from cumulo.context import RequestContext
from cumulo.contracts.image import ClientDisconnected


def ctx(project: str = "p1", user: str = "u1", admin: bool = False) -> RequestContext:
    roles = ["admin", "member", "reader"] if admin else ["member", "reader"]
    return RequestContext(user_id=user, project_id=project, roles=roles)


both_stores = pytest.mark.parametrize("store_name", ["filesystem", "object"])
RAW = {"disk_format": "raw", "container_format": "bare"}  # arbitrary bytes are a raw disk


def _create(images, c=None, **fields):
    return images.create(c or ctx(), {**RAW, **fields})


def _chunks(data, size=10_000):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def _stored_ids(hub, store_name):
    if store_name == "filesystem":
        path = hub.image.store().datadir
        return sorted(os.listdir(path))
    return sorted(k[2] for k in hub.objects.data)


# -- create / show / lifecycle ---------------------------------------------------------------
def test_create_defaults(images):
    image = images.create(ctx(), {"name": "cirros"})
    assert image["status"] == "queued"
    assert image["visibility"] == "shared"
    assert image["owner"] == "p1"
    assert image["protected"] is False and image["os_hidden"] is False
    assert image["size"] is None and image["checksum"] is None
    assert images.get(ctx(), image["id"])["name"] == "cirros"


def test_create_with_everything(images):
    image = images.create(ctx(), {"id": "5f0c9a40-7a8d-4a3b-8f3c-111111111111", "name": "x", "min_disk": 2,
                                  "min_ram": "512", "protected": True, "tags": ["b", "a", "a"],
                                  "os_distro": "cirros", "hw_disk_bus": "virtio", **RAW})
    assert image["id"] == "5f0c9a40-7a8d-4a3b-8f3c-111111111111"
    assert (image["min_disk"], image["min_ram"], image["protected"]) == (2, 512, True)
    assert image["tags"] == ["a", "b"]
    assert image["os_distro"] == "cirros" and image["properties"] == {"os_distro": "cirros", "hw_disk_bus": "virtio"}
    with pytest.raises(exception.Conflict):
        images.create(ctx(), {"id": image["id"]})


@pytest.mark.parametrize("fields, error", [
    ({"disk_format": "floppy"}, exception.ValidationError),
    ({"container_format": "zip"}, exception.ValidationError),
    ({"visibility": "everyone"}, exception.ValidationError),
    ({"min_disk": -1}, exception.ValidationError),
    ({"min_ram": "lots"}, exception.ValidationError),
    ({"protected": "maybe"}, exception.ValidationError),
    ({"tags": "notalist"}, exception.ValidationError),
    ({"name": "n" * 256}, exception.ValidationError),
    ({"id": "not-a-uuid"}, exception.ValidationError),
    ({"status": "active"}, exception.Forbidden),
    ({"size": 5}, exception.Forbidden),
    ({"checksum": "abc"}, exception.Forbidden),
    ({"visibility": "public"}, exception.Forbidden),
    ({"owner": "someone-else"}, exception.Forbidden),
    ({"nested": {"a": 1}}, exception.ValidationError),
])
def test_create_rejects(images, fields, error):
    with pytest.raises(error):
        images.create(ctx(), fields)


def test_all_disk_and_container_formats_accepted(images):
    for fmt in ("raw", "qcow2", "vmdk", "vdi", "vhd", "iso", "ami", "aki", "ari"):
        assert images.create(ctx(), {"disk_format": fmt})["disk_format"] == fmt
    for fmt in ("bare", "ovf", "ova", "aki", "ari", "ami", "docker", "compressed"):
        assert images.create(ctx(), {"container_format": fmt})["container_format"] == fmt


def test_admin_can_publicize_and_set_owner(images):
    image = images.create(ctx(admin=True), {"visibility": "public", "owner": "p9"})
    assert (image["visibility"], image["owner"]) == ("public", "p9")
    assert images.get(ctx("p5"), image["id"])["id"] == image["id"]


@both_stores
def test_upload_and_download(images, hub, store_name):
    data = os.urandom(300_000)
    image = _create(images)
    result = images.upload(ctx(), image["id"], _chunks(data), size=len(data))
    assert result["status"] == "active"
    assert result["size"] == len(data)
    assert result["checksum"] == hashlib.md5(data).hexdigest()
    assert (result["os_hash_algo"], result["os_hash_value"]) == ("sha512", hashlib.sha512(data).hexdigest())
    assert result["store"] == store_name
    assert b"".join(images.download(ctx(), image["id"])) == data
    _, part = images.open_data(ctx(), image["id"], 1000, 10)
    assert b"".join(part) == data[1000:1010]


@both_stores
def test_upload_streams_without_declared_size(images):
    image = _create(images)
    result = images.upload(ctx(), image["id"], iter([b"a" * 5, b"b" * 7]))
    assert result["size"] == 12


def test_upload_needs_formats_and_queued(images):
    image = images.create(ctx(), {"name": "noformats"})
    with pytest.raises(exception.Invalid, match="disk_format"):
        images.upload(ctx(), image["id"], iter([b"x"]))
    image = _create(images)
    images.upload(ctx(), image["id"], iter([b"x"]))
    with pytest.raises(exception.Conflict):
        images.upload(ctx(), image["id"], iter([b"y"]))


@both_stores
def test_size_mismatch_kills_and_leaves_no_bytes(images, hub, store_name):
    image = _create(images)
    with pytest.raises(exception.Invalid, match="size"):
        images.upload(ctx(), image["id"], iter([b"x" * 100]), size=99)
    assert images.get(ctx(), image["id"])["status"] == "killed"
    assert _stored_ids(hub, store_name) == []
    image = _create(images)
    with pytest.raises(exception.Invalid):
        images.upload(ctx(), image["id"], iter([b"x" * 100]), size=101)
    assert images.get(ctx(), image["id"])["status"] == "killed"
    assert _stored_ids(hub, store_name) == []


@both_stores
def test_checksum_mismatch_kills_and_leaves_no_bytes(images, hub, store_name):
    image = _create(images)
    with pytest.raises(exception.Invalid, match="checksum"):
        images.upload(ctx(), image["id"], iter([b"data"]), checksum=hashlib.md5(b"other").hexdigest())
    assert images.get(ctx(), image["id"])["status"] == "killed"
    assert _stored_ids(hub, store_name) == []
    good = _create(images)
    images.upload(ctx(), good["id"], iter([b"data"]), checksum=hashlib.md5(b"data").hexdigest())
    assert images.get(ctx(), good["id"])["status"] == "active"


@both_stores
def test_owner_specified_md5_property_is_verified(images, hub, store_name):
    image = _create(images, **{"owner_specified.openstack.md5": hashlib.md5(b"right").hexdigest()})
    with pytest.raises(exception.Invalid, match="checksum"):
        images.upload(ctx(), image["id"], iter([b"wrong"]))
    assert _stored_ids(hub, store_name) == []
    image = _create(images, **{"owner_specified.openstack.md5": hashlib.md5(b"right").hexdigest()})
    assert images.upload(ctx(), image["id"], iter([b"right"]))["status"] == "active"


@both_stores
def test_failing_client_returns_image_to_queued(images, hub, store_name):
    def broken():
        yield b"x" * 1000
        raise ClientDisconnected("gone")

    image = _create(images)
    with pytest.raises(ClientDisconnected):
        images.upload(ctx(), image["id"], broken())
    assert images.get(ctx(), image["id"])["status"] == "queued"
    assert _stored_ids(hub, store_name) == []
    assert images.upload(ctx(), image["id"], iter([b"retry"]))["size"] == 5


@both_stores
def test_size_cap(images, cumulo_db, hub, store_name):
    cumulo_db.set("image_size_cap", 1000, group="image")
    image = _create(images)
    with pytest.raises(exception.RequestTooLarge):
        images.upload(ctx(), image["id"], iter([b"x" * 1001]), size=1001)
    with pytest.raises(exception.RequestTooLarge):
        images.upload(ctx(), image["id"], _chunks(b"x" * 5000, 300))  # undeclared size: caught while streaming
    assert images.get(ctx(), image["id"])["status"] == "queued"
    assert _stored_ids(hub, store_name) == []


def test_quota_image_count(images, cumulo_db):
    cumulo_db.set("quota_image_count", 2, group="image")
    first = images.create(ctx(), {})
    images.create(ctx(), {})
    with pytest.raises(exception.QuotaExceeded) as err:
        images.create(ctx(), {})
    assert err.value.code == 413
    images.create(ctx("p2"), {})  # per project
    images.delete(ctx(), first["id"])
    images.create(ctx(), {})


@both_stores
def test_quota_total_size(images, cumulo_db, hub, store_name):
    cumulo_db.set("quota_image_size_total", 1, group="image")  # MiB
    a = _create(images)
    images.upload(ctx(), a["id"], iter([b"x" * 700_000]))
    b = _create(images)
    with pytest.raises(exception.QuotaExceeded):
        images.upload(ctx(), b["id"], _chunks(b"y" * 500_000))
    assert images.get(ctx(), b["id"])["status"] == "queued"
    with pytest.raises(exception.QuotaExceeded):
        images.upload(ctx(), b["id"], iter([b"y" * 500_000]), size=500_000)
    images.upload(ctx(), b["id"], iter([b"y" * 300_000]))
    other = _create(images, ctx("p2"))
    images.upload(ctx("p2"), other["id"], iter([b"z" * 900_000]), size=900_000)
    assert sorted(_stored_ids(hub, store_name)) == sorted([a["id"], b["id"], other["id"]])


@both_stores
def test_delete_removes_data_and_hides(images, hub, store_name):
    image = _create(images)
    images.upload(ctx(), image["id"], iter([b"bytes"]))
    images.delete(ctx(), image["id"])
    with pytest.raises(exception.NotFound):
        images.get(ctx(), image["id"])
    assert _stored_ids(hub, store_name) == []
    assert images.list(ctx()) == []


def test_protected_cannot_be_deleted(images):
    image = _create(images, protected=True)
    with pytest.raises(exception.Forbidden):
        images.delete(ctx(), image["id"])
    images.update(ctx(), image["id"], {"protected": False})
    images.delete(ctx(), image["id"])


@both_stores
def test_deactivate_reactivate(images):
    image = _create(images)
    with pytest.raises(exception.Forbidden):
        images.deactivate(ctx(admin=True), image["id"])  # queued
    images.upload(ctx(), image["id"], iter([b"data"]))
    images.update(ctx(admin=True), image["id"], {"visibility": "public"})
    with pytest.raises(exception.Forbidden):  # sees the public image, does not own it
        images.deactivate(ctx(project="p2", user="u2"), image["id"])
    reader = RequestContext(user_id="u3", project_id="p1", roles=["reader"])
    with pytest.raises(exception.Forbidden):  # of the owning project, but not a member
        images.deactivate(reader, image["id"])
    images.deactivate(ctx(), image["id"])  # the owner's member, as Glance's default allows
    assert images.get(ctx(), image["id"])["status"] == "deactivated"
    with pytest.raises(exception.Forbidden):
        images.download(ctx(), image["id"])
    assert b"".join(images.download(ctx(admin=True), image["id"])) == b"data"
    with pytest.raises(exception.Forbidden):
        images.reactivate(ctx(project="p2", user="u2"), image["id"])
    images.reactivate(ctx(), image["id"])
    assert b"".join(images.download(ctx(), image["id"])) == b"data"
    images.deactivate(ctx(admin=True), image["id"])
    images.reactivate(ctx(admin=True), image["id"])
    assert images.get(ctx(), image["id"])["status"] == "active"


def test_download_without_data(images):
    image = _create(images)
    assert images.open_data(ctx(), image["id"])[1] is None
    with pytest.raises(exception.Conflict):
        images.download(ctx(), image["id"])


# -- visibility and members ---------------------------------------------------------------
def test_visibility_rules(images):
    private = _create(images, name="private", visibility="private")
    shared = _create(images, name="shared")
    community = _create(images, name="community", visibility="community")
    images.create(ctx(admin=True), {"name": "public", "visibility": "public"})
    p2 = ctx("p2")
    for hidden in (private, shared):
        with pytest.raises(exception.NotFound):
            images.get(p2, hidden["id"])
    assert images.get(p2, community["id"])["name"] == "community"
    assert {i["name"] for i in images.list(p2)} == {"public"}
    assert {i["name"] for i in images.list(p2, {"visibility": "community"})} == {"community"}
    assert {i["name"] for i in images.list(ctx())} == {"private", "shared", "community", "public"}
    assert {i["name"] for i in images.list(ctx(), {"visibility": "private"})} == {"private"}
    assert len(images.list(ctx("px", admin=True))) == 4
    with pytest.raises(exception.Forbidden):
        images.update(p2, community["id"], {"name": "mine now"})
    with pytest.raises(exception.NotFound):
        images.delete(p2, private["id"])


def test_members_share_accept_reject(images):
    image = _create(images, name="to-share")
    p2 = ctx("p2")
    member = images.add_member(ctx(), image["id"], "p2")
    assert member["status"] == "pending"
    assert images.get(p2, image["id"])["name"] == "to-share"  # a member sees it...
    assert images.list(p2) == []  # ...but lists it only once accepted
    assert [i["name"] for i in images.list(p2, {"member_status": "pending"})] == ["to-share"]
    with pytest.raises(exception.Forbidden):
        images.update_member(ctx(), image["id"], "p2", "accepted")  # only the member decides
    assert images.update_member(p2, image["id"], "p2", "accepted")["status"] == "accepted"
    assert [i["name"] for i in images.list(p2)] == ["to-share"]
    assert [i["name"] for i in images.list(p2, {"visibility": "shared"})] == ["to-share"]
    images.update_member(p2, image["id"], "p2", "rejected")
    assert images.list(p2) == []
    assert [m["member_id"] for m in images.list_members(p2, image["id"])] == ["p2"]
    images.add_member(ctx(), image["id"], "p3")
    assert [m["member_id"] for m in images.list_members(ctx(), image["id"])] == ["p2", "p3"]
    assert [m["member_id"] for m in images.list_members(p2, image["id"])] == ["p2"]
    with pytest.raises(exception.NotFound):
        images.get_member(p2, image["id"], "p3")
    with pytest.raises(exception.Conflict):
        images.add_member(ctx(), image["id"], "p2")
    with pytest.raises(exception.Forbidden):
        images.delete_member(p2, image["id"], "p2")
    images.delete_member(ctx(), image["id"], "p2")
    with pytest.raises(exception.NotFound):
        images.get(p2, image["id"])


def test_members_only_on_shared_images(images):
    image = _create(images, visibility="private")
    with pytest.raises(exception.Forbidden, match="shared"):
        images.add_member(ctx(), image["id"], "p2")
    with pytest.raises(exception.NotFound):
        images.add_member(ctx("p2"), image["id"], "p3")


def test_member_quota(images, cumulo_db):
    cumulo_db.set("image_member_quota", 1, group="image")
    image = _create(images)
    images.add_member(ctx(), image["id"], "p2")
    with pytest.raises(exception.QuotaExceeded):
        images.add_member(ctx(), image["id"], "p3")


# -- tags, properties, patch ---------------------------------------------------------------
def test_tags(images):
    image = _create(images, tags=["a"])
    images.add_tag(ctx(), image["id"], "b")
    images.add_tag(ctx(), image["id"], "b")  # idempotent
    assert images.get(ctx(), image["id"])["tags"] == ["a", "b"]
    images.delete_tag(ctx(), image["id"], "a")
    with pytest.raises(exception.NotFound):
        images.delete_tag(ctx(), image["id"], "a")
    assert images.get(ctx(), image["id"])["tags"] == ["b"]


def test_patch_semantics(images):
    image = _create(images, name="n", os_distro="cirros")
    out = images.patch(ctx(), image["id"], [
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "add", "path": "/hw_disk_bus", "value": "virtio"},
        {"op": "add", "path": "/os_distro", "value": "ubuntu"},  # add on existing = replace
        {"op": "add", "path": "/tags/-", "value": "t1"},
        {"op": "replace", "path": "/min_ram", "value": 256},
        {"op": "add", "path": "/a~1b", "value": "slash"},
    ])
    assert out["name"] == "renamed" and out["hw_disk_bus"] == "virtio" and out["os_distro"] == "ubuntu"
    assert out["tags"] == ["t1"] and out["min_ram"] == 256 and out["a/b"] == "slash"
    out = images.patch(ctx(), image["id"], [{"op": "remove", "path": "/hw_disk_bus"},
                                            {"op": "replace", "path": "/tags", "value": ["x", "y"]}])
    assert "hw_disk_bus" not in out and out["tags"] == ["x", "y"]
    with pytest.raises(exception.Conflict):
        images.patch(ctx(), image["id"], [{"op": "remove", "path": "/nope"}])
    with pytest.raises(exception.Conflict):
        images.patch(ctx(), image["id"], [{"op": "replace", "path": "/nope", "value": "x"}])
    with pytest.raises(exception.Forbidden):
        images.patch(ctx(), image["id"], [{"op": "replace", "path": "/status", "value": "active"}])
    with pytest.raises(exception.Forbidden):
        images.patch(ctx(), image["id"], [{"op": "remove", "path": "/name"}])
    with pytest.raises(exception.Invalid):
        images.patch(ctx(), image["id"], [{"op": "move", "path": "/name", "from": "/x"}])
    with pytest.raises(exception.Invalid):
        images.patch(ctx(), image["id"], [{"op": "add", "path": "/name"}])


def test_formats_frozen_once_active(images):
    image = _create(images)
    images.upload(ctx(), image["id"], iter([b"x"]))
    with pytest.raises(exception.Forbidden):
        images.update(ctx(), image["id"], {"disk_format": "qcow2"})
    images.update(ctx(), image["id"], {"disk_format": "raw", "name": "same format is fine"})


def test_property_quota(images, cumulo_db):
    cumulo_db.set("image_property_quota", 2, group="image")
    image = _create(images, a="1", b="2")
    with pytest.raises(exception.QuotaExceeded):
        images.update(ctx(), image["id"], {"c": "3"})


# -- list filters, sorting, paging -----------------------------------------------------------
def test_list_filters_sort_and_paging(images):
    made = []
    for i, (fmt, tag) in enumerate([("raw", "x"), ("qcow2", "y"), ("qcow2", "x"), ("iso", "x"), ("raw", "y")]):
        made.append(images.create(ctx(), {"name": f"img{i}", "disk_format": fmt, "container_format": "bare",
                                          "tags": [tag, "all"], "os_distro": "d" + str(i % 2)}))
    names = lambda found: [i["name"] for i in found]  # noqa: E731
    assert names(images.list(ctx(), sort=[("name", "asc")])) == [f"img{i}" for i in range(5)]
    assert names(images.list(ctx(), {"disk_format": "qcow2"}, sort=[("name", "asc")])) == ["img1", "img2"]
    assert names(images.list(ctx(), {"disk_format": "in:raw,iso"}, sort=[("name", "desc")])) == ["img4", "img3", "img0"]
    assert names(images.list(ctx(), {"tag": ["x", "all"]}, sort=[("name", "asc")])) == ["img0", "img2", "img3"]
    assert names(images.list(ctx(), {"os_distro": "d1"}, sort=[("name", "asc")])) == ["img1", "img3"]
    assert names(images.list(ctx(), {"name": "img3"})) == ["img3"]
    assert names(images.list(ctx(), {"status": "active"})) == []
    # paging through with a marker, by a non-unique key
    seen, marker = [], None
    while True:
        page = images.list(ctx(), limit=2, marker=marker, sort=[("disk_format", "asc"), ("name", "desc")])
        if not page:
            break
        seen += names(page)
        marker = page[-1]["id"]
    assert seen == ["img3", "img2", "img1", "img4", "img0"]
    with pytest.raises(exception.Invalid):
        images.list(ctx(), marker="00000000-0000-0000-0000-000000000000")
    with pytest.raises(exception.ValidationError):
        images.list(ctx(), sort=[("checksum", "asc")])
    images.update(ctx(), made[0]["id"], {"os_hidden": True})
    assert "img0" not in names(images.list(ctx()))
    assert names(images.list(ctx(), {"os_hidden": "true"})) == ["img0"]


def test_list_size_and_time_filters(images):
    small, big = _create(images, name="small"), _create(images, name="big")
    images.upload(ctx(), small["id"], iter([b"x" * 10]))
    images.upload(ctx(), big["id"], iter([b"x" * 1000]))
    assert [i["name"] for i in images.list(ctx(), {"size_min": "100"})] == ["big"]
    assert [i["name"] for i in images.list(ctx(), {"size_max": "100"})] == ["small"]
    assert len(images.list(ctx(), {"created_at": "gte:2000-01-01T00:00:00Z"})) == 2
    assert images.list(ctx(), {"created_at": "lt:2000-01-01T00:00:00Z"}) == []
    with pytest.raises(exception.ValidationError):
        images.list(ctx(), {"created_at": "2000-01-01"})


# -- crash recovery ---------------------------------------------------------------------------
def _simulate_crashed_upload(hub, store_name, image_id, holder):
    """What a process that died mid-upload leaves: a 'saving' row and partial bytes."""
    store = hub.image.store()
    if store_name == "filesystem":
        with open(os.path.join(store.datadir, f"{image_id}.partial.dead"), "wb") as f:
            f.write(b"half")
    else:
        store.add(image_id, iter([b"half"]))  # stored, but the location never reached the database
    with db.transaction() as s:
        s.execute(sa.update(Image).where(Image.id == image_id).values(
            status="saving", upload_host=holder, upload_heartbeat=now(), store=store_name))


@both_stores
def test_dead_upload_on_this_host_reset_at_start(images, hub, store_name):
    image = _create(images)
    _simulate_crashed_upload(hub, store_name, image["id"], "test-host:999999999:oldboot")
    live = _create(images)
    _simulate_crashed_upload(hub, store_name, live["id"], "other-host:1:x")  # another host, fresh heartbeat
    manager.start(hub)[0].stop()
    assert images.get(ctx(), image["id"])["status"] == "queued"
    assert images.get(ctx(), live["id"])["status"] == "saving"
    assert image["id"] not in " ".join(_stored_ids(hub, store_name))
    assert images.upload(ctx(), image["id"], iter([b"whole"]))["status"] == "active"


@both_stores
def test_stale_upload_elsewhere_reset_after_timeout(images, hub, store_name):
    image = _create(images)
    _simulate_crashed_upload(hub, store_name, image["id"], "other-host:1:x")
    assert images.cleanup() == 0
    with db.transaction() as s:
        s.execute(sa.update(Image).where(Image.id == image["id"]).values(
            upload_heartbeat=now() - __import__("datetime").timedelta(hours=1)))
    assert images.cleanup() == 1
    assert images.get(ctx(), image["id"])["status"] == "queued"
    assert _stored_ids(hub, store_name) == []


@both_stores
def test_live_upload_in_this_process_is_left_alone(images, hub, store_name):
    image = _create(images)
    seen = {}

    def source():
        yield b"a" * 1000
        seen["fixed"] = images.cleanup()
        seen["status"] = images.get(ctx(), image["id"])["status"]
        yield b"b" * 1000

    images.upload(ctx(), image["id"], source())
    assert seen == {"fixed": 0, "status": "saving"}


@both_stores
def test_delete_during_upload_discards_data(images, hub, store_name):
    image = _create(images)

    def source():
        yield b"a" * 1000
        images.delete(ctx(), image["id"])
        yield b"b" * 1000

    with pytest.raises(exception.Conflict):
        images.upload(ctx(), image["id"], source())
    assert _stored_ids(hub, store_name) == []


def test_start_refuses_an_unknown_default_store(cumulo_db, hub):
    from cumulo import registry

    cumulo_db.set("default_store", "floppy", group="image")
    with pytest.raises(registry.PluginError, match="available: filesystem, http, object"):
        manager.start(hub)
