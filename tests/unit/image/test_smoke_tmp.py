def test_smoke(api):
    r = api.get("/")
    print(r.status, r.text[:300])
    r = api.post("/v2/images", {"name": "cirros", "disk_format": "qcow2", "container_format": "bare", "foo": "bar", "tags": ["a"]})
    print(r.status, r.text)
    iid = r.json["id"]
    r = api.put(f"/v2/images/{iid}/file", b"x" * 100000)
    print(r.status, r.text)
    r = api.get(f"/v2/images/{iid}")
    print(r.status, r.text)
    r = api.get(f"/v2/images/{iid}/file")
    print(r.status, r.headers, len(r.body))
    r = api.get(f"/v2/images?limit=1")
    print(r.status, r.text)
    r = api.patch(f"/v2/images/{iid}", [{"op": "replace", "path": "/name", "value": "n2"}, {"op": "add", "path": "/p2", "value": "v"}, {"op": "remove", "path": "/foo"}])
    print(r.status, r.text)
    r = api.get(f"/v2/images/nope")
    print(r.status, r.text)
    assert 0
