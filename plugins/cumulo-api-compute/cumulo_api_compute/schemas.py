"""JSON schemas of request bodies (jsonschema; the 400 names the failing field)."""

from __future__ import annotations

from typing import Any

from cumulo.contracts.compute import KEYPAIR_TYPES, SERVER_GROUP_POLICIES
from cumulo.wsgi.microversion import APIVersion

NAME = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^(?!\s)[\s\S]*(?<!\s)$|^\S$"}
LOOSE_NAME = {"type": "string", "minLength": 1, "maxLength": 255}
METADATA = {"type": "object", "patternProperties": {"^.{1,255}$": {"type": "string", "maxLength": 255}},
            "additionalProperties": False}
TAG = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"}
REF = {"type": ["string", "integer"], "minLength": 1}
INT_LIKE = {"type": ["integer", "string"], "pattern": r"^-?[0-9]+$"}
BOOL_LIKE = {"type": ["boolean", "string"]}
#: Nova's ``OS-DCF:diskConfig`` (create, update, rebuild, resize).
DISK_CONFIG = {"type": "string", "enum": ["AUTO", "MANUAL"]}


def _v(text: str) -> APIVersion:
    return APIVersion.parse(text)


def block_device_v2(ver: APIVersion) -> dict[str, Any]:
    """One ``block_device_mapping_v2`` item (Nova's keys; ``tag`` from 2.42, ``volume_type`` from 2.67)."""
    props: dict[str, Any] = {
        "source_type": {"type": "string", "enum": ["volume", "image", "snapshot", "blank"]},
        "destination_type": {"type": "string", "enum": ["local", "volume"]},
        "uuid": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[a-zA-Z0-9._-]*$"},
        "boot_index": {"type": ["integer", "string", "null"], "pattern": "^-?[0-9]+$"},
        "volume_size": {"type": ["integer", "string", "null"], "pattern": "^[0-9]+$", "minimum": 0},
        "device_name": {"type": ["string", "null"], "maxLength": 255, "pattern": "^[a-zA-Z0-9._/-]*$"},
        "delete_on_termination": BOOL_LIKE, "no_device": {},
        "guest_format": {"type": "string", "maxLength": 255},
        "disk_bus": {"type": "string", "maxLength": 255}, "device_type": {"type": "string", "maxLength": 255},
        # the legacy id keys Nova still takes in a v2 item
        "image_id": {"type": "string"}, "volume_id": {"type": "string"}, "snapshot_id": {"type": "string"},
    }
    if ver >= _v("2.42"):
        props["tag"] = TAG
    if ver >= _v("2.67"):
        props["volume_type"] = {"type": ["string", "null"], "minLength": 0, "maxLength": 255}
    return {"type": "object", "properties": props, "additionalProperties": False}


#: One legacy ``block_device_mapping`` item: a volume (or snapshot) at a device name.
BLOCK_DEVICE_V1 = {"type": "object", "properties": {
    "device_name": {"type": ["string", "null"], "maxLength": 255}, "volume_id": {"type": "string"},
    "snapshot_id": {"type": "string"}, "volume_size": {"type": ["integer", "string", "null"]},
    "delete_on_termination": BOOL_LIKE, "no_device": {}, "virtual_name": {"type": "string"}},
    "additionalProperties": False}


def server_create(ver: APIVersion) -> dict[str, Any]:
    network_item = {"type": "object", "properties": {
        "uuid": {"type": "string"}, "port": {"type": ["string", "null"]},
        "fixed_ip": {"type": "string"}, "tag": {"type": "string", "maxLength": 60}},
        "additionalProperties": False}
    if ver >= _v("2.37"):
        networks: dict[str, Any] = {"oneOf": [{"type": "array", "items": network_item},
                                              {"type": "string", "enum": ["auto", "none"]}]}
    else:
        networks = {"type": "array", "items": network_item}
    props: dict[str, Any] = {
        "name": LOOSE_NAME, "imageRef": {"type": ["string", "null"]}, "flavorRef": REF,
        "adminPass": {"type": "string"}, "metadata": METADATA, "networks": networks,
        "key_name": {"type": ["string", "null"], "maxLength": 255},
        "user_data": {"type": ["string", "null"], "maxLength": 65535},
        "security_groups": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}},
                                                       "required": ["name"]}},
        "availability_zone": {"type": ["string", "null"], "maxLength": 255},
        "min_count": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1},
        "max_count": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1},
        "return_reservation_id": BOOL_LIKE, "config_drive": BOOL_LIKE,
        "accessIPv4": {"type": "string"}, "accessIPv6": {"type": "string"},
        "OS-DCF:diskConfig": DISK_CONFIG,
        "block_device_mapping_v2": {"type": "array", "items": block_device_v2(ver)},
        "block_device_mapping": {"type": "array", "items": BLOCK_DEVICE_V1},
        "description": {"type": ["string", "null"], "maxLength": 255},
        "personality": {"type": "array"},
    }
    if ver >= _v("2.52"):
        props["tags"] = {"type": "array", "items": TAG, "maxItems": 50}
    if ver >= _v("2.63"):
        props["trusted_image_certificates"] = {"type": ["array", "null"]}
    if ver >= _v("2.74"):
        props["host"] = {"type": "string", "minLength": 1, "maxLength": 255}
        props["hypervisor_hostname"] = {"type": "string", "minLength": 1, "maxLength": 255}
    required = ["name", "flavorRef"] + (["networks"] if ver >= _v("2.37") else [])
    return {"type": "object", "properties": {
        "server": {"type": "object", "properties": props, "required": required,
                   "additionalProperties": ver < _v("2.75")},
        "os:scheduler_hints": {"type": "object"}, "OS-SCH-HNT:scheduler_hints": {"type": "object"}},
        "required": ["server"], "additionalProperties": False}


SERVER_UPDATE = {"type": "object", "properties": {"server": {"type": "object", "properties": {
    "name": LOOSE_NAME, "description": {"type": ["string", "null"], "maxLength": 255},
    "accessIPv4": {"type": "string"}, "accessIPv6": {"type": "string"},
    "OS-DCF:diskConfig": DISK_CONFIG, "hostname": {"type": "string", "maxLength": 63}},
    "additionalProperties": False}}, "required": ["server"], "additionalProperties": False}

REBOOT = {"type": "object", "properties": {"type": {"type": "string", "enum": ["SOFT", "HARD", "soft", "hard"]}},
          "required": ["type"], "additionalProperties": False}
LOCK = {"type": "object", "properties": {"locked_reason": {"type": "string", "maxLength": 255}},
        "additionalProperties": False}
RESCUE = {"type": "object", "properties": {"adminPass": {"type": "string"}, "rescue_image_ref": {"type": "string"}},
          "additionalProperties": False}
RESIZE = {"type": "object", "properties": {"flavorRef": REF, "OS-DCF:diskConfig": DISK_CONFIG},
          "required": ["flavorRef"], "additionalProperties": False}
CREATE_IMAGE = {"type": "object", "properties": {"name": LOOSE_NAME, "metadata": METADATA},
                "required": ["name"], "additionalProperties": False}
CONSOLE_OUTPUT = {"type": "object", "properties": {"length": {"type": ["integer", "string", "null"]}},
                  "additionalProperties": False}
CHANGE_PASSWORD = {"type": "object", "properties": {"adminPass": {"type": "string", "minLength": 1}},
                   "required": ["adminPass"], "additionalProperties": False}
SECURITY_GROUP_ACTION = {"type": "object", "properties": {"name": {"type": "string", "minLength": 1}},
                         "required": ["name"]}
UUID_LIKE = {"type": "string", "minLength": 1, "maxLength": 255}


def interface_create(ver: APIVersion) -> dict[str, Any]:
    """``POST /servers/{id}/os-interface``: a port, or a network with at most one fixed IP (``tag``: 2.49)."""
    props: dict[str, Any] = {
        "port_id": UUID_LIKE, "net_id": UUID_LIKE,
        "fixed_ips": {"type": "array", "minItems": 1, "maxItems": 1, "items": {
            "type": "object", "properties": {"ip_address": {"type": "string", "minLength": 1}},
            "required": ["ip_address"], "additionalProperties": False}}}
    if ver >= _v("2.49"):
        props["tag"] = TAG
    return {"type": "object", "properties": {"interfaceAttachment": {
        "type": "object", "properties": props, "additionalProperties": False}}, "additionalProperties": False}


DEVICE_NAME = {"type": ["string", "null"], "maxLength": 255, "pattern": "^[a-zA-Z0-9._/-]*$"}


def volume_attachment_create(ver: APIVersion) -> dict[str, Any]:
    """``POST /servers/{id}/os-volume_attachments`` (``tag`` from 2.49, ``delete_on_termination`` from 2.79)."""
    props: dict[str, Any] = {"volumeId": UUID_LIKE, "device": DEVICE_NAME}
    if ver >= _v("2.49"):
        props["tag"] = TAG
    if ver >= _v("2.79"):
        props["delete_on_termination"] = {"type": "boolean"}
    return {"type": "object", "properties": {"volumeAttachment": {
        "type": "object", "properties": props, "required": ["volumeId"], "additionalProperties": False}},
        "required": ["volumeAttachment"], "additionalProperties": False}


def volume_attachment_update(ver: APIVersion) -> dict[str, Any]:
    """``PUT /servers/{id}/os-volume_attachments/{volume_id}``: the volume (a swap when another), and from
    2.85 ``delete_on_termination`` (the other keys, when given, must match the attachment)."""
    props: dict[str, Any] = {"volumeId": UUID_LIKE}
    if ver >= _v("2.85"):
        props.update({"delete_on_termination": {"type": "boolean"}, "device": DEVICE_NAME, "id": UUID_LIKE,
                      "serverId": UUID_LIKE, "tag": TAG, "attachment_id": UUID_LIKE, "bdm_uuid": UUID_LIKE})
    return {"type": "object", "properties": {"volumeAttachment": {
        "type": "object", "properties": props, "required": ["volumeId"], "additionalProperties": False}},
        "required": ["volumeAttachment"], "additionalProperties": False}


ADD_FIXED_IP = {"type": "object", "properties": {"networkId": {"type": ["string", "integer"], "minLength": 1}},
                "required": ["networkId"], "additionalProperties": False}
REMOVE_FIXED_IP = {"type": "object", "properties": {"address": {"type": "string", "minLength": 1}},
                   "required": ["address"], "additionalProperties": False}
REMOTE_CONSOLE = {"type": "object", "properties": {"remote_console": {"type": "object", "properties": {
    "protocol": {"type": "string", "enum": ["vnc", "spice", "serial", "rdp", "mks"]},
    "type": {"type": "string", "enum": ["novnc", "xvpvnc", "spice-html5", "spice-direct", "serial",
                                        "rdp-html5", "webmks"]}},
    "required": ["protocol", "type"], "additionalProperties": False}}, "required": ["remote_console"]}


def rebuild(ver: APIVersion) -> dict[str, Any]:
    props: dict[str, Any] = {"imageRef": REF, "adminPass": {"type": "string"}, "name": LOOSE_NAME,
                             "metadata": METADATA, "preserve_ephemeral": {"type": "boolean"},
                             "OS-DCF:diskConfig": DISK_CONFIG, "accessIPv4": {"type": "string"},
                             "accessIPv6": {"type": "string"}, "personality": {"type": "array"}}
    if ver >= _v("2.19"):
        props["description"] = {"type": ["string", "null"], "maxLength": 255}
    if ver >= _v("2.54"):
        props["key_name"] = {"type": ["string", "null"]}
    if ver >= _v("2.57"):
        props["user_data"] = {"type": ["string", "null"]}
    if ver >= _v("2.63"):
        props["trusted_image_certificates"] = {"type": ["array", "null"]}
    return {"type": "object", "properties": props, "required": ["imageRef"], "additionalProperties": False}


METADATA_BODY = {"type": "object", "properties": {"metadata": METADATA}, "required": ["metadata"],
                 "additionalProperties": False}
META_ITEM = {"type": "object", "properties": {"meta": {**METADATA, "minProperties": 1, "maxProperties": 1}},
             "required": ["meta"], "additionalProperties": False}
TAGS_BODY = {"type": "object", "properties": {"tags": {"type": "array", "items": TAG, "maxItems": 50}},
             "required": ["tags"], "additionalProperties": False}


def flavor_create(ver: APIVersion) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^(?! )[^\x00-\x1f]*(?<! )$"},
        # As Nova: a number is an id too (Tempest creates flavors with integer ids).
        "id": {"type": ["string", "number", "null"], "minLength": 1, "maxLength": 255,
               "pattern": r"^(?! )[a-zA-Z0-9. _-]+(?<! )$"},
        "ram": {**INT_LIKE, "minimum": 1}, "vcpus": {**INT_LIKE, "minimum": 1}, "disk": {**INT_LIKE, "minimum": 0},
        "OS-FLV-EXT-DATA:ephemeral": {**INT_LIKE, "minimum": 0}, "swap": {**INT_LIKE, "minimum": 0},
        "rxtx_factor": {"type": ["number", "string"]}, "os-flavor-access:is_public": BOOL_LIKE,
    }
    if ver >= _v("2.55"):
        props["description"] = {"type": ["string", "null"], "maxLength": 65535}
    return {"type": "object", "properties": {"flavor": {"type": "object", "properties": props,
                                                        "required": ["name", "ram", "vcpus", "disk"],
                                                        "additionalProperties": False}},
            "required": ["flavor"], "additionalProperties": False}


FLAVOR_UPDATE = {"type": "object", "properties": {"flavor": {"type": "object", "properties": {
    "description": {"type": ["string", "null"], "maxLength": 65535}}, "required": ["description"],
    "additionalProperties": False}}, "required": ["flavor"], "additionalProperties": False}
FLAVOR_ACTION = {"type": "object", "oneOf": [
    {"properties": {"addTenantAccess": {"type": "object", "properties": {"tenant": {"type": "string"}},
                                        "required": ["tenant"]}}, "required": ["addTenantAccess"]},
    {"properties": {"removeTenantAccess": {"type": "object", "properties": {"tenant": {"type": "string"}},
                                           "required": ["tenant"]}}, "required": ["removeTenantAccess"]}]}
SPEC_VALUE = {"type": ["string", "number", "boolean"]}
EXTRA_SPECS = {"type": "object", "properties": {"extra_specs": {
    "type": "object", "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": SPEC_VALUE}, "additionalProperties": False}},
    "required": ["extra_specs"], "additionalProperties": False}
EXTRA_SPEC_ITEM = {"type": "object", "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": SPEC_VALUE},
                   "minProperties": 1, "maxProperties": 1, "additionalProperties": False}


def keypair_create(ver: APIVersion) -> dict[str, Any]:
    props: dict[str, Any] = {"name": {"type": "string", "minLength": 1, "maxLength": 255,
                                      "pattern": r"^[a-zA-Z0-9 _.@-]+$"},
                             "public_key": {"type": "string"}}
    if ver >= _v("2.2"):
        props["type"] = {"type": "string", "enum": list(KEYPAIR_TYPES)}
    if ver >= _v("2.10"):
        props["user_id"] = {"type": "string"}
    return {"type": "object", "properties": {"keypair": {"type": "object", "properties": props, "required": ["name"],
                                                         "additionalProperties": False}},
            "required": ["keypair"], "additionalProperties": False}


POLICIES = list(SERVER_GROUP_POLICIES)


def server_group_create(ver: APIVersion) -> dict[str, Any]:
    if ver >= _v("2.64"):
        props: dict[str, Any] = {"name": LOOSE_NAME, "policy": {"type": "string", "enum": POLICIES},
                                 "rules": {"type": "object", "properties": {
                                     "max_server_per_host": {"type": ["integer", "string"], "pattern": "^[1-9][0-9]*$",
                                                             "minimum": 1}}, "additionalProperties": False}}
        required = ["name", "policy"]
    else:
        allowed = POLICIES if ver >= _v("2.15") else POLICIES[:2]
        props = {"name": LOOSE_NAME, "policies": {"type": "array", "items": {"type": "string", "enum": allowed},
                                                  "minItems": 1, "maxItems": 1}}
        required = ["name", "policies"]
    return {"type": "object", "properties": {"server_group": {"type": "object", "properties": props,
                                                              "required": required, "additionalProperties": False}},
            "required": ["server_group"], "additionalProperties": False}


def quota_update(ver: APIVersion) -> dict[str, Any]:
    value = {"type": ["integer", "string"], "pattern": r"^-?[0-9]+$", "minimum": -1}
    names = ["instances", "cores", "ram", "key_pairs", "server_groups", "server_group_members", "metadata_items"]
    if ver < _v("2.57"):
        names += ["injected_files", "injected_file_content_bytes", "injected_file_path_bytes"]
    if ver < _v("2.36"):
        names += ["fixed_ips", "floating_ips", "security_groups", "security_group_rules", "networks"]
    props: dict[str, Any] = {n: value for n in names}
    props["force"] = BOOL_LIKE
    return {"type": "object", "properties": {"quota_set": {"type": "object", "properties": props,
                                                           "additionalProperties": False}},
            "required": ["quota_set"], "additionalProperties": False}


SERVICE_UPDATE = {"type": "object", "properties": {
    "status": {"type": "string", "enum": ["enabled", "disabled"]},
    "disabled_reason": {"type": "string", "minLength": 1, "maxLength": 255}, "forced_down": {"type": "boolean"}},
    "additionalProperties": False}
SERVICE_LEGACY = {"type": "object", "properties": {
    "host": {"type": "string"}, "binary": {"type": "string"}, "disabled_reason": {"type": "string"},
    "forced_down": BOOL_LIKE}, "required": ["host", "binary"]}
AGGREGATE_CREATE = {"type": "object", "properties": {"aggregate": {"type": "object", "properties": {
    "name": LOOSE_NAME, "availability_zone": {"type": ["string", "null"], "maxLength": 255}},
    "required": ["name"], "additionalProperties": False}}, "required": ["aggregate"]}
AGGREGATE_UPDATE = {"type": "object", "properties": {"aggregate": {"type": "object", "properties": {
    "name": LOOSE_NAME, "availability_zone": {"type": ["string", "null"], "maxLength": 255}},
    "additionalProperties": False}}, "required": ["aggregate"]}
AGGREGATE_ACTION = {"type": "object", "oneOf": [
    {"properties": {"add_host": {"type": "object", "properties": {"host": {"type": "string"}},
                                 "required": ["host"]}}, "required": ["add_host"]},
    {"properties": {"remove_host": {"type": "object", "properties": {"host": {"type": "string"}},
                                    "required": ["host"]}}, "required": ["remove_host"]},
    {"properties": {"set_metadata": {"type": "object", "properties": {"metadata": {"type": "object"}},
                                     "required": ["metadata"]}}, "required": ["set_metadata"]}]}
