"""The JSON schemas the Image API v2 publishes at ``/v2/schemas/...`` (what clients may read)."""

from __future__ import annotations

from typing import Any

from cumulo.contracts.image import CONTAINER_FORMATS, DISK_FORMATS, MEMBER_STATUSES, STATUSES, VISIBILITIES

_STR_OR_NULL = {"type": ["null", "string"], "maxLength": 255}


def image_schema() -> dict[str, Any]:
    return {
        "name": "image",
        "additionalProperties": {"type": "string"},
        "properties": {
            "id": {"type": "string", "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}"
                                                "-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$",
                   "description": "An identifier for the image"},
            "name": {**_STR_OR_NULL, "description": "Descriptive name for the image"},
            "status": {"type": "string", "readOnly": True, "enum": list(STATUSES),
                       "description": "Status of the image"},
            "visibility": {"type": "string", "enum": list(VISIBILITIES), "description": "Scope of image accessibility"},
            "protected": {"type": "boolean", "description": "If true, image will not be deletable."},
            "os_hidden": {"type": "boolean", "description": "If true, image will not appear in default image list."},
            "checksum": {**_STR_OR_NULL, "readOnly": True, "description": "md5 hash of image contents."},
            "os_hash_algo": {**_STR_OR_NULL, "readOnly": True, "description": "Algorithm of os_hash_value"},
            "os_hash_value": {"type": ["null", "string"], "readOnly": True, "maxLength": 128,
                              "description": "Hexdigest of the image contents using os_hash_algo"},
            "owner": {**_STR_OR_NULL, "description": "Owner of the image"},
            "size": {"type": ["null", "integer"], "readOnly": True, "description": "Size of image file in bytes"},
            "virtual_size": {"type": ["null", "integer"], "readOnly": True, "description": "Virtual size of image"},
            "container_format": {"type": ["null", "string"], "enum": [None, *CONTAINER_FORMATS],
                                 "description": "Format of the container"},
            "disk_format": {"type": ["null", "string"], "enum": [None, *DISK_FORMATS],
                            "description": "Format of the disk"},
            "created_at": {"type": "string", "readOnly": True, "description": "Date and time of image registration"},
            "updated_at": {"type": "string", "readOnly": True, "description": "Date and time of the last modification"},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 255},
                     "description": "List of strings related to the image"},
            "direct_url": {"type": "string", "readOnly": True, "description": "URL to access the image file"},
            "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
            "min_disk": {"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
            "self": {"type": "string", "readOnly": True, "description": "An image self url"},
            "file": {"type": "string", "readOnly": True, "description": "An image file url"},
            "stores": {"type": "string", "readOnly": True, "description": "Store in which image data resides"},
            "schema": {"type": "string", "readOnly": True, "description": "An image schema url"},
            "locations": {"type": "array", "items": {"type": "object", "properties": {
                "url": {"type": "string", "maxLength": 255}, "metadata": {"type": "object"}},
                "required": ["url", "metadata"]}, "description": "A set of URLs to access the image file"},
        },
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def images_schema() -> dict[str, Any]:
    return {
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": image_schema()},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                  {"rel": "describedby", "href": "{schema}"}],
    }


def member_schema() -> dict[str, Any]:
    return {
        "name": "member",
        "properties": {
            "created_at": {"type": "string", "description": "Date and time of image member creation"},
            "image_id": {"type": "string", "description": "An identifier for the image"},
            "member_id": {"type": "string", "description": "An identifier for the image member (tenantId)"},
            "schema": {"type": "string", "readOnly": True},
            "status": {"type": "string", "enum": list(MEMBER_STATUSES), "description": "The status of this image member"},
            "updated_at": {"type": "string", "description": "Date and time of last modification of image member"},
        },
    }


def members_schema() -> dict[str, Any]:
    return {
        "name": "members",
        "properties": {"members": {"type": "array", "items": member_schema()}, "schema": {"type": "string"}},
        "links": [{"rel": "self", "href": "{self}"}, {"rel": "describedby", "href": "{schema}"}],
    }


CREATE_MEMBER = {"type": "object", "properties": {"member": {"type": "string", "minLength": 1, "maxLength": 255}},
                 "required": ["member"], "additionalProperties": False}
# Clients echo the member id back ("member"); only "status" changes.
UPDATE_MEMBER = {"type": "object", "properties": {"status": {"type": "string", "enum": list(MEMBER_STATUSES)},
                                                  "member": {"type": "string", "maxLength": 255}},
                 "required": ["status"], "additionalProperties": False}
ADD_LOCATION = {"type": "object", "properties": {
    "url": {"type": "string", "minLength": 1, "maxLength": 2048},
    "validation_data": {"type": "object", "properties": {
        "checksum": {"type": "string", "maxLength": 32},
        "os_hash_algo": {"type": "string", "maxLength": 64},
        "os_hash_value": {"type": "string", "maxLength": 128}}, "additionalProperties": False}},
    "required": ["url"], "additionalProperties": False}
