"""Bulk delete (Swift's ``bulk`` middleware, ``?bulk-delete``) and its report, also used for SLO deletes.

Each path is deleted as its own request would be (access, versioning); the
report counts what was deleted and what was not found and lists the errors,
in Swift's shape (``Number Deleted``, ``Number Not Found``, ``Errors``,
``Response Status``, ``Response Body``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote

from oslo_config import cfg

from cumulo import exception
from cumulo.contracts.object import Caller, SwiftError
from cumulo.interfaces.object import ObjectError, ObjectNotFound
from cumulo_service_object.access import Access
from cumulo_service_object.common import STATUS
from cumulo_service_object.containers import Containers
from cumulo_service_object.objects import Objects


def _report() -> dict[str, Any]:
    return {"Number Deleted": 0, "Number Not Found": 0, "Errors": [], "Response Status": "200 OK",
            "Response Body": ""}


def _finish(report: dict[str, Any]) -> dict[str, Any]:
    if report["Errors"]:
        codes = sorted({int(e[1].split()[0]) for e in report["Errors"]})
        worst = codes[-1] if codes[-1] >= 500 else 400
        report["Response Status"] = f"{worst} {STATUS.get(worst, 'Error')}"
    return report


class Bulk:
    """Deleting many objects and containers in one request."""

    def __init__(self, conf: cfg.ConfigOpts, access: Access, objects: Objects, containers: Containers) -> None:
        self.conf = conf
        self.access = access
        self.objects = objects
        self.containers = containers

    def bulk_delete(self, caller: Caller, account: str, paths: list[str]) -> dict[str, Any]:
        """Delete ``/container/object`` and ``/container`` paths (URL-quoted); Swift's report shape.

        :raises SwiftError: 413 above ``[object] max_deletes_per_request`` paths.
        """
        self.access.check_account(account)
        paths = [p.strip() for p in paths if p.strip()]
        if len(paths) > self.conf.object.max_deletes_per_request:
            raise SwiftError(413, f"Maximum Bulk Deletes: {self.conf.object.max_deletes_per_request} per request")
        report = _report()
        for raw in paths:
            path = unquote(raw).lstrip("/")
            c, _, o = path.partition("/")
            if not c:
                report["Errors"].append([quote(raw), "400 Bad Request"])
                continue
            self._delete_one(caller, account, c, o or None, report)
        return _finish(report)

    def delete_objects(self, caller: Caller, account: str, targets: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """Delete each ``(container, object)``; the report of a bulk delete."""
        report = _report()
        for c, o in targets:
            self._delete_one(caller, account, c, o, report)
        return _finish(report)

    def _delete_one(self, caller: Caller, account: str, c: str, o: str | None, report: dict[str, Any]) -> None:
        name = "/" + c + ("/" + o if o else "")
        try:
            if o:
                self.objects.object_delete(caller, account, c, o)
            else:
                self.containers.container_delete(caller, account, c)
            report["Number Deleted"] += 1
        except (exception.NotFound, ObjectNotFound):
            report["Number Not Found"] += 1
        except (exception.CumuloError, ObjectError) as err:
            code = getattr(err, "code", 500)
            title = getattr(err, "title", None) or STATUS.get(code, "Error")
            if isinstance(err, exception.Conflict) or code == 409:
                title = "Conflict"
            report["Errors"].append([quote(name), f"{code} {title}"])
