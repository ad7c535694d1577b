"""Versioned writes (Swift's ``versioned_writes`` middleware): ``X-Versions-Location`` and ``X-History-Location``.

Stack mode (versions): a PUT archives the object it replaces, a DELETE
restores the newest archived version. History mode: PUT and DELETE archive,
nothing is restored. Archived names are ``<3 hex digits: name length><name>/<timestamp>``.
"""

from __future__ import annotations

from collections.abc import Mapping

from cumulo.contracts.object import SwiftError, timestamp
from cumulo.interfaces.object import ObjectNotFound
from cumulo.utils.metadata import ci_get
from cumulo_service_object.common import close
from cumulo_service_object.store import Store


def version_prefix(obj: str) -> str:
    """The prefix of ``obj``'s archived versions (they sort by time after it)."""
    return "{:03x}{}/".format(len(obj.encode("utf-8")), obj)


class Versioning:
    """Archiving and restoring through ``store`` (no access checks: the caller wrote the object)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def archive(self, account: str, container: str, obj: str, cmeta: Mapping[str, str]) -> None:
        """Copy the current object into the versions/history container before it is replaced.

        :raises SwiftError: 412 when that container does not exist.
        """
        location = ci_get(cmeta, "X-Versions-Location") or ci_get(cmeta, "X-History-Location")
        if not location:
            return
        try:
            current = self.store.get_object(account, container, obj)
        except ObjectNotFound:
            return
        if ci_get(current.metadata, "X-Object-Manifest"):
            close(current.body)
            return  # Swift does not version DLO manifests
        name = version_prefix(obj) + timestamp(current.last_modified)
        try:
            self.store.backend.put_object(account, location, name, current.body or iter(()), current.content_type,
                                          dict(current.metadata), current.etag)
        except ObjectNotFound:
            raise SwiftError(412, f"The versions container {location} does not exist") from None

    def restore_previous(self, account: str, container: str, obj: str, location: str) -> bool:
        """Stack mode DELETE: the newest archived version replaces the object. False if there is none."""
        try:
            rows = self.store.backend.list_objects(account, location, prefix=version_prefix(obj), reverse=True,
                                                   limit=1)
        except ObjectNotFound:
            return False
        if not rows:
            return False
        name = rows[0]["name"]
        version = self.store.get_object(account, location, name)
        self.store.backend.put_object(account, container, obj, version.body or iter(()), version.content_type,
                                      dict(version.metadata), version.etag)
        try:
            self.store.backend.delete_object(account, location, name)
        except ObjectNotFound:
            pass
        return True
