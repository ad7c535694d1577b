"""Tags on instances (server metadata), volumes (volume metadata) and images (``ec2_tag_<Key>`` properties).

The resource a tag names is known by its id's prefix (``i-``, ``vol-``, ``ami-``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cumulo import exception
from cumulo_api_ec2 import errors, ids
from cumulo_api_ec2.actions.base import ActionTable, Call, lookup, ok
from cumulo_api_ec2.actions.images import TAG_PREFIX, get_image, image_tags
from cumulo_api_ec2.params import apply_filters

ACTIONS = ActionTable()

#: id prefix -> (kind, EC2 resourceType).
KINDS: dict[str, tuple[str, str]] = {"i": ("instance", "instance"), "vol": ("volume", "volume"),
                                     "ami": ("image", "image")}

FILTERS = {"resource-id": lambda t: t["resourceId"], "resource-type": lambda t: t["resourceType"],
           "key": lambda t: t["key"], "value": lambda t: t["value"]}


def _kind(resource_id: str) -> str:
    prefix = resource_id.split("-", 1)[0]
    if prefix not in KINDS:
        raise errors.Ec2Error("InvalidID", f"The ID '{resource_id}' is not valid (tags are kept on instances, "
                                           f"volumes and images)")
    return KINDS[prefix][0]


def _tags(params_tags: list[Any], need_value: bool) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for t in params_tags:
        key = t.required("Key")
        if key.startswith("aws:"):
            raise errors.invalid("Tag.Key", key, "the aws: prefix is reserved")
        if len(key) > 127:
            raise errors.invalid("Tag.Key", key, "longer than 127 characters")
        value = t.get("Value")
        out[key] = (value or "") if need_value else value
    return out


def _volume_call(call: Call, name: str) -> Any:
    fn = getattr(call.hub.volume, name, None)  # volume metadata: not in the volume contract (see README)
    if fn is None:
        raise errors.unsupported("Tagging volumes")
    return fn


def _set(call: Call, resource_id: str, tags: dict[str, str]) -> None:
    kind = _kind(resource_id)
    uuid = ids.from_ec2(kind, resource_id)
    with lookup(kind, resource_id, quota_code="TagLimitExceeded"):
        if kind == "instance":
            call.hub.compute.update_metadata(call.ctx, uuid, tags)
        elif kind == "volume":
            call.hub.volume.get_volume(call.ctx, uuid)
            _volume_call(call, "set_metadata")(call.ctx, uuid, tags, replace=False)
        else:
            get_image(call, resource_id)
            call.hub.image.update(call.ctx, uuid, {TAG_PREFIX + k: v for k, v in tags.items()})


def _current(call: Call, kind: str, uuid: str, resource_id: str) -> dict[str, str]:
    with lookup(kind, resource_id):
        if kind == "instance":
            return dict(call.hub.compute.get_metadata(call.ctx, uuid))
        if kind == "volume":
            return dict(call.hub.volume.get_volume(call.ctx, uuid).metadata)
        return image_tags(get_image(call, resource_id))


def _delete(call: Call, resource_id: str, tags: dict[str, str | None]) -> None:
    kind = _kind(resource_id)
    uuid = ids.from_ec2(kind, resource_id)
    current = _current(call, kind, uuid, resource_id)
    doomed = [k for k, v in (tags.items() if tags else ((k, None) for k in current))
              if k in current and (v is None or current[k] == v)]
    with lookup(kind, resource_id):
        for key in doomed:
            if kind == "instance":
                call.hub.compute.delete_metadata(call.ctx, uuid, key)
            elif kind == "volume":
                _volume_call(call, "delete_metadata")(call.ctx, uuid, key)
        if kind == "image" and doomed:
            call.hub.image.update(call.ctx, uuid, {}, remove=[TAG_PREFIX + k for k in doomed])


@ACTIONS.register("CreateTags")
def create_tags(call: Call) -> dict[str, Any]:
    resources = call.params.list("ResourceId")
    if not resources:
        raise errors.missing("ResourceId")
    tags = _tags(call.params.structs("Tag"), need_value=True)
    if not tags:
        raise errors.missing("Tag")
    for r in resources:
        _kind(r)
        ids.from_ec2(_kind(r), r)
    for r in resources:
        _set(call, r, {k: v or "" for k, v in tags.items()})
    return ok()


@ACTIONS.register("DeleteTags")
def delete_tags(call: Call) -> dict[str, Any]:
    resources = call.params.list("ResourceId")
    if not resources:
        raise errors.missing("ResourceId")
    tags = _tags(call.params.structs("Tag"), need_value=False)
    for r in resources:
        ids.from_ec2(_kind(r), r)
    for r in resources:
        _delete(call, r, tags)
    return ok()


def _all_tags(call: Call) -> Iterator[dict[str, Any]]:
    for server in call.hub.compute.list_servers(call.ctx):
        rid = ids.to_ec2("instance", server["uuid"])
        for k, v in sorted((server.get("metadata") or {}).items()):
            yield {"resourceId": rid, "resourceType": "instance", "key": k, "value": v}
    try:
        volumes = call.hub.volume.list_volumes(call.ctx)
    except (exception.CumuloError, AttributeError):
        volumes = []
    for vol in volumes:
        for k, v in sorted(vol.metadata.items()):
            yield {"resourceId": ids.to_ec2("volume", vol.id), "resourceType": "volume", "key": k, "value": v}
    for image in call.hub.image.list(call.ctx, {"visibility": "all"}, limit=None):
        if image.get("owner") != call.project_id:
            continue
        for k, v in sorted(image_tags(image).items()):
            yield {"resourceId": ids.to_ec2("image", image["id"]), "resourceType": "image", "key": k, "value": v}


@ACTIONS.register("DescribeTags")
def describe_tags(call: Call) -> dict[str, Any]:
    items = apply_filters(list(_all_tags(call)), call.params, FILTERS)
    max_results = call.params.int("MaxResults", None, minimum=5, maximum=1000)
    out: dict[str, Any] = {}
    token = call.params.int("NextToken", 0, minimum=0) or 0
    items = items[token:]
    if max_results is not None and len(items) > max_results:
        items = items[:max_results]
        out["nextToken"] = str(token + max_results)
    out["tagSet"] = items
    return out
