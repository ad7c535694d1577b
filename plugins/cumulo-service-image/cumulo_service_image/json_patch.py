"""Reading an image JSON patch (media type ``application/openstack-images-v2.1-json-patch``) into changes.

Only the parts Glance supports: ``add``, ``replace`` and ``remove`` on
top-level attributes and properties, ``add /tags/-``, and ``add /locations/-``.
Nothing is written here: :meth:`cumulo_service_image.images.Images.patch`
applies the result.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from cumulo import exception
from cumulo_service_image.attributes import READ_ONLY, WRITABLE

_ESCAPE = re.compile(r"~[01]")


@dataclasses.dataclass
class ImagePatch:
    """What a patch asks: attributes/properties to set, extra properties to remove, locations to add."""

    changed: dict[str, Any] = dataclasses.field(default_factory=dict)
    removed: list[str] = dataclasses.field(default_factory=list)
    new_locations: list[Any] = dataclasses.field(default_factory=list)


def read_patch(doc: dict[str, Any], operations: Any) -> ImagePatch:
    """The changes ``operations`` make to the image document ``doc`` (its dict without ``properties``,
    ``store`` and ``location``). 400 for a malformed patch, 409 for a path that does not exist,
    403 for a location operation other than ``add /locations/-``."""
    patch = ImagePatch()
    changed, removed = patch.changed, patch.removed
    if not isinstance(operations, list):
        raise exception.Invalid(reason="A JSON patch is a list of operations.")
    for op in operations:
        if not isinstance(op, dict) or set(op) - {"op", "path", "value"}:
            raise exception.Invalid(reason=f"Invalid patch operation {op!r}: keys are op, path and value.")
        kind, path = op.get("op"), op.get("path")
        if kind not in ("add", "replace", "remove"):
            raise exception.Invalid(reason=f"Operation {kind!r} is not supported: use add, replace or remove.")
        if not isinstance(path, str) or not path.startswith("/") or path == "/":
            raise exception.Invalid(reason=f"Invalid JSON pointer {path!r} in a patch.")
        parts = [_ESCAPE.sub(lambda m: "~" if m.group(0) == "~0" else "/", p) for p in path[1:].split("/")]
        if kind != "remove" and "value" not in op:
            raise exception.Invalid(reason=f"Operation {kind} on {path} needs a value.")
        if parts[0] == "locations":
            if kind != "add" or len(parts) != 2:
                raise exception.Forbidden("Only 'add /locations/-' is supported on image locations.")
            patch.new_locations.append(op["value"])
            continue
        if parts[0] == "tags" and len(parts) == 2 and kind != "remove":
            tags = list(changed.get("tags", doc["tags"]))
            tags.append(op["value"])
            changed["tags"] = tags
            continue
        if len(parts) != 1:
            raise exception.Invalid(reason=f"Nested paths such as {path} are not supported.")
        key = parts[0]
        if kind == "remove":
            if key in removed or (key not in doc and key not in changed):
                raise exception.Conflict(reason=f"Property {key} does not exist.")
            if key in changed and key not in doc:
                changed.pop(key)
                continue
            removed.append(key)
            changed.pop(key, None)
        else:
            if kind == "replace" and key not in doc and key not in changed and key not in WRITABLE:
                raise exception.Conflict(reason=f"Property {key} does not exist.")
            if key in READ_ONLY and doc.get(key) == op["value"]:
                continue  # clients echo unchanged read-only values back; not a change
            changed[key] = op["value"]
            if key in removed:
                removed.remove(key)
    return patch
