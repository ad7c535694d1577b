"""JSON schemas of the Identity v3 request bodies, one per resource (the controllers validate against them)."""

from __future__ import annotations

from typing import Any

_NAME = {"type": "string", "minLength": 1, "maxLength": 255}
# Keystone's domain and project names: at most 64 characters, not only blanks.
_RESOURCE_NAME = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"\S"}
_ID = {"type": "string", "minLength": 1, "maxLength": 64}
_OPT_ID = {"type": ["string", "null"], "maxLength": 64}
_DESC = {"type": ["string", "null"], "maxLength": 65535}
_BOOL = {"type": "boolean"}
MAX_TAGS = 80
TAG = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^,/]*$"}
_TAGS = {"type": "array", "items": TAG, "maxItems": MAX_TAGS}
_OPTIONS = {"type": "object"}


def entity(key: str, props: dict[str, Any], required: list[str] | None = None,
           additional: bool = True) -> dict[str, Any]:
    """Keystone's body shape ``{key: {...props}}``: the ``key`` object is required, ``required`` are its fields."""
    inner: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": additional}
    if required:
        inner["required"] = required
    return {"type": "object", "properties": {key: inner}, "required": [key]}


DOMAIN = {"name": _RESOURCE_NAME, "description": _DESC, "enabled": _BOOL, "tags": _TAGS, "options": _OPTIONS,
          "explicit_domain_id": _ID}
PROJECT = {"name": _RESOURCE_NAME, "description": _DESC, "enabled": _BOOL, "domain_id": _OPT_ID, "parent_id": _OPT_ID,
           "is_domain": _BOOL, "tags": _TAGS, "options": _OPTIONS}
USER = {"name": _NAME, "description": _DESC, "enabled": _BOOL, "domain_id": _OPT_ID,
        "email": {"type": ["string", "null"], "maxLength": 255},
        "default_project_id": _OPT_ID, "password": {"type": ["string", "null"], "maxLength": 4096},
        "options": _OPTIONS, "federated": {"type": "array"}}
GROUP = {"name": _NAME, "description": _DESC, "domain_id": _OPT_ID}
ROLE = {"name": _NAME, "description": _DESC, "domain_id": _OPT_ID, "options": _OPTIONS}
SERVICE = {"type": _NAME, "name": {"type": ["string", "null"], "maxLength": 255}, "description": _DESC,
           "enabled": _BOOL}
ENDPOINT = {"service_id": _ID, "interface": {"type": "string", "enum": ["public", "internal", "admin"]},
            "url": {"type": "string", "minLength": 1, "maxLength": 2048}, "region_id": _OPT_ID,
            "region": _OPT_ID, "enabled": _BOOL}
REGION = {"id": {"type": "string", "minLength": 1, "maxLength": 255}, "description": _DESC,
          "parent_region_id": {"type": ["string", "null"], "maxLength": 255}}
CREDENTIAL = {"type": _NAME, "blob": {"type": "string", "minLength": 1, "maxLength": 65535},
              "user_id": _ID, "project_id": _OPT_ID}
APP_CRED = {"name": _NAME, "description": _DESC,
            "secret": {"type": ["string", "null"], "minLength": 1, "maxLength": 4096},
            "expires_at": {"type": ["string", "null"], "minLength": 1, "maxLength": 64}, "unrestricted": _BOOL,
            "roles": {"type": "array", "items": {"type": "object", "properties": {"id": _ID, "name": _NAME}}},
            "access_rules": {"type": "array", "items": {"type": "object", "properties": {
                "id": _ID, "service": {"type": "string", "minLength": 1, "maxLength": 64},
                "path": {"type": "string", "minLength": 1, "maxLength": 128},
                "method": {"type": "string", "enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]}},
                "additionalProperties": False}}}
PASSWORD_CHANGE = entity("user", {"password": {"type": "string", "minLength": 1, "maxLength": 4096},
                                  "original_password": {"type": "string", "maxLength": 4096}},
                         ["password", "original_password"])
EC2_CREATE = {"type": "object", "properties": {"tenant_id": _ID, "project_id": _ID}}
AUTH = {"type": "object", "properties": {"auth": {"type": "object", "required": ["identity"]}}, "required": ["auth"]}
TAGS_BODY = {"type": "object", "properties": {"tags": _TAGS}, "required": ["tags"]}
ENDPOINT_GROUP = {"name": _NAME, "description": _DESC, "filters": {"type": "object"}}
DOMAIN_CONFIG = {"type": "object", "properties": {"config": {"type": "object"}}, "required": ["config"]}
POLICY = {"blob": {"type": "string", "minLength": 1, "maxLength": 65535}, "type": _NAME}
CONSUMER = {"description": _DESC}
TRUST = {"trustor_user_id": _ID, "trustee_user_id": _ID, "impersonation": _BOOL, "project_id": _OPT_ID,
         "roles": {"type": "array", "items": {"type": "object", "properties": {"id": _ID, "name": _NAME},
                                              "minProperties": 1}},
         "expires_at": {"type": ["string", "null"], "minLength": 1, "maxLength": 64},
         "remaining_uses": {"type": ["integer", "null"], "minimum": 1},
         "allow_redelegation": _BOOL}
