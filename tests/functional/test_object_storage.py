"""Object Storage with the real clients: python-swiftclient (``swift``), python-openstackclient and
openstacksdk against a running ``cumulo up``, authenticating through Cumulo's Identity.

The cloud is parametrized on ``[object] backend``: "dir" always, "ring" when installed.
``[object] max_file_size`` is lowered to 2 MiB so that "objects beyond the limit only
through manifests" is checked with small files (the 6 GiB run is in tests/bench).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
import requests
import yaml

from cumulo import registry
from cumulo.testing.cloud import CommandFailed, CumuloCloud

MiB = 1024 * 1024
BACKENDS = ["dir"] + (["ring"] if "ring" in registry.names("object") else [])


@pytest.fixture(scope="module", params=BACKENDS)
def cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    backend = request.param
    c = CumuloCloud(tmp_path_factory.mktemp(f"object-{backend}"), config={
        "api": {"frontends": "identity,object-store"},
        "object": {"backend": backend, "max_file_size": 2 * MiB},
        "auth_sql": {"password_hash_rounds": 4}, "identity": {"password_hash_rounds": 4}})
    c.start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def admin(cloud: CumuloCloud) -> tuple[str, str]:
    """(token, storage URL) of the admin's own account, issued once per cloud."""
    issued = cloud.openstack("token", "issue")
    token, project = issued["id"], issued["project_id"]
    return token, f"{cloud.url}/object-store/v1/AUTH_{project}"


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def swift_env(cloud: CumuloCloud, name: str = "cumulo") -> dict[str, str]:
    """python-swiftclient reads OS_* variables, not clouds.yaml."""
    with open(cloud.clouds_yaml) as f:
        auth = yaml.safe_load(f)["clouds"][name]["auth"]
    return {"OS_AUTH_URL": auth["auth_url"], "OS_USERNAME": auth["username"], "OS_PASSWORD": auth["password"],
            "OS_PROJECT_NAME": auth["project_name"], "OS_USER_DOMAIN_NAME": auth.get("user_domain_name", "Default"),
            "OS_PROJECT_DOMAIN_NAME": auth.get("project_domain_name", "Default"),
            "OS_IDENTITY_API_VERSION": "3", "OS_AUTH_VERSION": "3", "OS_CLOUD": ""}


def swift(cloud: CumuloCloud, *args: str, user: str = "cumulo", check: bool = True,
          cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the unmodified ``swift`` CLI as ``user`` (a clouds.yaml entry)."""
    argv = [os.path.join(os.path.dirname(sys.executable), "swift"), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={**cloud.env, **swift_env(cloud, user)})
    if check and proc.returncode != 0:
        raise CommandFailed(argv, proc.returncode, proc.stdout, proc.stderr)
    return proc


def md5_file(path: str) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            h.update(chunk)
    return h.hexdigest()


def sparse(path: str, size: int, marks: int = 4) -> str:
    """A sparse file with a few non-zero marks so misplaced segments would show."""
    with open(path, "wb") as f:
        f.truncate(size)
        for i in range(marks):
            f.seek(i * size // marks)
            f.write(f"mark {i}".encode())
    return path


# ---------------------------------------------------------------------------------------- swift
def test_stat_upload_list_download(cloud, tmp_path):
    stat = swift(cloud, "stat").stdout
    assert "Account: AUTH_" in stat and "Containers:" in stat
    container = uniq("docs")
    src = tmp_path / "src"
    (src / "photos" / "2024").mkdir(parents=True)
    files = {"readme.txt": b"hello swift\n", "photos/2024/cat.jpg": os.urandom(70000),
             "photos/2024/dog.jpg": os.urandom(1000), "photos/index.html": b"<html></html>",
             "unicod\u00e9 \u2603.txt": "snow \u2603".encode()}
    for name, data in files.items():
        (src / name).write_bytes(data)
    swift(cloud, "upload", container, *files, cwd=str(src))
    listed = swift(cloud, "list", container).stdout.split("\n")
    assert sorted(filter(None, listed)) == sorted(files)
    top = swift(cloud, "list", container, "--delimiter", "/").stdout.splitlines()
    assert top == ["photos/", "readme.txt", "unicod\u00e9 \u2603.txt"]
    sub = swift(cloud, "list", container, "--prefix", "photos/", "--delimiter", "/").stdout.splitlines()
    assert sub == ["photos/2024/", "photos/index.html"]
    out = tmp_path / "out"
    out.mkdir()
    swift(cloud, "download", container, "-D", str(out))
    for name, data in files.items():
        assert (out / name).read_bytes() == data, name
    cstat = swift(cloud, "stat", container).stdout
    assert f"Objects: {len(files)}" in cstat
    assert f"Bytes: {sum(len(d) for d in files.values())}" in cstat


def test_post_meta_copy_delete(cloud, tmp_path):
    c1, c2 = uniq("src"), uniq("dst")
    f = tmp_path / "note.txt"
    f.write_bytes(b"copy me")
    swift(cloud, "upload", c1, "note.txt", cwd=str(tmp_path))
    swift(cloud, "post", "-m", "color:blue", "-m", "Size:L", "-m", "note:caf\u00e9 \u2603", c1, "note.txt")
    stat = swift(cloud, "stat", c1, "note.txt").stdout
    assert "Meta Color: blue" in stat and "Meta Size: L" in stat
    assert "Meta Note: caf\u00e9 \u2603" in stat
    swift(cloud, "post", "-m", "owner:team-a", c1)
    assert "Meta Owner: team-a" in swift(cloud, "stat", c1).stdout
    swift(cloud, "copy", "-d", f"/{c2}/copied.txt", c1, "note.txt")
    got = swift(cloud, "download", c2, "copied.txt", "-o", "-").stdout
    assert got == "copy me"
    assert "Meta Color: blue" in swift(cloud, "stat", c2, "copied.txt").stdout
    swift(cloud, "delete", c1, "note.txt")
    assert swift(cloud, "list", c1).stdout.strip() == ""
    missing = swift(cloud, "stat", c1, "note.txt", check=False)
    assert missing.returncode != 0 and "404" in missing.stderr + missing.stdout
    swift(cloud, "delete", c2)
    assert c2 not in swift(cloud, "list").stdout.split()


@pytest.mark.parametrize("mode", ["--use-slo", "--use-dlo"])
def test_segmented_upload_beyond_max_file_size(cloud, admin, tmp_path, mode):
    container = uniq("large")
    path = sparse(str(tmp_path / "disk.img"), 5 * MiB + 123)
    # One piece is over [object] max_file_size (2 MiB here): refused with a clear 413.
    refused = swift(cloud, "upload", container, "disk.img", cwd=str(tmp_path), check=False)
    assert refused.returncode != 0 and "413" in refused.stderr + refused.stdout
    swift(cloud, "upload", mode, "--segment-size", str(MiB), container, "disk.img", cwd=str(tmp_path))
    stat = swift(cloud, "stat", container, "disk.img").stdout
    assert f"Content Length: {5 * MiB + 123}" in stat
    assert ("Manifest:" in stat) if mode == "--use-dlo" else ("Static-Large-Object: True" in stat
                                                               or "Static Large Object: True" in stat)
    out = tmp_path / "back.img"
    swift(cloud, "download", container, "disk.img", "-o", str(out))
    assert md5_file(str(out)) == md5_file(path)
    # A byte range across a segment boundary.
    token, base = admin
    r = requests.get(f"{base}/{container}/disk.img", headers={"X-Auth-Token": token,
                                                                          "Range": f"bytes={MiB - 3}-{MiB + 2}"})
    assert r.status_code == 206
    with open(path, "rb") as f:
        f.seek(MiB - 3)
        assert r.content == f.read(6)
    swift(cloud, "delete", container, "disk.img")
    assert swift(cloud, "list", container + "_segments").stdout.strip() == ""


def test_tempurl(cloud, admin):
    container = uniq("share")
    swift(cloud, "post", container)
    token, base = admin
    requests.put(f"{base}/{container}/report.pdf", data=b"%PDF secret", headers={"X-Auth-Token": token}).raise_for_status()
    swift(cloud, "post", "-m", "Temp-URL-Key:s3cr3t")
    account = base.rsplit("/", 1)[1]
    path = f"/v1/{account}/{container}/report.pdf"
    signed = swift(cloud, "tempurl", "GET", "120", path, "s3cr3t").stdout.strip()
    prefix = cloud.url + "/object-store"
    r = requests.get(prefix + signed)
    assert r.status_code == 200 and r.content == b"%PDF secret"
    assert "attachment" in r.headers["Content-Disposition"]
    assert requests.get(prefix + signed.replace("temp_url_sig=", "temp_url_sig=0")).status_code == 401
    assert requests.put(prefix + signed, data=b"x").status_code == 401  # signed for GET only
    sha1 = swift(cloud, "tempurl", "--digest", "sha1", "GET", "120", path, "s3cr3t").stdout.strip()
    assert requests.get(prefix + sha1).status_code == 200
    expired = swift(cloud, "tempurl", "GET", "--absolute", str(int(time.time()) - 5), path, "s3cr3t",
                    check=False)
    if expired.returncode == 0:
        assert requests.get(prefix + expired.stdout.strip()).status_code == 401
    assert requests.get(f"{base}/{container}/report.pdf").status_code == 401  # no token, no ACL


def test_acls_and_other_projects(cloud, admin):
    container = uniq("acl")
    swift(cloud, "post", container)
    project, user, password = uniq("proj"), uniq("user"), "pw-" + uuid.uuid4().hex
    conn = cloud.connect()  # identity setup through the sdk: the CLI's start-up time adds up
    proj = conn.identity.create_project(name=project, domain_id="default")
    person = conn.identity.create_user(name=user, password=password, default_project_id=proj.id,
                                       domain_id="default")
    member = next(r for r in conn.identity.roles() if r.name == "member")
    conn.identity.assign_project_role_to_user(proj, person, member)
    cloud.add_user_cloud("other", user, password, project_name=project)
    admin_token, base = admin
    other_token = cloud.connect("other").session.get_token()
    other_project_id = proj.id
    requests.put(f"{base}/{container}/o", data=b"shared", headers={"X-Auth-Token": admin_token}).raise_for_status()
    # Another project's user sees nothing until the ACL says so.
    assert requests.get(f"{base}/{container}/o", headers={"X-Auth-Token": other_token}).status_code == 403
    swift(cloud, "post", "-r", f"{other_project_id}:*", "-w", f"{other_project_id}:*", container)
    assert requests.get(f"{base}/{container}/o", headers={"X-Auth-Token": other_token}).content == b"shared"
    assert requests.put(f"{base}/{container}/from-other", data=b"w",
                        headers={"X-Auth-Token": other_token}).status_code == 201
    # ...but cannot change the container's ACLs.
    assert requests.post(f"{base}/{container}", headers={"X-Auth-Token": other_token,
                                                         "X-Container-Read": "*:*"}).status_code == 403
    # The other user's own account works, and is theirs.
    own = swift(cloud, "stat", user="other").stdout
    assert f"AUTH_{other_project_id}" in own
    # Account quotas: the project's member may not set one; an admin may, and it holds.
    own = f"{cloud.url}/object-store/v1/AUTH_{other_project_id}"
    quota = {"X-Account-Meta-Quota-Bytes": "5"}
    assert requests.post(own, headers={"X-Auth-Token": other_token, **quota}).status_code == 403
    assert requests.post(own, headers={"X-Auth-Token": admin_token, **quota}).status_code == 204
    assert requests.put(f"{own}/mine", headers={"X-Auth-Token": other_token}).status_code == 201
    over = requests.put(f"{own}/mine/o", data=b"0123456789", headers={"X-Auth-Token": other_token})
    assert over.status_code == 413
    assert requests.put(f"{own}/mine/o", data=b"01234", headers={"X-Auth-Token": other_token}).status_code == 201
    # Public read: anonymous GET, listing only with .rlistings.
    swift(cloud, "post", "-r", ".r:*", container)
    assert requests.get(f"{base}/{container}/o").content == b"shared"
    assert requests.get(f"{base}/{container}").status_code == 401
    swift(cloud, "post", "-r", ".r:*,.rlistings", container)
    listing = requests.get(f"{base}/{container}?format=json").json()
    assert {o["name"] for o in listing} == {"o", "from-other"}


def test_container_quota(cloud, admin):
    container = uniq("quota")
    swift(cloud, "post", container)
    token, base = admin
    r = requests.post(f"{base}/{container}", headers={"X-Auth-Token": token, "X-Container-Meta-Quota-Bytes": "10"})
    assert r.status_code == 204
    assert requests.put(f"{base}/{container}/small", data=b"12345", headers={"X-Auth-Token": token}).status_code == 201
    big = requests.put(f"{base}/{container}/big", data=b"123456789", headers={"X-Auth-Token": token})
    assert big.status_code == 413 and "quota" in big.text.lower()
    # Chunked transfer encoding (a generator body): stopped as soon as it passes the quota.
    chunked = requests.put(f"{base}/{container}/chunked", data=iter([b"12", b"34", b"56"]),
                           headers={"X-Auth-Token": token})
    assert chunked.status_code == 413
    assert requests.head(f"{base}/{container}/chunked", headers={"X-Auth-Token": token}).status_code == 404
    requests.post(f"{base}/{container}", headers={"X-Auth-Token": token, "X-Remove-Container-Meta-Quota-Bytes": "x"})
    body = [os.urandom(65536) for _ in range(20)]
    ok = requests.put(f"{base}/{container}/chunked", data=iter(body), headers={"X-Auth-Token": token})
    assert ok.status_code == 201 and ok.headers["Etag"] == hashlib.md5(b"".join(body)).hexdigest()
    got = requests.get(f"{base}/{container}/chunked", headers={"X-Auth-Token": token})
    assert got.content == b"".join(body)


# --------------------------------------------------------------------------- openstack + sdk
def test_openstack_cli_containers_and_objects(cloud, tmp_path):
    container = uniq("osc")
    created = cloud.openstack("container", "create", container)
    assert created[0]["container"] == container
    assert container in [c["Name"] for c in cloud.openstack("container", "list")]
    f = tmp_path / "payload.bin"
    data = os.urandom(100000)
    f.write_bytes(data)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        cloud.openstack("object", "create", container, "payload.bin")
    finally:
        os.chdir(cwd)
    names = [o["Name"] for o in cloud.openstack("object", "list", container)]
    assert names == ["payload.bin"]
    out = tmp_path / "saved.bin"
    cloud.openstack("object", "save", "--file", str(out), container, "payload.bin", json_out=False)
    assert out.read_bytes() == data
    conn = cloud.connect()
    assert conn.object_store.get_object_metadata("payload.bin", container=container).etag == \
        hashlib.md5(data).hexdigest()
    cloud.openstack("object", "delete", container, "payload.bin", json_out=False)
    assert list(conn.object_store.objects(container)) == []
    conn.object_store.delete_container(container)


def test_openstacksdk_create_and_get_object(cloud):
    conn = cloud.connect()
    container = uniq("sdk")
    conn.object_store.create_container(name=container)
    body = b"sdk bytes " * 1000
    conn.create_object(container, "hello.bin", data=body, metadata={"purpose": "test"})
    _headers, data = conn.get_object(container, "hello.bin")
    assert (data.encode() if isinstance(data, str) else data) == body  # the sdk returns response.text
    assert conn.object_store.download_object("hello.bin", container=container) == body
    obj = conn.object_store.get_object_metadata("hello.bin", container=container)
    assert obj.metadata.get("purpose") == "test"
    assert [o.name for o in conn.object_store.objects(container)] == ["hello.bin"]
    conn.delete_object(container, "hello.bin")
    conn.delete_container(container)


def test_info_is_public_and_catalog_has_endpoint(cloud):
    info = requests.get(cloud.url + "/object-store/info").json()
    assert info["swift"]["max_file_size"] == 2 * MiB
    assert info["swift"]["max_object_name_length"] == 1024
    for feature in ("tempurl", "slo", "bulk_delete", "versioned_writes"):
        assert feature in info
    catalog = cloud.openstack("catalog", "list")
    entry = next(e for e in catalog if e["Type"] == "object-store")
    assert "/object-store/v1/AUTH_" in json.dumps(entry["Endpoints"])


def test_client_mistakes_are_4xx(cloud, admin):
    token, base = admin
    container = uniq("limits")
    h = {"X-Auth-Token": token}
    assert requests.put(f"{base}/{container}", headers=h).status_code == 201
    long_name = "n" * 1025
    r = requests.put(f"{base}/{container}/{long_name}", data=b"x", headers=h)
    assert r.status_code == 400 and "1024" in r.text
    r = requests.put(f"{base}/{container}/o", data=b"x", headers={**h, "X-Object-Meta-" + "k" * 200: "v"})
    assert r.status_code == 400
    r = requests.put(f"{base}/{container}/o", data=b"abc", headers={**h, "ETag": "0" * 32})
    assert r.status_code == 422
    hostile = "%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd"  # quoted, or requests would resolve the dots
    r = requests.put(f"{base}/{container}/{hostile}", data=b"not really", headers=h)
    assert r.status_code == 201
    assert requests.get(f"{base}/{container}/{hostile}", headers=h).content == b"not really"
    names = requests.get(f"{base}/{container}?format=json", headers=h).json()
    assert [o["name"] for o in names] == ["../../../../etc/passwd"]
    assert requests.get(f"{base}/{container}?limit=99999", headers=h).status_code == 412
    assert requests.delete(f"{base}/{container}", headers=h).status_code == 409


def test_bulk_delete_through_swift_delete(cloud, tmp_path):
    container = uniq("bulk")
    for i in range(12):
        (tmp_path / f"f{i:02d}").write_bytes(b"x" * i)
    swift(cloud, "upload", container, *[f"f{i:02d}" for i in range(12)], cwd=str(tmp_path))
    # swift deletes more than 2 x object threads objects through ?bulk-delete.
    out = swift(cloud, "delete", "--object-threads", "1", container)
    assert out.returncode == 0
    assert container not in swift(cloud, "list").stdout.split()


def test_failed_command_reports_status(cloud):
    with pytest.raises(CommandFailed) as err:
        swift(cloud, "download", uniq("nothing"), "nope", "-o", "-")
    assert "not found" in str(err.value).lower()
