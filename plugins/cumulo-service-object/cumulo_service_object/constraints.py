"""Limits on names and metadata, and the errors Swift answers when they are broken (:class:`SwiftError`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oslo_config import cfg

from cumulo.contracts.object import SwiftError


def limits(conf: cfg.ConfigOpts) -> dict[str, Any]:
    o = conf.object
    return {
        "max_file_size": o.max_file_size,
        "max_object_name_length": o.max_object_name_length,
        "max_container_name_length": o.max_container_name_length,
        "max_account_name_length": o.max_account_name_length,
        "max_meta_name_length": o.max_meta_name_length,
        "max_meta_value_length": o.max_meta_value_length,
        "max_meta_count": o.max_meta_count,
        "max_meta_overall_size": o.max_meta_overall_size,
        "max_header_size": o.max_header_size,
        "container_listing_limit": o.container_listing_limit,
        "account_listing_limit": o.account_listing_limit,
    }


def check_name(value: str, kind: str, max_len: int) -> None:
    if value == "":
        raise SwiftError(400, f"{kind.capitalize()} name is empty")
    if "\x00" in value:
        raise SwiftError(412, f"{kind.capitalize()} name contains a NUL character")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise SwiftError(412, f"{kind.capitalize()} name is not valid UTF-8") from None
    if size > max_len:
        raise SwiftError(400, f"{kind.capitalize()} name length of {size} longer than {max_len}")


def check_container_name(name: str, conf: cfg.ConfigOpts) -> None:
    check_name(name, "container", conf.object.max_container_name_length)
    if "/" in name:
        raise SwiftError(400, "Container names cannot contain '/'")


def check_object_name(name: str, conf: cfg.ConfigOpts) -> None:
    check_name(name, "object", conf.object.max_object_name_length)


def check_metadata(meta: Mapping[str, str], kind: str, conf: cfg.ConfigOpts) -> None:
    """Validate the ``X-<Kind>-Meta-*`` items that will be stored (existing plus new)."""
    o = conf.object
    prefix = f"x-{kind}-meta-"
    count = size = 0
    for key, value in meta.items():
        if not key.lower().startswith(prefix) or value == "":
            continue
        name = key[len(prefix):]
        if not name:
            raise SwiftError(400, "Metadata name cannot be empty")
        bname, bvalue = name.encode("utf-8"), value.encode("utf-8")
        if len(bname) > o.max_meta_name_length:
            raise SwiftError(400, f"Metadata name too long: {name[:64]}...; max {o.max_meta_name_length}")
        if len(bvalue) > o.max_meta_value_length:
            raise SwiftError(400, f"Metadata value longer than {o.max_meta_value_length}: {key}")
        count += 1
        size += len(bname) + len(bvalue)
    if count > o.max_meta_count:
        raise SwiftError(400, f"Too many metadata items; max {o.max_meta_count}")
    if size > o.max_meta_overall_size:
        raise SwiftError(400, f"Total metadata too large; max {o.max_meta_overall_size}")
