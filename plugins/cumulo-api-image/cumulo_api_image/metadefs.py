"""The metadata definitions API (``/v2/metadefs/...``) and its schemas (``/v2/schemas/metadefs/...``).

Thin, as the rest of the Image API: ``hub.image.metadefs`` decides (visibility, policies,
conflicts, protection); this module parses the requests and shapes the answers as Glance does
(collections with ``schema`` and ``first`` links, 201 for creations, 204 for deletions).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from cumulo import exception
from cumulo.wsgi import Request, Router

_STRING = {"type": "string"}
_TIMES = {"created_at": {"type": "string", "readOnly": True, "format": "date-time",
                         "description": "Date and time of the creation (READ-ONLY)"},
          "updated_at": {"type": "string", "readOnly": True, "format": "date-time",
                         "description": "Date and time of the last modification (READ-ONLY)"}}
_PROPERTY_DEFINITION: dict[str, Any] = {
    "type": "object",
    "required": ["title", "type"],
    "properties": {
        "name": {"type": "string", "maxLength": 255},
        "title": _STRING, "description": _STRING, "operators": {"type": "array", "items": _STRING},
        "type": {"type": "string", "enum": ["array", "boolean", "integer", "number", "object", "string", None]},
        "required": {"type": "array", "items": _STRING}, "default": {}, "readonly": {"type": "boolean"},
        "minimum": {"type": "number"}, "maximum": {"type": "number"}, "maxLength": {"type": "integer"},
        "minLength": {"type": "integer"}, "pattern": {"type": "string", "format": "regex"},
        "enum": {"type": "array"}, "items": {"type": "object"}, "maxItems": {"type": "integer"},
        "minItems": {"type": "integer"}, "uniqueItems": {"type": "boolean"},
        "additionalItems": {"type": "boolean"},
    },
}


def _collection(name: str, item: dict[str, Any], key: str) -> dict[str, Any]:
    return {"name": name, "properties": {key: {"type": "array", "items": item},
                                         "first": _STRING, "next": _STRING, "schema": _STRING},
            "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                      {"rel": "describedby", "href": "{schema}"}]}


def resource_type_association_schema() -> dict[str, Any]:
    return {"name": "resource_type_association", "additionalProperties": False, "required": ["name"],
            "properties": {"name": {"type": "string", "maxLength": 80,
                                    "description": "Resource type names should be aligned with Heat resource types "
                                                   "whenever possible"},
                           "prefix": {"type": "string", "maxLength": 80,
                                      "description": "Prefix the namespace's properties take on this resource type"},
                           "properties_target": {"type": "string", "maxLength": 80,
                                                 "description": "Which part of the resource the properties apply "
                                                                "to"},
                           **_TIMES}}


def property_schema() -> dict[str, Any]:
    return {"name": "property", **_PROPERTY_DEFINITION, "required": ["name", "title", "type"],
            "additionalProperties": False}


def object_schema() -> dict[str, Any]:
    return {"name": "object", "additionalProperties": False, "required": ["name"],
            "properties": {"name": {"type": "string", "maxLength": 80}, "description": _STRING,
                           "required": {"type": "array", "items": _STRING},
                           "properties": {"type": "object", "additionalProperties": _PROPERTY_DEFINITION},
                           "schema": {"type": "string", "readOnly": True},
                           "self": {"type": "string", "readOnly": True}, **_TIMES}}


def tag_schema() -> dict[str, Any]:
    return {"name": "tag", "additionalProperties": False, "required": ["name"],
            "properties": {"name": {"type": "string", "maxLength": 255}, **_TIMES}}


def namespace_schema() -> dict[str, Any]:
    return {"name": "namespace", "additionalProperties": False, "required": ["namespace"],
            "properties": {
                "namespace": {"type": "string", "maxLength": 80,
                              "description": "The unique namespace text."},
                "display_name": {"type": "string", "maxLength": 80,
                                 "description": "The user friendly name for the namespace."},
                "description": {"type": "string", "maxLength": 500,
                                "description": "Provides a user friendly description of the namespace."},
                "visibility": {"type": "string", "enum": ["public", "private"],
                               "description": "Scope of namespace accessibility."},
                "protected": {"type": "boolean", "description": "If true, namespace will not be deletable."},
                "owner": {"type": "string", "maxLength": 255, "description": "Owner of the namespace."},
                "resource_type_associations": {"type": "array", "items": resource_type_association_schema()},
                "properties": {"type": "object", "additionalProperties": _PROPERTY_DEFINITION},
                "objects": {"type": "array", "items": object_schema()},
                "tags": {"type": "array", "items": tag_schema()},
                "schema": {"type": "string", "readOnly": True},
                "self": {"type": "string", "readOnly": True},
                **_TIMES}}


SCHEMAS = {
    "namespace": namespace_schema,
    "namespaces": lambda: _collection("namespaces", namespace_schema(), "namespaces"),
    "object": object_schema,
    "objects": lambda: _collection("objects", object_schema(), "objects"),
    "property": property_schema,
    "properties": lambda: {"name": "properties", "properties": {
        "properties": {"type": "object", "additionalProperties": _PROPERTY_DEFINITION},
        "schema": _STRING}},
    "resource_type": resource_type_association_schema,
    "resource_types": lambda: _collection("resource_type_associations", resource_type_association_schema(),
                                          "resource_type_associations"),
    "tag": tag_schema,
    "tags": lambda: _collection("tags", tag_schema(), "tags"),
}


def _body(req: Request) -> dict[str, Any]:
    body = req.json_body_or_fault()
    if not isinstance(body, dict):
        raise exception.Invalid(reason="The request body must be a JSON object.")
    return body


class MetadefsAPI:
    """Handlers of ``/v2/metadefs``, calling ``hub.image.metadefs``."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub

    @property
    def md(self) -> Any:
        return self.hub.image.metadefs

    def add_routes(self, r: Router) -> None:
        ns = "/v2/metadefs/namespaces/{namespace}"
        r.add("GET", "/v2/schemas/metadefs/{kind}", self.schema)
        r.add("GET", "/v2/metadefs/namespaces", self.list_namespaces)
        r.add("POST", "/v2/metadefs/namespaces", self.create_namespace)
        r.add("GET", ns, self.show_namespace)
        r.add("PUT", ns, self.update_namespace)
        r.add("DELETE", ns, self.delete_namespace)
        r.add("GET", f"{ns}/objects", self.list_objects)
        r.add("POST", f"{ns}/objects", self.create_object)
        r.add("DELETE", f"{ns}/objects", self.delete_objects)
        r.add("GET", f"{ns}/objects/{{name}}", self.show_object)
        r.add("PUT", f"{ns}/objects/{{name}}", self.update_object)
        r.add("DELETE", f"{ns}/objects/{{name}}", self.delete_object)
        r.add("GET", f"{ns}/properties", self.list_properties)
        r.add("POST", f"{ns}/properties", self.create_property)
        r.add("DELETE", f"{ns}/properties", self.delete_properties)
        r.add("GET", f"{ns}/properties/{{name}}", self.show_property)
        r.add("PUT", f"{ns}/properties/{{name}}", self.update_property)
        r.add("DELETE", f"{ns}/properties/{{name}}", self.delete_property)
        r.add("GET", f"{ns}/tags", self.list_tags)
        r.add("POST", f"{ns}/tags", self.create_tags)
        r.add("DELETE", f"{ns}/tags", self.delete_tags)
        r.add("GET", f"{ns}/tags/{{name}}", self.show_tag)
        r.add("POST", f"{ns}/tags/{{name}}", self.create_tag)
        r.add("PUT", f"{ns}/tags/{{name}}", self.update_tag)
        r.add("DELETE", f"{ns}/tags/{{name}}", self.delete_tag)
        r.add("GET", "/v2/metadefs/resource_types", self.list_resource_types)
        r.add("GET", f"{ns}/resource_types", self.list_associations)
        r.add("POST", f"{ns}/resource_types", self.create_association)
        r.add("DELETE", f"{ns}/resource_types/{{name}}", self.delete_association)

    @staticmethod
    def schema(req: Request, kind: str) -> dict[str, Any]:
        make = SCHEMAS.get(kind)
        if make is None:
            raise exception.NotFound(resource="Schema", id=f"metadefs/{kind}")
        return make()

    # -- namespaces
    def list_namespaces(self, req: Request) -> dict[str, Any]:
        limit = req.int_param("limit", None, minimum=0)
        types = [t.strip() for t in (req.GET.get("resource_types") or "").split(",") if t.strip()]
        found = self.md.list_namespaces(req.context, visibility=req.GET.get("visibility") or None,
                                        resource_types=types or None, limit=limit,
                                        marker=req.GET.get("marker") or None,
                                        sort_key=req.GET.get("sort_key") or "created_at",
                                        sort_dir=(req.GET.get("sort_dir") or "desc").lower())
        body: dict[str, Any] = {"namespaces": found, "first": "/v2/metadefs/namespaces",
                                "schema": "/v2/schemas/metadefs/namespaces"}
        if found and limit is not None and len(found) == limit:
            params = [(k, v) for k, v in req.GET.items() if k != "marker"] + [("marker", found[-1]["namespace"])]
            body["next"] = "/v2/metadefs/namespaces?" + urlencode(params)
        return body

    def create_namespace(self, req: Request) -> tuple[int, dict[str, Any]]:
        return 201, self.md.create_namespace(req.context, _body(req))

    def show_namespace(self, req: Request, namespace: str) -> dict[str, Any]:
        return self.md.get_namespace(req.context, namespace, resource_type=req.GET.get("resource_type") or None)

    def update_namespace(self, req: Request, namespace: str) -> dict[str, Any]:
        return self.md.update_namespace(req.context, namespace, _body(req))

    def delete_namespace(self, req: Request, namespace: str) -> None:
        self.md.delete_namespace(req.context, namespace)

    # -- objects
    def list_objects(self, req: Request, namespace: str) -> dict[str, Any]:
        return {"objects": self.md.list_objects(req.context, namespace),
                "schema": "v2/schemas/metadefs/objects"}

    def create_object(self, req: Request, namespace: str) -> tuple[int, dict[str, Any]]:
        return 201, self.md.create_object(req.context, namespace, _body(req))

    def show_object(self, req: Request, namespace: str, name: str) -> dict[str, Any]:
        return self.md.get_object(req.context, namespace, name)

    def update_object(self, req: Request, namespace: str, name: str) -> dict[str, Any]:
        return self.md.update_object(req.context, namespace, name, _body(req))

    def delete_object(self, req: Request, namespace: str, name: str) -> None:
        self.md.delete_object(req.context, namespace, name)

    def delete_objects(self, req: Request, namespace: str) -> None:
        self.md.delete_objects(req.context, namespace)

    # -- properties
    def list_properties(self, req: Request, namespace: str) -> dict[str, Any]:
        return {"properties": self.md.list_properties(req.context, namespace)}

    def create_property(self, req: Request, namespace: str) -> tuple[int, dict[str, Any]]:
        return 201, self.md.create_property(req.context, namespace, _body(req))

    def show_property(self, req: Request, namespace: str, name: str) -> dict[str, Any]:
        return self.md.get_property(req.context, namespace, name)

    def update_property(self, req: Request, namespace: str, name: str) -> dict[str, Any]:
        return self.md.update_property(req.context, namespace, name, _body(req))

    def delete_property(self, req: Request, namespace: str, name: str) -> None:
        self.md.delete_property(req.context, namespace, name)

    def delete_properties(self, req: Request, namespace: str) -> None:
        self.md.delete_properties(req.context, namespace)

    # -- tags
    def list_tags(self, req: Request, namespace: str) -> dict[str, Any]:
        return {"tags": self.md.list_tags(req.context, namespace, limit=req.int_param("limit", None, minimum=0),
                                          marker=req.GET.get("marker") or None)}

    def create_tags(self, req: Request, namespace: str) -> tuple[int, dict[str, Any]]:
        tags = _body(req).get("tags")
        if not isinstance(tags, list):
            raise exception.ValidationError(field="tags", reason="must be a list of {\"name\": ...} objects")
        names = [t.get("name") if isinstance(t, dict) else None for t in tags]
        # Glance replaces the namespace's tags unless told to append (X-Openstack-Append: true).
        append = (req.headers.get("X-Openstack-Append") or "").strip().lower() == "true"
        made = self.md.create_tags(req.context, namespace, names, append=append)
        return 201, {"tags": [{"name": n} for n in made]}

    def create_tag(self, req: Request, namespace: str, name: str) -> tuple[int, dict[str, Any]]:
        return 201, self.md.create_tag(req.context, namespace, name)

    def show_tag(self, req: Request, namespace: str, name: str) -> dict[str, Any]:
        return self.md.get_tag(req.context, namespace, name)

    def update_tag(self, req: Request, namespace: str, name: str) -> dict[str, Any]:
        return self.md.update_tag(req.context, namespace, name, _body(req))

    def delete_tag(self, req: Request, namespace: str, name: str) -> None:
        self.md.delete_tag(req.context, namespace, name)

    def delete_tags(self, req: Request, namespace: str) -> None:
        self.md.delete_tags(req.context, namespace)

    # -- resource types
    def list_resource_types(self, req: Request) -> dict[str, Any]:
        return {"resource_types": self.md.list_resource_types(req.context)}

    def list_associations(self, req: Request, namespace: str) -> dict[str, Any]:
        return {"resource_type_associations": self.md.list_associations(req.context, namespace)}

    def create_association(self, req: Request, namespace: str) -> tuple[int, dict[str, Any]]:
        return 201, self.md.create_association(req.context, namespace, _body(req))

    def delete_association(self, req: Request, namespace: str, name: str) -> None:
        self.md.delete_association(req.context, namespace, name)
