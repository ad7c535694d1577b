"""The metadata definitions API through the whole app: namespaces, objects, properties, tags,
resource types and their schemas, as Tempest's metadefs tests drive them, and the refusals
(visibility, admin-only changes, protection, conflicts)."""

from __future__ import annotations

import pytest

SCHEMA_NAMES = {"namespace": "namespace", "namespaces": "namespaces", "object": "object", "objects": "objects",
                "property": "property", "properties": "properties", "resource_type": "resource_type_association",
                "resource_types": "resource_type_associations", "tag": "tag", "tags": "tags"}


@pytest.mark.parametrize("kind", sorted(SCHEMA_NAMES))
def test_schemas_for_readers(api, kind):
    assert api.get(f"/v2/schemas/metadefs/{kind}").json["name"] == SCHEMA_NAMES[kind]


def test_unknown_schema_is_404(api):
    assert api.get("/v2/schemas/metadefs/nothing").status_int == 404


def _ns(admin_api, name="ns1", **fields):
    body = {"namespace": name, "visibility": "public", "description": "Tempest", "display_name": name,
            "protected": False, **fields}
    resp = admin_api.post("/v2/metadefs/namespaces", body)
    assert resp.status_int == 201, resp.text
    return resp.json


def test_namespace_lifecycle_protection_and_visibility(admin_api, api, other):
    rtype = api.get("/v2/metadefs/resource_types").json["resource_types"][0]["name"]
    assert rtype == "OS::Cinder::Volume"  # seeded by the migration, sorted by name
    made = _ns(admin_api, resource_type_associations=[{"name": rtype}], protected=True)
    assert made["visibility"] == "public" and made["protected"] is True and made["owner"] == "adminproject"
    assert made["resource_type_associations"][0]["name"] == rtype and made["self"].endswith("/ns1")
    assert "ns1" in [n["namespace"] for n in api.get("/v2/metadefs/namespaces").json["namespaces"]]
    assert api.get("/v2/metadefs/namespaces/ns1").json["namespace"] == "ns1"
    # Only admins change; a protected namespace is not deleted even by them.
    assert api.delete("/v2/metadefs/namespaces/ns1").status_int == 403
    assert admin_api.delete("/v2/metadefs/namespaces/ns1").status_int == 403
    updated = admin_api.put("/v2/metadefs/namespaces/ns1", {"namespace": "ns1", "description": "Tempest",
                                                            "visibility": "private", "display_name": "ns1",
                                                            "protected": False}).json
    assert updated["visibility"] == "private" and updated["protected"] is False
    # Private: its owner project (and admins) only; others see nothing of it.
    assert api.get("/v2/metadefs/namespaces/ns1").status_int == 404
    assert "ns1" not in [n["namespace"] for n in other.get("/v2/metadefs/namespaces").json["namespaces"]]
    assert admin_api.post("/v2/metadefs/namespaces", {"namespace": "ns1"}).status_int == 409
    assert admin_api.delete("/v2/metadefs/namespaces/ns1").status_int == 204
    assert admin_api.get("/v2/metadefs/namespaces/ns1").status_int == 404
    assert api.post("/v2/metadefs/namespaces", {"namespace": "mine"}).status_int == 403
    for bad in ({"visibility": "public"}, {"namespace": "x", "visibility": "shared"},
                {"namespace": "x", "protected": "yes"}, {"namespace": "x" * 81}):
        assert admin_api.post("/v2/metadefs/namespaces", bad).status_int == 400


def test_objects(admin_api, api):
    _ns(admin_api)
    base = "/v2/metadefs/namespaces/ns1/objects"
    obj = admin_api.post(base, {"name": "o1", "properties": {"p": {"title": "P", "type": "string"}},
                                "required": ["p"]})
    assert obj.status_int == 201 and obj.json["name"] == "o1" and obj.json["required"] == ["p"]
    assert admin_api.post(base, {"name": "o1"}).status_int == 409
    assert api.post(base, {"name": "o2"}).status_int == 403
    assert [o["name"] for o in api.get(base).json["objects"]] == ["o1"]
    assert api.get(f"{base}/o1").json["properties"] == {"p": {"title": "P", "type": "string"}}
    renamed = admin_api.put(f"{base}/o1", {"name": "o1-new"}).json
    assert renamed["name"] == "o1-new" and api.get(f"{base}/o1").status_int == 404
    assert admin_api.get("/v2/metadefs/namespaces/ns1").json["objects"][0]["name"] == "o1-new"
    assert admin_api.delete(f"{base}/o1-new").status_int == 204
    assert api.get(base).json["objects"] == []


def test_properties_with_a_resource_type(admin_api, api):
    _ns(admin_api)
    rtype = api.get("/v2/metadefs/resource_types").json["resource_types"][0]["name"]
    assoc = admin_api.post("/v2/metadefs/namespaces/ns1/resource_types", {"name": rtype, "prefix": "hw_"})
    assert assoc.status_int == 201 and assoc.json["name"] == rtype and assoc.json["prefix"] == "hw_"
    enum = ["xen", "qemu", "kvm"]
    base = "/v2/metadefs/namespaces/ns1/properties"
    made = admin_api.post(base, {"name": rtype, "title": "t1", "type": "string", "enum": enum})
    assert made.status_int == 201 and made.json == {"name": rtype, "title": "t1", "type": "string", "enum": enum}
    assert api.get(f"{base}/{rtype}").json["name"] == rtype
    assert admin_api.put(f"{base}/{rtype}", {"name": rtype, "title": "t2", "type": "string",
                                             "enum": enum}).json["title"] == "t2"
    # Shown with the prefix of the resource type asked for.
    shown = api.get(f"/v2/metadefs/namespaces/ns1?resource_type={rtype}").json
    assert list(shown["properties"]) == [f"hw_{rtype}"]
    assert admin_api.post(base, {"name": "x", "type": "string"}).status_int == 400  # no title
    assert admin_api.post(base, {"name": "x", "title": "x", "type": "text"}).status_int == 400
    assert admin_api.delete(f"{base}/{rtype}").status_int == 204
    assert api.get(base).json["properties"] == {}
    assert admin_api.delete(f"/v2/metadefs/namespaces/ns1/resource_types/{rtype}").status_int == 204
    assert api.get("/v2/metadefs/namespaces/ns1/resource_types").json["resource_type_associations"] == []
    assert admin_api.delete(f"/v2/metadefs/namespaces/ns1/resource_types/{rtype}").status_int == 404


def test_tags(admin_api, api):
    _ns(admin_api)
    base = "/v2/metadefs/namespaces/ns1/tags"
    names = ["sample-tag1", "sample-tag2", "sample-tag3"]
    made = admin_api.post(base, {"tags": [{"name": n} for n in names]})
    assert made.status_int == 201 and [t["name"] for t in made.json["tags"]] == names
    assert [t["name"] for t in api.get(base).json["tags"]] == names
    # A second list replaces the first unless appended.
    admin_api.post(base, {"tags": [{"name": "a"}]}, headers={"X-Openstack-Append": "true"})
    assert len(api.get(base).json["tags"]) == 4
    admin_api.post(base, {"tags": [{"name": "b"}]})
    assert [t["name"] for t in api.get(base).json["tags"]] == ["b"]
    assert admin_api.post(f"{base}/one").status_int == 201
    assert admin_api.post(f"{base}/one").status_int == 409
    assert api.get(f"{base}/one").json["name"] == "one"
    assert admin_api.put(f"{base}/one", {"name": "two"}).json["name"] == "two"
    assert admin_api.delete(f"{base}/two").status_int == 204
    assert "two" not in [t["name"] for t in api.get(base).json["tags"]]
    assert admin_api.delete(base).status_int == 204
    assert api.get(base).json["tags"] == []


def test_a_namespace_keeps_what_it_was_created_with_and_deletes_it(admin_api, api):
    made = _ns(admin_api, "full", properties={"p": {"title": "P", "type": "integer"}},
               objects=[{"name": "o", "properties": {}}], tags=[{"name": "t"}])
    assert made["properties"] == {"p": {"title": "P", "type": "integer"}}
    assert [o["name"] for o in made["objects"]] == ["o"] and made["tags"] == [{"name": "t"}]
    assert admin_api.delete("/v2/metadefs/namespaces/full").status_int == 204
    _ns(admin_api, "full")  # the name and its contents are free again
    assert api.get("/v2/metadefs/namespaces/full/objects").json["objects"] == []
