"""Metadata definitions (``hub.image.metadefs``): Glance's metadefs catalog, stored in the image database.

Who sees what, as Glance: a public namespace is visible to everyone, a private one to its owner
project (and admins); one that is not visible is a 404, as if it did not exist. Changing
anything needs the ``image:*_metadef_*`` policies (admins by default, as Glance's
``metadef_admin``); a ``protected`` namespace cannot be deleted, nor can what it contains
(403) until it is unprotected.

Each method takes the caller's context first and returns plain JSON-ready dicts (times as ISO
8601 strings), as the rest of ``hub.image`` does.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from cumulo import db, exception, policy
from cumulo.context import RequestContext
from cumulo_service_image.common import iso, now
from cumulo_service_image.metadef_models import (
    MetadefNamespace,
    MetadefNamespaceResourceType,
    MetadefObject,
    MetadefProperty,
    MetadefResourceType,
    MetadefTag,
)

NAMESPACE_VISIBILITIES = ("public", "private")
NAMESPACE_SORT_KEYS = ("created_at", "updated_at", "namespace", "display_name", "visibility", "protected")
_NAMESPACE_FIELDS = ("namespace", "display_name", "description", "visibility", "protected", "owner")


def _text(body: dict[str, Any], field: str, required: bool = False, length: int = 255) -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise exception.ValidationError(field=field, reason="is required")
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise exception.ValidationError(field=field, reason="must be a non-empty string" if required
                                        else "must be a string")
    if len(value) > length:
        raise exception.ValidationError(field=field, reason=f"is longer than {length} characters")
    return value


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _times(row: Any) -> dict[str, str | None]:
    return {"created_at": iso(row.created_at), "updated_at": iso(row.updated_at or row.created_at)}


def _property_schema(body: Any, name: str | None = None) -> tuple[str, dict[str, Any]]:
    """(name, definition) of a property body: a JSON Schema fragment with a name, a title and a type."""
    if not isinstance(body, dict):
        raise exception.Invalid(reason="A property must be a JSON object.")
    prop_name = name if name is not None else _text(body, "name", required=True)
    assert prop_name is not None
    if len(prop_name) > 255:
        raise exception.ValidationError(field="name", reason="is longer than 255 characters")
    definition = {k: v for k, v in body.items() if k != "name"}
    _text(definition, "title", required=True)
    kind = definition.get("type")
    if kind not in ("array", "boolean", "integer", "number", "object", "string", None):
        raise exception.ValidationError(field="type", reason=f"{kind!r} is not a JSON Schema type")
    if kind is None:
        raise exception.ValidationError(field="type", reason="is required")
    if "enum" in definition and not isinstance(definition["enum"], list):
        raise exception.ValidationError(field="enum", reason="must be a list")
    return prop_name, definition


def _object_fields(body: Any) -> tuple[str, str | None, list[str], dict[str, Any]]:
    if not isinstance(body, dict):
        raise exception.Invalid(reason="An object must be a JSON object.")
    name = _text(body, "name", required=True, length=80)
    assert name is not None
    required = body.get("required") or []
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise exception.ValidationError(field="required", reason="must be a list of property names")
    props = body.get("properties") or {}
    if not isinstance(props, dict):
        raise exception.ValidationError(field="properties", reason="must be an object of property definitions")
    checked = dict(_property_schema(v, k) for k, v in props.items())
    return name, _text(body, "description", length=65535), required, checked


class Metadefs:
    """Namespaces and their objects, properties, tags and resource type associations."""

    # -- access
    @staticmethod
    def _visible(ctx: RequestContext, row: MetadefNamespace) -> bool:
        return ctx.is_admin or row.visibility == "public" or (ctx.project_id is not None
                                                               and row.owner == ctx.project_id)

    def _load(self, s: Any, ctx: RequestContext, namespace: str, action: str | None = None) -> MetadefNamespace:
        """The namespace ``ctx`` may see (404 otherwise); with ``action``, one it may change (403 otherwise)."""
        row = s.execute(sa.select(MetadefNamespace).where(MetadefNamespace.namespace == namespace)).scalar()
        if row is None or not self._visible(ctx, row):
            raise exception.NotFound(resource="Namespace", id=namespace)
        if action is not None:
            policy.authorize(ctx, action, {"project_id": row.owner})
        return row

    @staticmethod
    def _check_unprotected(row: MetadefNamespace, what: str) -> None:
        if row.protected:
            raise exception.Forbidden(f"Namespace {row.namespace} is protected: {what} is not allowed "
                                      "until protected is false.")

    # -- views
    def _namespace_view(self, s: Any, row: MetadefNamespace, full: bool,
                        resource_type: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(row, k) for k in _NAMESPACE_FIELDS if getattr(row, k) is not None}
        out.update(_times(row))
        out["self"] = f"/v2/metadefs/namespaces/{row.namespace}"
        out["schema"] = "/v2/schemas/metadefs/namespace"
        assocs = self._associations(s, row)
        if assocs:
            out["resource_type_associations"] = assocs
        if full:
            prefix = ""
            if resource_type is not None:
                prefix = next((a.get("prefix") or "" for a in assocs if a["name"] == resource_type), "")
            props = self._properties(s, row)
            if props:
                out["properties"] = {prefix + k: v for k, v in props.items()}
            objects = [self._object_view(row, o, with_links=False) for o in self._object_rows(s, row)]
            if objects:
                out["objects"] = objects
            tags = [{"name": t.name} for t in self._tag_rows(s, row)]
            if tags:
                out["tags"] = tags
        return out

    @staticmethod
    def _object_view(ns: MetadefNamespace, row: MetadefObject, with_links: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"name": row.name, "required": json.loads(row.required or "[]"),
                               "properties": json.loads(row.json_schema), **_times(row)}
        if row.description is not None:
            out["description"] = row.description
        if with_links:
            out["self"] = f"/v2/metadefs/namespaces/{ns.namespace}/objects/{row.name}"
            out["schema"] = "v2/schemas/metadefs/object"
        return out

    @staticmethod
    def _object_rows(s: Any, ns: MetadefNamespace) -> list[MetadefObject]:
        return list(s.execute(sa.select(MetadefObject).where(MetadefObject.namespace_id == ns.id)
                              .order_by(MetadefObject.name)).scalars())

    @staticmethod
    def _tag_rows(s: Any, ns: MetadefNamespace) -> list[MetadefTag]:
        return list(s.execute(sa.select(MetadefTag).where(MetadefTag.namespace_id == ns.id)
                              .order_by(MetadefTag.created_at, MetadefTag.id)).scalars())

    @staticmethod
    def _properties(s: Any, ns: MetadefNamespace) -> dict[str, Any]:
        rows = s.execute(sa.select(MetadefProperty).where(MetadefProperty.namespace_id == ns.id)
                         .order_by(MetadefProperty.name)).scalars()
        return {r.name: json.loads(r.json_schema) for r in rows}

    @staticmethod
    def _associations(s: Any, ns: MetadefNamespace) -> list[dict[str, Any]]:
        rows = s.execute(sa.select(MetadefNamespaceResourceType, MetadefResourceType.name)
                         .join(MetadefResourceType,
                               MetadefResourceType.id == MetadefNamespaceResourceType.resource_type_id)
                         .where(MetadefNamespaceResourceType.namespace_id == ns.id)
                         .order_by(MetadefResourceType.name)).all()
        out = []
        for assoc, name in rows:
            item: dict[str, Any] = {"name": name, **_times(assoc)}
            if assoc.prefix is not None:
                item["prefix"] = assoc.prefix
            if assoc.properties_target is not None:
                item["properties_target"] = assoc.properties_target
            out.append(item)
        return out

    # -- namespaces
    def list_namespaces(self, ctx: RequestContext, visibility: str | None = None,
                        resource_types: list[str] | None = None, limit: int | None = None, marker: str | None = None,
                        sort_key: str = "created_at", sort_dir: str = "desc") -> list[dict[str, Any]]:
        """The namespaces ``ctx`` sees, filtered and sorted; 400 for a bad filter, sort or marker."""
        policy.authorize(ctx, "image:get_metadef_namespaces", {})
        if visibility is not None and visibility not in NAMESPACE_VISIBILITIES:
            raise exception.ValidationError(field="visibility", reason=f"{visibility!r} is not public or private")
        if sort_key not in NAMESPACE_SORT_KEYS:
            raise exception.ValidationError(field="sort_key", reason=f"{sort_key!r} is not one of "
                                                                     f"{', '.join(NAMESPACE_SORT_KEYS)}")
        if sort_dir not in ("asc", "desc"):
            raise exception.ValidationError(field="sort_dir", reason="must be asc or desc")
        with db.reader() as s:
            column = getattr(MetadefNamespace, sort_key)
            order = [column.asc() if sort_dir == "asc" else column.desc(),
                     MetadefNamespace.id.asc() if sort_dir == "asc" else MetadefNamespace.id.desc()]
            rows = [r for r in s.execute(sa.select(MetadefNamespace).order_by(*order)).scalars()
                    if self._visible(ctx, r) and (visibility is None or r.visibility == visibility)]
            if resource_types:
                wanted = set(resource_types)
                rows = [r for r in rows if wanted & {a["name"] for a in self._associations(s, r)}]
            if marker is not None:
                names = [r.namespace for r in rows]
                if marker not in names:
                    raise exception.ValidationError(field="marker", reason=f"namespace {marker} not found")
                rows = rows[names.index(marker) + 1:]
            if limit is not None:
                rows = rows[:limit]
            return [self._namespace_view(s, r, full=False) for r in rows]

    def _namespace_fields(self, ctx: RequestContext, body: Any, row: MetadefNamespace | None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise exception.Invalid(reason="A namespace must be a JSON object.")
        fields: dict[str, Any] = {"namespace": _text(body, "namespace", required=True, length=80)}
        for name, length in (("display_name", 80), ("description", 65535)):
            if name in body:
                fields[name] = _text(body, name, length=length)
        visibility = body.get("visibility", "private" if row is None else row.visibility)
        if visibility not in NAMESPACE_VISIBILITIES:
            raise exception.ValidationError(field="visibility", reason=f"{visibility!r} is not public or private")
        fields["visibility"] = visibility
        protected = body.get("protected", False if row is None else row.protected)
        if not isinstance(protected, bool):
            raise exception.ValidationError(field="protected", reason="must be a boolean")
        fields["protected"] = protected
        owner = body.get("owner")
        if owner is not None:
            if not isinstance(owner, str) or not owner:
                raise exception.ValidationError(field="owner", reason="must be a project id")
            fields["owner"] = owner
        elif row is None:
            if not ctx.project_id:
                raise exception.ValidationError(field="owner", reason="is required for a caller without a project")
            fields["owner"] = ctx.project_id
        return fields

    def create_namespace(self, ctx: RequestContext, body: Any) -> dict[str, Any]:
        """Create a namespace, with the resource type associations, properties, objects and tags it names.

        :raises Conflict: (409) the name is taken. :raises Invalid: (400) a bad field.
        """
        policy.authorize(ctx, "image:add_metadef_namespace", {})
        fields = self._namespace_fields(ctx, body, None)
        with db.transaction() as s:
            if s.execute(sa.select(MetadefNamespace.id)
                         .where(MetadefNamespace.namespace == fields["namespace"])).first():
                raise exception.Conflict(reason=f"A namespace named {fields['namespace']} already exists.")
            row = MetadefNamespace(**fields, created_at=now())
            s.add(row)
            s.flush()
            for assoc in body.get("resource_type_associations") or []:
                self._associate(s, row, assoc)
            for name, definition in (body.get("properties") or {}).items():
                self._add_property(s, row, {**definition, "name": name} if isinstance(definition, dict)
                                   else definition)
            for obj in body.get("objects") or []:
                self._add_object(s, row, obj)
            for tag in body.get("tags") or []:
                self._add_tag(s, row, tag.get("name") if isinstance(tag, dict) else tag)
            return self._namespace_view(s, row, full=True)

    def get_namespace(self, ctx: RequestContext, namespace: str, resource_type: str | None = None) -> dict[str, Any]:
        """The namespace with its contents (property names prefixed as ``resource_type`` takes them)."""
        policy.authorize(ctx, "image:get_metadef_namespace", {})
        with db.reader() as s:
            return self._namespace_view(s, self._load(s, ctx, namespace), full=True, resource_type=resource_type)

    def update_namespace(self, ctx: RequestContext, namespace: str, body: Any) -> dict[str, Any]:
        """Replace the namespace's own fields (a new ``namespace`` renames it; 409 if taken)."""
        with db.transaction() as s:
            row = self._load(s, ctx, namespace, "image:modify_metadef_namespace")
            fields = self._namespace_fields(ctx, body, row)
            if fields["namespace"] != row.namespace and s.execute(
                    sa.select(MetadefNamespace.id).where(MetadefNamespace.namespace == fields["namespace"])).first():
                raise exception.Conflict(reason=f"A namespace named {fields['namespace']} already exists.")
            for key, value in fields.items():
                setattr(row, key, value)
            row.updated_at = now()
            s.flush()
            return self._namespace_view(s, row, full=False)

    def delete_namespace(self, ctx: RequestContext, namespace: str) -> None:
        """Delete the namespace and everything in it; 403 while it is protected."""
        with db.transaction() as s:
            row = self._load(s, ctx, namespace, "image:delete_metadef_namespace")
            self._check_unprotected(row, "deleting it")
            for model in (MetadefObject, MetadefProperty, MetadefTag, MetadefNamespaceResourceType):
                s.execute(sa.delete(model).where(model.namespace_id == row.id))
            s.delete(row)

    # -- objects
    def _add_object(self, s: Any, ns: MetadefNamespace, body: Any) -> MetadefObject:
        name, description, required, props = _object_fields(body)
        if s.execute(sa.select(MetadefObject.id).where(MetadefObject.namespace_id == ns.id,
                                                       MetadefObject.name == name)).first():
            raise exception.Conflict(reason=f"Namespace {ns.namespace} already has an object named {name}.")
        row = MetadefObject(namespace_id=ns.id, name=name, description=description, required=_dump(required),
                            json_schema=_dump(props), created_at=now())
        s.add(row)
        s.flush()
        return row

    def _object_row(self, s: Any, ns: MetadefNamespace, name: str) -> MetadefObject:
        row = s.execute(sa.select(MetadefObject).where(MetadefObject.namespace_id == ns.id,
                                                       MetadefObject.name == name)).scalar()
        if row is None:
            raise exception.NotFound(resource="Metadata definition object", id=name)
        return row

    def list_objects(self, ctx: RequestContext, namespace: str) -> list[dict[str, Any]]:
        policy.authorize(ctx, "image:get_metadef_objects", {})
        with db.reader() as s:
            ns = self._load(s, ctx, namespace)
            return [self._object_view(ns, o) for o in self._object_rows(s, ns)]

    def create_object(self, ctx: RequestContext, namespace: str, body: Any) -> dict[str, Any]:
        """Add an object to the namespace; 409 if it has one of that name."""
        with db.transaction() as s:
            ns = self._load(s, ctx, namespace, "image:add_metadef_object")
            return self._object_view(ns, self._add_object(s, ns, body))

    def get_object(self, ctx: RequestContext, namespace: str, name: str) -> dict[str, Any]:
        policy.authorize(ctx, "image:get_metadef_object", {})
        with db.reader() as s:
            ns = self._load(s, ctx, namespace)
            return self._object_view(ns, self._object_row(s, ns, name))

    def update_object(self, ctx: RequestContext, namespace: str, name: str, body: Any) -> dict[str, Any]:
        """Replace an object (a new ``name`` renames it; 409 if taken)."""
        with db.transaction() as s:
            ns = self._load(s, ctx, namespace, "image:modify_metadef_object")
            row = self._object_row(s, ns, name)
            new_name, description, required, props = _object_fields(body)
            if new_name != name and s.execute(sa.select(MetadefObject.id).where(
                    MetadefObject.namespace_id == ns.id, MetadefObject.name == new_name)).first():
                raise exception.Conflict(reason=f"Namespace {ns.namespace} already has an object named {new_name}.")
            row.name, row.description = new_name, description
            row.required, row.json_schema = _dump(required), _dump(props)
            row.updated_at = now()
            return self._object_view(ns, row)

    def delete_object(self, ctx: RequestContext, namespace: str, name: str) -> None:
        with db.transaction() as s:
            ns = self._load(s, ctx, namespace, "image:delete_metadef_object")
            self._check_unprotected(ns, "deleting its objects")
            s.delete(self._object_row(s, ns, name))

    def delete_objects(self, ctx: RequestContext, namespace: str) -> None:
        """Delete every object of the namespace."""
        with db.transaction() as s:
            ns = self._load(s, ctx, namespace, "image:delete_metadef_object")
            self._check_unprotected(ns, "deleting its objects")
            s.execute(sa.delete(MetadefObject).where(MetadefObject.namespace_id == ns.id))

    # -- properties
    def _add_property(self, s: Any, ns: MetadefNamespace, body: Any) -> tuple[str, dict[str, Any]]:
        name, definition = _property_schema(body)
        if s.execute(sa.select(MetadefProperty.id).where(MetadefProperty.namespace_id == ns.id,
                                                         MetadefProperty.name == name)).first():
            raise exception.Conflict(reason=f"Namespace {ns.namespace} already has a property named {name}.")
        s.add(MetadefProperty(namespace_id=ns.id, name=name, json_schema=_dump(definition), created_at=now()))
        s.flush()
        return name, definition

    def _property_row(self, s: Any, ns: MetadefNamespace, name: str) -> MetadefProperty:
        row = s.execute(sa.select(MetadefProperty).where(MetadefProperty.namespace_id == ns.id,
                                                         MetadefProperty.name == name)).scalar()
        if row is None:
            raise exception.NotFound(resource="Metadata definition property", id=name)
        return row

    def list_properties(self, ctx: RequestContext, namespace: str) -> dict[str, Any]:
        """Property name -> definition."""
        policy.authorize(ctx, "image:get_metadef_properties", {})
        with db.reader() as s:
            return self._properties(s, self._load(s, ctx, namespace))

    def create_property(self, ctx: RequestContext, namespace: str, body: Any) -> dict[str, Any]:
        """Add a property definition (``name``, ``title``, ``type``...); 409 if the name is taken."""
        with db.transaction() as s:
            ns = self._load(s, ctx, namespace, "image:add_metadef_property")
            name, definition = self._add_property(s, ns, body)
            return {"name": name, **definition}

    def get_property(self, ctx: RequestContext, namespace: str, name: str) -> dict[str, Any]:
        policy.authorize(ctx, "image:get_metadef_property", {})
        with db.reader() as s:
            row = self._property_row(s, self._load(s, ctx, namespace), name)
            return {"name": row.name, **json.loads(row.json_schema)}

    def update_property(self, ctx: RequestContext, namespace: str, name: str, body: Any) -> dict[str, Any]:
        """Replace a property definition (a new ``name`` renames it; 409 if taken)."""
        with db.transaction() as s:
            ns = self._load(s, ctx, namespace, "image:modify_metadef_property")
            row = self._property_row(s, ns, name)
            new_name, definition = _property_schema(body)
            if new_name != name and s.execute(sa.select(MetadefProperty.id).where(
                    MetadefProperty.namespace_id == ns.id, MetadefProperty.name == new_name)).first():
                raise exception.Conflict(reason=f"Namespace {ns.namespace} already has a property named {new_name}.")
            row.name, row.json_schema, row.updated_at = new_name, _dump(definition), now()
            return {"name": new_name, **definition}

    def delete_property(self, ctx: RequestContext, namespace: str, name: str) -> None:
        with db.transaction() as s:
            ns = self._load(s, ctx, namespace, "image:remove_metadef_property")
            self._check_unprotected(ns, "deleting its properties")
            s.delete(self._property_row(s, ns, name))

    def delete_properties(self, ctx: RequestContext, namespace: str) -> None:
        with db.transaction() as s:
            ns = self._load(s, ctx, namespace, "image:remove_metadef_property")
            self._check_unprotected(ns, "deleting its properties")
            s.execute(sa.delete(MetadefProperty).where(MetadefProperty.namespace_id == ns.id))

    # -- tags
    @staticmethod
    def _tag_name(name: Any) -> str:
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise exception.ValidationError(field="name", reason="a tag is a non-empty string of at most 255 "
                                                                 "characters")
        return name

    def _add_tag(self, s: Any, ns: MetadefNamespace, name: Any) -> MetadefTag:
        name = self._tag_name(name)
        if s.execute(sa.select(MetadefTag.id).where(MetadefTag.namespace_id == ns.id,
                                                    MetadefTag.name == name)).first():
            raise exception.Conflict(reason=f"Namespace {ns.namespace} already has a tag named {name}.")
        row = MetadefTag(namespace_id=ns.id, name=name, created_at=now())
        s.add(row)
        s.flush()
        return row

    def _tag_row(self, s: Any, ns: MetadefNamespace, name: str) -> MetadefTag:
        row = s.execute(sa.select(MetadefTag).where(MetadefTag.namespace_id == ns.id,
                                                    MetadefTag.name == name)).scalar()
        if row is None:
            raise exception.NotFound(resource="Metadata definition tag", id=name)
        return row

    @staticmethod
    def _tag_view(row: MetadefTag) -> dict[str, Any]:
        return {"name": row.name, **_times(row)}

    def list_tags(self, ctx: RequestContext, namespace: str, limit: int | None = None,
                  marker: str | None = None) -> list[dict[str, Any]]:
        policy.authorize(ctx, "image:get_metadef_tags", {})
        with db.reader() as s:
            rows = self._tag_rows(s, self._load(s, ctx, namespace))
            if marker is not None:
                names = [r.name for r in rows]
                rows = rows[names.index(marker) + 1:] if marker in names else []
            return [self._tag_view(r) for r in rows[:limit] if limit is None or limit >= 0]

    def create_tags(self, ctx: RequestContext, namespace: str, names: list[Any], append: bool = False) -> list[str]:
        """Set the namespace's tags to ``names`` (``append``: add them to those it has); 409 for a repeat."""
        with db.transaction() as s:
            ns = self._load(s, ctx, namespace, "image:add_metadef_tags")
            checked = [self._tag_name(n) for n in names]
            if len(set(checked)) != len(checked):
                raise exception.Conflict(reason="A tag is given more than once.")
            if not append:
                s.execute(sa.delete(MetadefTag).where(MetadefTag.namespace_id == ns.id))
            return [self._add_tag(s, ns, n).name for n in checked]

    def create_tag(self, ctx: RequestContext, namespace: str, name: str) -> dict[str, Any]:
        with db.transaction() as s:
            ns = self._load(s, ctx, namespace, "image:add_metadef_tag")
            return self._tag_view(self._add_tag(s, ns, name))

    def get_tag(self, ctx: RequestContext, namespace: str, name: str) -> dict[str, Any]:
        policy.authorize(ctx, "image:get_metadef_tag", {})
        with db.reader() as s:
            return self._tag_view(self._tag_row(s, self._load(s, ctx, namespace), name))

    def update_tag(self, ctx: RequestContext, namespace: str, name: str, body: Any) -> dict[str, Any]:
        """Rename a tag (``{"name": new}``); 409 if the new name is taken."""
        with db.transaction() as s:
            ns = self._load(s, ctx, namespace, "image:modify_metadef_tag")
            row = self._tag_row(s, ns, name)
            new = self._tag_name(body.get("name") if isinstance(body, dict) else None)
            if new != name and s.execute(sa.select(MetadefTag.id).where(MetadefTag.namespace_id == ns.id,
                                                                         MetadefTag.name == new)).first():
                raise exception.Conflict(reason=f"Namespace {ns.namespace} already has a tag named {new}.")
            row.name, row.updated_at = new, now()
            return self._tag_view(row)

    def delete_tag(self, ctx: RequestContext, namespace: str, name: str) -> None:
        with db.transaction() as s:
            ns = self._load(s, ctx, namespace, "image:delete_metadef_tag")
            self._check_unprotected(ns, "deleting its tags")
            s.delete(self._tag_row(s, ns, name))

    def delete_tags(self, ctx: RequestContext, namespace: str) -> None:
        with db.transaction() as s:
            ns = self._load(s, ctx, namespace, "image:delete_metadef_tags")
            self._check_unprotected(ns, "deleting its tags")
            s.execute(sa.delete(MetadefTag).where(MetadefTag.namespace_id == ns.id))

    # -- resource types
    def list_resource_types(self, ctx: RequestContext) -> list[dict[str, Any]]:
        policy.authorize(ctx, "image:list_metadef_resource_types", {})
        with db.reader() as s:
            rows = s.execute(sa.select(MetadefResourceType).order_by(MetadefResourceType.name)).scalars()
            return [{"name": r.name, **_times(r)} for r in rows]

    def _associate(self, s: Any, ns: MetadefNamespace, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise exception.Invalid(reason="A resource type association must be a JSON object.")
        name = _text(body, "name", required=True, length=80)
        prefix = _text(body, "prefix", length=80)
        target = _text(body, "properties_target", length=80)
        rtype = s.execute(sa.select(MetadefResourceType).where(MetadefResourceType.name == name)).scalar()
        if rtype is None:  # as Glance: naming a new resource type creates it
            rtype = MetadefResourceType(name=name, protected=False, created_at=now())
            s.add(rtype)
            s.flush()
        if s.get(MetadefNamespaceResourceType, (rtype.id, ns.id)) is not None:
            raise exception.Conflict(reason=f"Namespace {ns.namespace} is already associated with {name}.")
        assoc = MetadefNamespaceResourceType(resource_type_id=rtype.id, namespace_id=ns.id, prefix=prefix,
                                             properties_target=target, created_at=now())
        s.add(assoc)
        s.flush()
        out: dict[str, Any] = {"name": name, **_times(assoc)}
        if prefix is not None:
            out["prefix"] = prefix
        if target is not None:
            out["properties_target"] = target
        return out

    def list_associations(self, ctx: RequestContext, namespace: str) -> list[dict[str, Any]]:
        policy.authorize(ctx, "image:get_metadef_resource_type", {})
        with db.reader() as s:
            return self._associations(s, self._load(s, ctx, namespace))

    def create_association(self, ctx: RequestContext, namespace: str, body: Any) -> dict[str, Any]:
        """Associate the namespace with a resource type (created if new); 409 if it already is."""
        with db.transaction() as s:
            ns = self._load(s, ctx, namespace, "image:add_metadef_resource_type_association")
            return self._associate(s, ns, body)

    def delete_association(self, ctx: RequestContext, namespace: str, name: str) -> None:
        with db.transaction() as s:
            ns = self._load(s, ctx, namespace, "image:remove_metadef_resource_type_association")
            self._check_unprotected(ns, "removing its resource type associations")
            rtype = s.execute(sa.select(MetadefResourceType).where(MetadefResourceType.name == name)).scalar()
            assoc = s.get(MetadefNamespaceResourceType, (rtype.id, ns.id)) if rtype is not None else None
            if assoc is None:
                raise exception.NotFound(resource="Resource type association", id=name)
            s.delete(assoc)
