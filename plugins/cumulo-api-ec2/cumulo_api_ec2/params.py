"""The Query API's parameters: flat ``Name=value`` pairs whose dotted names carry lists and structures.

``InstanceId.1=i-..&InstanceId.2=i-..`` is a list, ``Filter.1.Name=..&Filter.1.Value.1=..``
a list of structures; :class:`Params` reads them in their numeric order.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from cumulo_api_ec2 import errors

_INDEX = re.compile(r"(\d+)(?:\.(.*))?")


class Params:
    """The parameters of one request (or one structure of it: :meth:`structs` gives sub-views)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name, default)

    def required(self, name: str) -> str:
        value = self.values.get(name)
        if value is None or value == "":
            raise errors.missing(name)
        return value

    def int(self, name: str, default: int | None = None, minimum: int | None = None,
            maximum: int | None = None) -> int | None:
        raw = self.values.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise errors.invalid(name, raw, "not an integer") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise errors.invalid(name, raw, f"must be between {minimum} and {maximum}")
        return value

    def bool(self, name: str, default: bool | None = None) -> bool | None:
        raw = self.values.get(name)
        if raw is None or raw == "":
            return default
        if raw.lower() not in ("true", "false"):
            raise errors.invalid(name, raw, "expecting true or false")
        return raw.lower() == "true"

    def _indexed(self, prefix: str) -> dict[builtins.int, dict[str, str]]:
        found: dict[builtins.int, dict[str, str]] = {}
        start = prefix + "."
        for key, value in self.values.items():
            if not key.startswith(start):
                continue
            m = _INDEX.fullmatch(key[len(start):])
            if m:
                found.setdefault(int(m.group(1)), {})[m.group(2) or ""] = value
        return dict(sorted(found.items()))

    def list(self, *prefixes: str) -> builtins.list[str]:
        """The values of ``Prefix.N`` in order (of each prefix given: ``InstanceId``, ``InstanceIds``...)."""
        out: builtins.list[str] = []
        for prefix in prefixes:
            out += [v[""] for v in self._indexed(prefix).values() if "" in v]
        return out

    def structs(self, prefix: str) -> builtins.list[Params]:
        """The structures ``Prefix.N.*`` in order, each as its own :class:`Params`."""
        return [Params({k: v for k, v in sub.items() if k}) for sub in self._indexed(prefix).values()]

    def struct(self, prefix: str) -> Params:
        """The structure ``Prefix.*`` (not a list)."""
        start = prefix + "."
        return Params({k[len(start):]: v for k, v in self.values.items() if k.startswith(start)})

    def base64(self, name: str) -> bytes | None:
        raw = self.values.get(name)
        if raw is None or raw == "":
            return None
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise errors.invalid(name, "(not shown)", "not valid base64") from None


# -- filters ------------------------------------------------------------------------------------


Getter = Callable[[Mapping[str, Any]], Any]


def parse_filters(params: Params) -> list[tuple[str, list[str]]]:
    """``Filter.N.Name`` with its ``Filter.N.Value.M``."""
    out = []
    for f in params.structs("Filter"):
        name = f.get("Name")
        if not name:
            raise errors.missing("Filter.Name")
        out.append((name, f.list("Value")))
    return out


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return [str(v).lower() if isinstance(v, bool) else str(v) for v in value]
    return [str(value).lower() if isinstance(value, bool) else str(value)]


def _tags_of(item: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(item.get("tagSet") or [])


def matches(item: Mapping[str, Any], filters: Sequence[tuple[str, list[str]]],
            getters: Mapping[str, Getter]) -> bool:
    """Whether a rendered ``item`` passes every filter (values of one filter are ORed; ``*``/``?`` wildcards).

    ``tag:<key>``, ``tag-key`` and ``tag-value`` read the item's ``tagSet``.

    :raises errors.Ec2Error: a filter name the resource does not have.
    """
    for name, patterns in filters:
        if name.startswith("tag:"):
            key = name[4:]
            have = [str(t["value"]) for t in _tags_of(item) if t["key"] == key]
        elif name == "tag-key":
            have = [str(t["key"]) for t in _tags_of(item)]
        elif name == "tag-value":
            have = [str(t["value"]) for t in _tags_of(item)]
        elif name in getters:
            have = _values(getters[name](item))
        else:
            raise errors.Ec2Error("InvalidParameterValue", f"The filter '{name}' is invalid")
        if not any(fnmatch.fnmatchcase(v, p) for v in have for p in patterns):
            return False
    return True


_Item = TypeVar("_Item", bound=Mapping[str, Any])


def apply_filters(items: Iterable[_Item], params: Params, getters: Mapping[str, Getter]) -> list[_Item]:
    filters = parse_filters(params)
    return [i for i in items if matches(i, filters, getters)]


def tag_set(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """A ``tagSet`` from key/value pairs, by key."""
    return [{"key": k, "value": v} for k, v in sorted(tags.items())]
