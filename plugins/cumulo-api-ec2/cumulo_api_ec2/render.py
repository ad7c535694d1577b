"""XML answers of the EC2 Query API (``http://ec2.amazonaws.com/doc/2016-11-15/``), with ElementTree.

An action answers a plain structure that :func:`response` writes under
``<ActionResponse>``: a mapping is one element per key (None left out), a
list or tuple is one ``<item>`` per entry (EC2's ``...Set`` lists), a bool is
``true``/``false``, a datetime ISO 8601 in UTC with a ``Z``.
"""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return str(value)


def _fill(elem: ET.Element, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, child in value.items():
            if child is not None:
                _fill(ET.SubElement(elem, key), child)
    elif isinstance(value, (list, tuple)):
        for child in value:
            _fill(ET.SubElement(elem, "item"), child)
    else:
        elem.text = _text(value)


def response(action: str, request_id: str, body: Mapping[str, Any]) -> bytes:
    """``<{action}Response xmlns=...><requestId>`` and ``body``."""
    root = ET.Element(f"{action}Response", xmlns=NAMESPACE)
    ET.SubElement(root, "requestId").text = request_id
    _fill(root, body)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def error(code: str, message: str, request_id: str) -> bytes:
    """``<Response><Errors><Error><Code>..</Code><Message>..</Message></Error></Errors><RequestID>``."""
    root = ET.Element("Response")
    err = ET.SubElement(ET.SubElement(root, "Errors"), "Error")
    ET.SubElement(err, "Code").text = code
    ET.SubElement(err, "Message").text = message
    ET.SubElement(root, "RequestID").text = request_id
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def iso(value: Any) -> str | None:
    """A time from a view (a datetime or an ISO string) as EC2 writes it; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return _text(value)
