"""S3's XML: documents written with the S3 namespace, client documents read strictly.

Client documents (CompleteMultipartUpload, Delete, CreateBucketConfiguration, AccessControlPolicy)
are small: bounded in size, no DOCTYPE (no entities), parsed with the standard library's expat.
"""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from xml.sax.saxutils import escape

from cumulo_api_s3.errors import S3Error

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
MAX_DOCUMENT = 2 * 1024 * 1024  # a Delete of 1000 keys of 1024 bytes fits

Node = tuple[str, "str | int | bool | None | Iterable[Node]"]


def _render(node: Node, out: list[str]) -> None:
    name, value = node
    if value is None:
        out.append(f"<{name}/>")
    elif isinstance(value, bool):
        out.append(f"<{name}>{'true' if value else 'false'}</{name}>")
    elif isinstance(value, (str, int)):
        out.append(f"<{name}>{escape(str(value))}</{name}>")
    else:
        out.append(f"<{name}>")
        for child in value:
            _render(child, out)
        out.append(f"</{name}>")


def document(root: str, children: Iterable[Node], namespace: bool = True) -> bytes:
    """``<?xml?><root xmlns=S3>children</root>`` as UTF-8; a child is ``(name, text | int | bool | [children])``."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n', f'<{root} xmlns="{NS}">' if namespace else f"<{root}>"]
    for child in children:
        _render(child, out)
    out.append(f"</{root}>")
    return "".join(out).encode("utf-8")


def s3_time(ts: float) -> str:
    """A POSIX time as S3's XML writes it: ``2026-12-04T01:38:00.000Z``."""
    when = datetime.datetime.fromtimestamp(ts, datetime.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse(body: bytes, root: str) -> ET.Element:
    """The client's document, whose root element must be ``root`` (namespaces dropped from the tags).

    :raises S3Error: MalformedXML when it is not XML, has a DOCTYPE, or has another root.
    """
    if not body.strip() or len(body) > MAX_DOCUMENT or b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise S3Error("MalformedXML")
    try:
        tree = ET.fromstring(body)
    except (ET.ParseError, ValueError, RecursionError):
        raise S3Error("MalformedXML") from None
    for element in tree.iter():
        element.tag = _local(str(element.tag))
    if tree.tag != root:
        raise S3Error("MalformedXML")
    return tree


def text(element: ET.Element, name: str) -> str | None:
    """The text of ``element``'s child ``name`` (``""`` when empty), None when there is no such child."""
    child = element.find(name)
    if child is None:
        return None
    return child.text or ""
