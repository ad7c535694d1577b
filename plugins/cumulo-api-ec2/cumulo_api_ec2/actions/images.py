"""Images (AMIs) on ``hub.image``: describe, attributes, deregister, and CreateImage from an instance.

An image's EC2 tags are its properties named ``ec2_tag_<Key>`` (:data:`TAG_PREFIX`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cumulo import exception
from cumulo_api_ec2 import errors, ids
from cumulo_api_ec2.actions.base import ActionTable, Call, lookup
from cumulo_api_ec2.params import apply_filters, tag_set
from cumulo_api_ec2.render import iso

ACTIONS = ActionTable()

#: The prefix of the image properties that hold EC2 tags.
TAG_PREFIX = "ec2_tag_"

#: Glance status -> EC2 image state.
STATES: dict[str, str] = {"active": "available", "queued": "pending", "saving": "pending", "uploading": "pending",
                          "importing": "pending", "killed": "failed", "deactivated": "disabled",
                          "deleted": "deregistered"}

FILTERS = {
    "image-id": lambda i: i["imageId"], "name": lambda i: i["name"], "state": lambda i: i["imageState"],
    "owner-id": lambda i: i["imageOwnerId"], "is-public": lambda i: i["isPublic"],
    "image-type": lambda i: i["imageType"], "architecture": lambda i: i["architecture"],
    "root-device-type": lambda i: i["rootDeviceType"], "virtualization-type": lambda i: i["virtualizationType"],
    "description": lambda i: i.get("description") or "",
}


def image_tags(image: Mapping[str, Any]) -> dict[str, str]:
    props = image.get("properties") or {}
    return {k[len(TAG_PREFIX):]: str(v) for k, v in props.items() if k.startswith(TAG_PREFIX)}


def image_item(image: Mapping[str, Any]) -> dict[str, Any]:
    """The ``imagesSet`` item of a Glance-shaped image."""
    props = image.get("properties") or {}
    volume_backed = bool(props.get("block_device_mapping"))  # a snapshot of a volume-backed server
    return {
        "imageId": ids.to_ec2("image", image["id"]),
        "imageLocation": f"{image.get('owner') or ''}/{image.get('name') or ''}",
        "imageState": STATES.get(str(image.get("status")), "error"),
        "imageOwnerId": image.get("owner") or "",
        "creationDate": iso(image.get("created_at")),
        "isPublic": image.get("visibility") == "public",
        "architecture": props.get("architecture") or "x86_64",
        "imageType": "machine",
        "name": image.get("name") or "",
        "description": props.get("description"),
        "rootDeviceType": "ebs" if volume_backed else "instance-store",
        "rootDeviceName": props.get("root_device_name") or "/dev/vda",
        "blockDeviceMapping": [],
        "virtualizationType": "hvm",
        "hypervisor": "xen",
        "platformDetails": "Linux/UNIX",
        "tagSet": tag_set(image_tags(image)),
    }


def get_image(call: Call, ec2_id: str) -> dict[str, Any]:
    """The Glance-shaped image of an ``ami-`` id. :raises errors.Ec2Error: malformed or unknown."""
    image_id = ids.from_ec2("image", ec2_id)
    with lookup("image", ec2_id):
        image: dict[str, Any] = call.hub.image.get(call.ctx, image_id)
    return image


@ACTIONS.register("DescribeImages")
def describe_images(call: Call) -> dict[str, Any]:
    wanted = call.params.list("ImageId")
    owners = call.params.list("Owner")
    if wanted:
        found = [get_image(call, w) for w in wanted]
    else:
        found = call.hub.image.list(call.ctx, {"visibility": "all"}, limit=None)
    if owners:
        allowed = {call.project_id if o == "self" else o for o in owners if o not in ("all", "amazon")}
        if "all" not in owners:
            found = [i for i in found if i.get("owner") in allowed]
    items = [image_item(i) for i in found if i.get("status") != "deleted"]
    return {"imagesSet": apply_filters(items, call.params, FILTERS)}


@ACTIONS.register("DescribeImageAttribute")
def describe_image_attribute(call: Call) -> dict[str, Any]:
    ec2_id = call.params.required("ImageId")
    attribute = call.params.required("Attribute")
    image = get_image(call, ec2_id)
    item = image_item(image)
    out: dict[str, Any] = {"imageId": item["imageId"]}
    if attribute == "description":
        out["description"] = {"value": item["description"]} if item["description"] else {}
    elif attribute == "launchPermission":
        out["launchPermission"] = [{"group": "all"}] if item["isPublic"] else []
    elif attribute == "blockDeviceMapping":
        out["blockDeviceMapping"] = item["blockDeviceMapping"]
    elif attribute == "productCodes":
        out["productCodes"] = []
    elif attribute in ("kernel", "ramdisk"):
        prop = (image.get("properties") or {}).get(f"{attribute}_id")
        out[attribute] = {"value": ids.to_ec2("image", str(prop))} if prop else {}
    elif attribute in ("sriovNetSupport", "bootMode", "tpmSupport", "uefiData", "lastLaunchedTime",
                       "imdsSupport", "deregistrationProtection"):
        out[attribute] = {}
    else:
        raise errors.invalid("Attribute", attribute, "not an image attribute")
    return out


@ACTIONS.register("DeregisterImage")
def deregister_image(call: Call) -> dict[str, Any]:
    ec2_id = call.params.required("ImageId")
    image = get_image(call, ec2_id)
    if image.get("owner") != call.project_id and not call.ctx.is_admin:
        raise errors.Ec2Error("UnauthorizedOperation", f"You are not the owner of image {ec2_id}.", 403)
    with lookup("image", ec2_id, state_code="InvalidAMIID.Unavailable"):
        call.hub.image.delete(call.ctx, image["id"])
    return {"return": True}


@ACTIONS.register("CreateImage")
def create_image(call: Call) -> dict[str, Any]:
    from cumulo_api_ec2.actions.instances import get_server

    ec2_id = call.params.required("InstanceId")
    name = call.params.required("Name")
    server = get_server(call, ec2_id)
    metadata = {}
    if call.params.get("Description"):
        metadata["description"] = str(call.params.get("Description"))
    with lookup("instance", ec2_id, state_code="IncorrectInstanceState"):
        try:
            image_id = call.hub.compute.create_image(call.ctx, server["uuid"], name, metadata or None)
        except exception.Invalid as err:
            raise errors.invalid("Name", name, err.message) from None
    return {"imageId": ids.to_ec2("image", image_id)}
