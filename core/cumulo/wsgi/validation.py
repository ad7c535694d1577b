"""Request-body validation with jsonschema: the 400 names the failing field."""

from __future__ import annotations

import functools
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

from cumulo import exception


@functools.cache
def _validator(schema_key: int, schema_json: str) -> Draft202012Validator:
    import json

    schema = json.loads(schema_json)
    return Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _path(err: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in err.absolute_path]
    return ".".join(parts) if parts else "body"


def validate(body: Any, schema: dict[str, Any]) -> Any:
    """Validate ``body`` against ``schema``; raise ValidationError with the first error's path."""
    import json

    key = json.dumps(schema, sort_keys=True)
    validator = _validator(hash(key), key)
    errors = sorted(validator.iter_errors(body), key=lambda e: (len(list(e.absolute_path)), e.message))
    if errors:
        err = errors[0]
        if err.validator == "additionalProperties":
            reason = err.message
        elif err.validator == "required":
            reason = err.message
        else:
            reason = err.message if len(err.message) < 300 else err.message[:300] + "..."
        raise exception.ValidationError(field=_path(err), reason=reason)
    return body


# Reusable schema pieces.
NAME = {"type": "string", "minLength": 1, "maxLength": 255}
OPTIONAL_NAME = {"type": ["string", "null"], "maxLength": 255}
UUID = {"type": "string", "pattern": "^[0-9a-fA-F-]{32,36}$"}
METADATA = {
    "type": "object",
    "patternProperties": {"^.{1,255}$": {"type": "string", "maxLength": 255}},
    "additionalProperties": False,
}
BOOLEAN = {"type": ["boolean", "string"], "enum": [True, False, "true", "false", "True", "False"]}
