"""``tempest.conf`` written from a real running cloud: every value is checked against the cloud itself,
read back through its own API (openstacksdk, raw HTTP), never against a constant."""

from __future__ import annotations

import configparser
import os
import stat
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import yaml
from cumulo_verify import probe, tempestconf

from cumulo.testing.cloud import CumuloCloud


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    c = CumuloCloud(tmp_path_factory.mktemp("cloud"))
    c.start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def written(cloud: CumuloCloud, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, configparser.ConfigParser,
                                                                                   probe.CloudFacts]:
    conn = probe.connect("cumulo", cloud.clouds_yaml)
    facts = probe.probe(conn, probe.ensure_resources(conn))
    workspace = str(tmp_path_factory.mktemp("workspace"))
    path = tempestconf.write(facts, tempestconf.RunSettings(workspace=workspace))
    parser = configparser.ConfigParser(interpolation=None)
    assert parser.read(path) == [path]
    return path, parser, facts


def _auth(cloud: CumuloCloud) -> dict[str, Any]:
    with open(cloud.clouds_yaml) as f:
        entry: dict[str, Any] = yaml.safe_load(f)["clouds"]["cumulo"]
    return entry


def test_identity_and_admin_credentials_are_the_clouds(cloud: CumuloCloud, written: Any) -> None:
    path, conf, _ = written
    entry = _auth(cloud)
    assert conf["identity"]["uri_v3"].rstrip("/") == entry["auth"]["auth_url"].rstrip("/")
    assert conf["identity"]["region"] == entry["region_name"]
    assert conf["auth"]["admin_username"] == entry["auth"]["username"]
    assert conf["auth"]["admin_password"] == cloud.admin_password
    assert conf["auth"]["admin_project_name"] == entry["auth"]["project_name"]
    assert conf.getboolean("auth", "use_dynamic_credentials")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # the admin password is in it


def test_services_follow_the_catalog(cloud: CumuloCloud, written: Any) -> None:
    _, conf, _ = written
    types = {s["Type"] for s in cloud.openstack("catalog", "list")}
    expected = {"nova": "compute" in types, "glance": "image" in types, "neutron": "network" in types,
                "swift": "object-store" in types, "cinder": bool(types & {"volumev3", "block-storage"})}
    assert {k: conf.getboolean("service_available", k) for k in expected} == expected
    assert expected["nova"] and expected["swift"]
    if expected["cinder"]:
        kind = "block-storage" if "block-storage" in types else "volumev3"
        assert conf["volume"]["catalog_type"] == kind
        url = cloud.connect().endpoint_for(kind)
        versions = requests.get(url[:url.index("/v3")] + "/", timeout=10).json()["versions"]
        assert conf["volume"]["max_microversion"] == next(v["version"] for v in versions if v["id"].startswith("v3"))
    else:
        assert not conf.has_section("volume")


def test_compute_microversions_images_and_flavors_exist(cloud: CumuloCloud, written: Any) -> None:
    _, conf, _ = written
    conn = cloud.connect()
    doc = requests.get(conn.endpoint_for("compute").rstrip("/") + "/", timeout=10).json()["version"]
    assert conf["compute"]["max_microversion"] == doc["version"]
    assert conf["compute"]["min_microversion"] == doc["min_version"]
    images = [conn.image.get_image(conf["compute"][k]) for k in ("image_ref", "image_ref_alt")]
    assert [i.status for i in images] == ["active", "active"] and images[0].id != images[1].id
    assert all(i.visibility == "public" for i in images)
    up = [s for s in cloud.openstack("compute", "service", "list", "--service", "nova-compute")
          if s["State"] == "up" and s["Status"] == "enabled"]
    assert conf["compute"].getint("min_compute_nodes") == len(up) >= 1
    flavors = [conn.compute.get_flavor(conf["compute"][k]) for k in ("flavor_ref", "flavor_ref_alt")]
    assert flavors[0].id != flavors[1].id and all(f.disk >= 1 for f in flavors)


def test_resources_are_reused_not_duplicated(cloud: CumuloCloud, written: Any) -> None:
    _, _, facts = written
    conn = probe.connect("cumulo", cloud.clouds_yaml)
    again = probe.ensure_resources(conn)
    assert again == facts.resources
    for name in probe.IMAGE_NAMES:
        assert len(list(conn.image.images(name=name))) == 1


def test_network_is_the_external_one_and_extensions_are_listed(cloud: CumuloCloud, written: Any) -> None:
    _, conf, _ = written
    external = cloud.openstack("network", "list", "--external")
    assert conf["network"]["public_network_id"] in {n["ID"] for n in external}
    aliases = {e["Alias"] for e in cloud.openstack("extension", "list", "--network")}
    listed = set(conf["network-feature-enabled"]["api_extensions"].split(","))
    assert listed == aliases
    assert conf.getboolean("network-feature-enabled", "port_security") == ("port-security" in aliases)


def test_object_storage_features_are_the_info_documents(cloud: CumuloCloud, written: Any) -> None:
    _, conf, _ = written
    url = cloud.connect().endpoint_for("object-store")
    info = requests.get(url[:url.index("/v1")] + "/info", timeout=10).json()
    apis = set(conf["object-storage-feature-enabled"]["discoverable_apis"].split(","))
    assert apis == set(info) - {"swift"}
    assert conf.getboolean("object-storage-feature-enabled", "container_sync") == ("container_sync" in info)
    assert conf["object-storage-feature-enabled"]["tempurl_digest_hashlib"] in info["tempurl"]["allowed_digests"]
    roles = {r["Name"] for r in cloud.openstack("role", "list")}
    assert conf["object-storage"]["operator_role"] in roles


def test_image_formats_are_the_schemas(cloud: CumuloCloud, written: Any) -> None:
    _, conf, _ = written
    conn = cloud.connect()
    schema = conn.session.get(conn.endpoint_for("image").rstrip("/") + "/v2/schemas/image").json()
    enum = [f for f in schema["properties"]["disk_format"]["enum"] if f]
    assert conf["image"]["disk_formats"].split(",") == enum
    # The import tests run when /v2/info/import lists a method (each skips the methods it does not find).
    methods = conn.session.get(conn.endpoint_for("image").rstrip("/") + "/v2/info/import").json()
    assert conf["image-feature-enabled"]["import_image"] == str(bool(methods["import-methods"]["value"]))
    # The probes' throw-away images are gone: only Tempest's two remain.
    assert sorted(i.name for i in conn.image.images()) == sorted(probe.IMAGE_NAMES)


def test_compute_features_come_from_the_server_actions(cloud: CumuloCloud, written: Any) -> None:
    _, conf, facts = written
    features = conf["compute-feature-enabled"]
    assert set(probe.COMPUTE_ACTIONS) <= set(features)
    assert features.getboolean("pause")  # every cloud Cumulo ever was pauses servers
    # The same probe, for an action no cloud has, reads as absent.
    conn = probe.connect("cumulo", cloud.clouds_yaml)
    url = conn.endpoint_for("compute").rstrip("/") + "/servers/00000000-0000-0000-0000-000000000000/action"
    resp = conn.session.post(url, json={"cumuloVerifyNoSuchAction": {}}, raise_exc=False)
    assert resp.status_code == 400 and "no such action" in resp.text.lower()
    assert facts.compute_features == {k: features.getboolean(k) for k in facts.compute_features}


def test_identity_extensions_answer(cloud: CumuloCloud, written: Any) -> None:
    _, conf, facts = written
    conn = cloud.connect()
    base = _auth(cloud)["auth"]["auth_url"].rstrip("/")
    for name in conf["identity-feature-enabled"]["api_extensions"].split(","):
        if name:
            path = probe.IDENTITY_EXTENSIONS[name].format(user=conn.current_user_id, domain="default")
            assert conn.session.get(base + path, raise_exc=False).status_code == 200, name
    assert conf.getboolean("identity-feature-enabled", "trust") == ("OS-TRUST" in facts.identity_extensions)


def test_unknown_cloud_is_one_error(tmp_path: os.PathLike[str]) -> None:
    clouds = os.path.join(tmp_path, "clouds.yaml")
    with open(clouds, "w") as f:
        f.write("clouds: {}\n")
    with pytest.raises(probe.ProbeError, match="no-such-cloud"):
        probe.connect("no-such-cloud", clouds)


def test_volume_types_ask_for_the_clouds_backend(cloud: CumuloCloud, written: Any) -> None:
    _, conf, _ = written
    if not conf.has_section("volume"):
        pytest.skip("no volume service in this cloud")
    conn = cloud.connect()
    url = conn.endpoint_for("block-storage").rstrip("/") + "/scheduler-stats/get_pools?detail=true"
    caps = conn.session.get(url).json()["pools"][0]["capabilities"]
    assert conf["volume"]["storage_protocol"] == caps["storage_protocol"]
    assert conf["volume"]["vendor_name"] == caps["vendor_name"]


def test_manage_tests_run_where_the_backend_manages(cloud: CumuloCloud, written: Any) -> None:
    _, conf, _ = written
    if not conf.has_section("volume"):
        pytest.skip("no volume service in this cloud")
    conn = cloud.connect()
    url = conn.endpoint_for("block-storage").rstrip("/") + "/manageable_volumes"
    status = conn.session.get(url, headers={"OpenStack-API-Version": "volume 3.8"}, raise_exc=False).status_code
    assert conf.getboolean("volume-feature-enabled", "manage_volume") == (status == 200)
