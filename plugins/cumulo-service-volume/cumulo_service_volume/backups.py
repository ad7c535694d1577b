"""Backups of volumes to Object Storage: full and incremental, chunked, a SHA-256 per chunk.

A backup reads the volume's raw data from the driver (``copy_volume_to_image(..., "raw")``),
cuts it into ``[volume] backup_chunk_size`` chunks and writes each chunk that is not all
zeros as an object (compressed, ``[volume] backup_compression_algorithm``) in the project's
account (``AUTH_<project>``), container ``[volume] backup_container`` unless the request names
one. Its map object records, for each chunk, the SHA-256 of its data and the backup whose
object holds it, or nothing for a chunk of zeros. An incremental backup compares each chunk's
SHA-256 with its parent's map (the volume's latest available backup) and stores only the
chunks that changed; its map names the parent's objects for the others. A restore streams the
chunks back through the driver (``copy_image_to_volume(..., "raw")``), each checked against its
SHA-256, so the data is byte-identical.

A backup of a snapshot (``snapshot_id``, which must be of ``volume_id`` and available) reads
the snapshot's data through a temporary volume the driver makes from it
(``create_volume_from_snapshot``, the driver interface has no way to read a snapshot) and
deletes afterwards; its ``data_timestamp`` is the snapshot's creation time. The parent of an
incremental backup is the available backup of the volume with the newest ``data_timestamp``
(for a snapshot: not newer than the snapshot). Backups do not depend on their snapshot: it can
be deleted, as in Cinder.

A backup with incremental children cannot be deleted (as Cinder refuses it); deleting one
removes its own objects only.

Status lifecycle: backup ``creating -> available`` (``error``), ``available -> restoring ->
available``, ``available -> deleting -> (row marked deleted)`` (``error_deleting``); the
volume is ``backing-up`` meanwhile (then back to what it was), a restore target
``restoring-backup`` (then ``available``, or ``error_restoring``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import uuid
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa

from cumulo import db, exception, policy
from cumulo.context import RequestContext
from cumulo.interfaces import volume as iface
from cumulo_service_volume import listing
from cumulo_service_volume.backend import Backend
from cumulo_service_volume.common import (
    as_bool,
    as_metadata,
    as_text,
    driver_refusal,
    driver_snapshot,
    driver_volume,
    iso,
    may_see,
    now,
)
from cumulo_service_volume.models import Backup, Volume
from cumulo_service_volume.quotas import Quotas
from cumulo_service_volume.volumes import Volumes, load, load_snapshot

LOG = logging.getLogger(__name__)

SORT_KEYS = ("created_at", "updated_at", "id", "name", "size", "status", "volume_id", "project_id")
_REFUSALS = (iface.VolumeBusy, iface.InvalidSize, iface.InvalidImage)
MAP_VERSION = 1


class BackupNotFound(exception.NotFound):
    """No such backup, or the caller may not see it."""


class BackupDataError(exception.CumuloError):
    """A backup's objects are missing or do not match their recorded SHA-256 (the restore stops)."""

    code = 500


def backup_view(row: Backup, has_children: bool) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "description": row.description, "status": row.status,
            "size": row.size, "object_count": row.object_count, "container": row.container,
            "volume_id": row.volume_id, "project_id": row.project_id, "user_id": row.user_id,
            "availability_zone": row.availability_zone, "fail_reason": row.fail_reason,
            "is_incremental": row.parent_id is not None, "parent_id": row.parent_id,
            "has_dependent_backups": has_children, "snapshot_id": row.snapshot_id,
            "metadata": json.loads(row.metadata_json) if row.metadata_json else {},
            "data_timestamp": iso(row.data_timestamp or row.created_at),
            "created_at": iso(row.created_at), "updated_at": iso(row.updated_at)}


def rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """``chunks`` as pieces of exactly ``size`` bytes (the last may be shorter)."""
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)


class Backups:
    def __init__(self, hub: Any, backend: Backend, quotas: Quotas, volumes: Volumes) -> None:
        self.hub = hub
        self.conf = hub.conf
        self.backend = backend
        self.quotas = quotas
        self.volumes = volumes

    @property
    def objects(self) -> Any:
        try:
            return self.hub.object
        except LookupError:
            raise exception.ServiceUnavailable(reason="Backups need Object Storage, which is not installed "
                                                      "on this cloud.") from None

    # -- reads
    @staticmethod
    def _load(s: Any, ctx: RequestContext, backup_id: str) -> Backup:
        row = s.get(Backup, backup_id)
        if row is None or row.deleted or not may_see(ctx, row.project_id):
            raise BackupNotFound(resource="Backup", id=backup_id)
        return row

    @staticmethod
    def _has_children(s: Any, backup_id: str) -> bool:
        return s.execute(sa.select(Backup.id).where(Backup.parent_id == backup_id,
                                                    Backup.deleted == sa.false())).first() is not None

    def get(self, ctx: RequestContext, backup_id: str) -> dict[str, Any]:
        with db.reader() as s:
            row = self._load(s, ctx, backup_id)
            policy.authorize(ctx, "backup:get", {"project_id": row.project_id})
            return backup_view(row, self._has_children(s, row.id))

    def list(self, ctx: RequestContext, filters: dict[str, Any], sort_params: dict[str, Any] | None = None,
             limit: int | None = None, marker: str | None = None,
             offset: int | None = None) -> tuple[list[dict[str, Any]], int]:
        policy.authorize(ctx, "backup:get_all", {"project_id": ctx.project_id})
        filters = dict(filters)
        all_tenants = ctx.is_admin and as_bool(filters.pop("all_tenants", "false") or "true", "all_tenants")
        project = filters.pop("project_id", None) if ctx.is_admin else None
        sort = listing.parse_sort(sort_params or {}, SORT_KEYS)
        with db.reader() as s:
            q = sa.select(Backup).where(Backup.deleted == sa.false())
            if not all_tenants or project:
                q = q.where(Backup.project_id == (project or ctx.project_id))
            rows = s.execute(q).scalars().all()
            parents = {r.parent_id for r in rows if r.parent_id}
            items = [backup_view(r, r.id in parents) for r in rows]
        match = listing.matcher(filters, {"name": str, "status": str, "volume_id": str, "id": str})
        items = listing.sort_items([i for i in items if match(i)], sort)
        return listing.page(items, marker, limit, offset, "backups"), len(items)

    # -- create
    def create(self, ctx: RequestContext, volume_id: Any, name: Any = None, description: Any = None,
               container: Any = None, incremental: Any = False, force: Any = False,
               metadata: Any = None, snapshot_id: Any = None) -> dict[str, Any]:
        """Back the volume (or its snapshot ``snapshot_id``) up; ``incremental``: only what changed since
        the latest available backup with older data.

        :raises cumulo.exception.Invalid: the volume is not available (in-use needs ``force``), the
            snapshot is not available or not of this volume, an incremental backup has no parent,
            or the driver refuses to read the data.
        :raises cumulo.exception.NotFound: no such volume or snapshot.
        :raises VolumeQuotaExceeded: the backups or backup_gigabytes quota (413).
        """
        if not isinstance(volume_id, str) or not volume_id:
            raise exception.ValidationError(field="volume_id", reason="is required")
        if snapshot_id is not None and (not isinstance(snapshot_id, str) or not snapshot_id):
            raise exception.ValidationError(field="snapshot_id", reason=f"{snapshot_id!r} is not an id")
        name = as_text(name, "name")
        description = as_text(description, "description", maximum=65535)
        container = as_text(container, "container") or self.conf.volume.backup_container
        if not container or "/" in container:
            raise exception.ValidationError(field="container", reason="must be a container name without '/'")
        incremental = as_bool(incremental, "incremental")
        forced = as_bool(force, "force")
        meta = as_metadata(metadata)
        self.backend.require("image")
        if snapshot_id:
            self.backend.require("snapshot")
        objects = self.objects
        with db.transaction() as s:
            vol = load(s, ctx, volume_id)
            policy.authorize(ctx, "backup:create", {"project_id": vol.project_id})
            snap = load_snapshot(s, ctx, snapshot_id) if snapshot_id else None
            if snap is not None:  # as Cinder: the volume's own status does not matter then
                if snap.volume_id != volume_id:
                    raise exception.Invalid(reason=f"Volume {volume_id} does not match with snapshot.volume_id "
                                                   f"{snap.volume_id}.")
                if snap.status != "available":
                    raise exception.Invalid(reason=f"Snapshot to be backed up must be available, but the current "
                                                   f"status is \"{snap.status}\".")
            elif not (vol.status == "available" or (forced and vol.status == "in-use")):
                raise exception.Invalid(reason=f"Volume {volume_id} to be backed up must be available or in-use "
                                               f"(with force), but the current status is \"{vol.status}\".")
            data_timestamp = snap.created_at if snap is not None else now()
            size = snap.volume_size if snap is not None else vol.size
            parent = None
            if incremental:
                q = sa.select(Backup).where(Backup.volume_id == volume_id, Backup.deleted == sa.false(),
                                            Backup.status == "available")
                if snap is not None:  # a parent holds data no newer than the snapshot's
                    q = q.where(Backup.data_timestamp <= data_timestamp)
                parent = s.execute(q.order_by(Backup.data_timestamp.desc(), Backup.created_at.desc())
                                   ).scalars().first()
                if parent is None:
                    raise exception.Invalid(reason="No backups available to do an incremental backup.")
            self._check_quota(s, vol.project_id, size)
            backup_id = str(uuid.uuid4())
            row = Backup(id=backup_id, volume_id=volume_id, project_id=vol.project_id, user_id=ctx.user_id,
                         name=name, description=description, status="creating", size=size, object_count=0,
                         container=parent.container if parent is not None else container,
                         object_prefix=f"volume_{volume_id}/{backup_id}", parent_id=parent.id if parent else None,
                         host=vol.host, availability_zone=vol.availability_zone, deleted=False, created_at=now(),
                         data_timestamp=data_timestamp, snapshot_id=snap.id if snap is not None else None,
                         metadata_json=json.dumps(meta) if meta else None)
            s.add(row)
            previous = vol.status
            if snap is None:
                vol.status = "backing-up"
            volume = driver_volume(vol)
            volume_meta = {m.key: m.value for m in vol.metadata_items}  # restored with the data, as Cinder's
            snapshot = driver_snapshot(snap) if snap is not None else None
            account, container_name, prefix = f"AUTH_{vol.project_id}", row.container, row.object_prefix
            parent_prefix = parent.object_prefix if parent is not None else None
        try:
            parent_map = self._read_map(objects, account, container_name, parent_prefix) if parent_prefix else None
            if snapshot is None:
                with self.backend.locked(volume_id):
                    count = self._write(objects, volume, account, container_name, prefix, backup_id, parent_map,
                                        volume_metadata=volume_meta)
            else:
                # the lock keeps a snapshot delete (which takes it too) waiting until the data is read
                with self.backend.locked(volume_id, snapshot.id):
                    count = self._write_snapshot(objects, volume, snapshot, account, container_name, prefix,
                                                 backup_id, parent_map)
        except Exception as err:
            if snapshot is None:
                self.volumes._set_status(volume_id, previous)
            self._remove_objects(objects, account, container_name, prefix, backup_id)
            if isinstance(err, _REFUSALS):
                with db.transaction() as s:
                    found = s.get(Backup, backup_id)
                    if found is not None:
                        s.delete(found)
                what = f"snapshot {snapshot.id}" if snapshot is not None else f"volume {volume_id}"
                raise driver_refusal(err, f"The volume driver refused to read {what}") from None
            LOG.exception("Backing up volume %s failed", volume_id)
            with db.transaction() as s:
                found = s.get(Backup, backup_id)
                if found is not None:
                    found.status, found.fail_reason = "error", str(err) or type(err).__name__
            return self.get(ctx, backup_id)
        if snapshot is None:
            self.volumes._set_status(volume_id, previous)
        with db.transaction() as s:
            found = s.get(Backup, backup_id)
            assert found is not None
            found.status, found.object_count, found.updated_at = "available", count, now()
        return self.get(ctx, backup_id)

    def _check_quota(self, s: Any, project_id: str, size: int) -> None:
        self.quotas.check(s, project_id, backups=1, backup_gigabytes=size)

    def _write_snapshot(self, objects: Any, volume: iface.Volume, snapshot: iface.Snapshot, account: str,
                        container: str, prefix: str, backup_id: str, parent_map: dict[str, Any] | None) -> int:
        """:meth:`_write` of the snapshot's data, read through a temporary volume made from it (then deleted).

        The temporary volume has no row: only this call knows it, and it deletes it whatever happens.
        """
        driver = self.backend.driver
        temp = dataclasses.replace(volume, id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"backup-temp/{backup_id}")),
                                   size_gib=snapshot.volume_size_gib, name=f"backup-{backup_id}-temp",
                                   provider_location=None, multiattach=False)
        made = driver.create_volume_from_snapshot(temp, snapshot)
        temp = dataclasses.replace(temp, provider_location=made.provider_location)
        try:
            return self._write(objects, temp, account, container, prefix, backup_id, parent_map,
                               source_volume_id=volume.id)
        finally:
            try:
                driver.delete_volume(temp)
            except Exception:  # the backup itself is sound; the leftover is only logged
                LOG.exception("Deleting the temporary volume %s of backup %s failed", temp.id, backup_id)

    def _compress(self, data: bytes) -> bytes:
        return zlib.compress(data, 1) if self.conf.volume.backup_compression_algorithm == "zlib" else data

    def _write(self, objects: Any, volume: iface.Volume, account: str, container: str, prefix: str, backup_id: str,
               parent_map: dict[str, Any] | None, source_volume_id: str | None = None,
               volume_metadata: dict[str, str] | None = None) -> int:
        """Store the chunks that differ from ``parent_map`` and the map; returns the objects written."""
        objects.put_container(account, container, {})
        chunk_size = int(parent_map["chunk_size"]) if parent_map else int(self.conf.volume.backup_chunk_size)
        parent_chunks: list[Any] = parent_map["chunks"] if parent_map else []
        compression = self.conf.volume.backup_compression_algorithm
        entries: list[dict[str, Any] | None] = []
        written = 0
        zeros = bytes(chunk_size)
        zero_digest = hashlib.sha256(zeros).hexdigest()  # most chunks of a thin volume: hashed once
        source = self.backend.driver.copy_volume_to_image(volume, "raw")
        try:
            for index, data in enumerate(rechunk(source, chunk_size)):
                inherited = parent_chunks[index] if index < len(parent_chunks) else None
                if data == zeros[:len(data)]:
                    digest = zero_digest if len(data) == chunk_size else hashlib.sha256(data).hexdigest()
                    entries.append({"sha256": digest, "length": len(data), "object": None, "compression": None})
                    continue
                digest = hashlib.sha256(data).hexdigest()
                if inherited and inherited.get("sha256") == digest and inherited.get("object"):
                    entries.append(dict(inherited))
                else:
                    obj = f"{prefix}/chunk-{index:06d}"
                    objects.put_object(account, container, obj, iter([self._compress(data)]),
                                       "application/octet-stream", {"sha256": digest, "backup-id": backup_id})
                    written += 1
                    entries.append({"sha256": digest, "length": len(data), "object": obj,
                                    "compression": compression if compression != "none" else None})
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
        document = {"version": MAP_VERSION, "backup_id": backup_id, "volume_id": source_volume_id or volume.id,
                    "size_gib": volume.size_gib, "chunk_size": chunk_size, "chunks": entries,
                    "volume_metadata": volume_metadata or {}}
        objects.put_object(account, container, f"{prefix}/map", iter([json.dumps(document).encode()]),
                           "application/json", {"backup-id": backup_id})
        return written + 1

    @staticmethod
    def _read_map(objects: Any, account: str, container: str, prefix: str) -> dict[str, Any]:
        try:
            info = objects.get_object(account, container, f"{prefix}/map")
        except Exception as err:
            raise BackupDataError(f"The map of backup {prefix} is missing: {err}") from None
        return dict(json.loads(b"".join(info.body or [])))

    @staticmethod
    def _remove_objects(objects: Any, account: str, container: str, prefix: str, backup_id: str) -> None:
        """Delete the objects this backup wrote: those under its prefix (what a failed write left too)."""
        names: list[str] = []
        if hasattr(objects, "list_objects"):
            try:
                while True:  # listings come in pages
                    page = objects.list_objects(account, container, prefix=prefix + "/",
                                                marker=names[-1] if names else "")
                    if not page:
                        break
                    names += [o["name"] for o in page if "name" in o]
            except Exception:  # no container: nothing was written
                pass
        else:  # a service without listings (an in-memory double): what its map names, and the map
            try:
                document = Backups._read_map(objects, account, container, prefix)
                names = [c["object"] for c in document["chunks"] if (c.get("object") or "").startswith(prefix)]
            except BackupDataError:
                pass
            names.append(f"{prefix}/map")
        for name in names:
            try:
                objects.delete_object(account, container, name)
            except Exception:
                LOG.debug("Backup %s object %s was already gone", backup_id, name)

    # -- restore
    def restore(self, ctx: RequestContext, backup_id: str, volume_id: Any = None, name: Any = None) -> dict[str, Any]:
        """Write the backup into ``volume_id`` (available, at least the backup's size) or a new volume.

        :raises cumulo.exception.Invalid: the backup is not available, the target is not available
            or is smaller than the backup, or the driver refuses.
        :raises cumulo.exception.NotFound: no such target volume.
        """
        name = as_text(name, "name")
        with db.transaction() as s:
            row = self._load(s, ctx, backup_id)
            policy.authorize(ctx, "backup:restore", {"project_id": row.project_id})
            if row.status != "available":
                raise exception.Invalid(reason=f"Backup status must be available, but it is '{row.status}'.")
            size = row.size
        if volume_id is None:
            made = self.volumes.create(ctx, {"size": size, "name": name or f"restore_backup_{backup_id}"})
            if made["status"] != "available":
                raise exception.ServiceUnavailable(reason=f"The volume to restore into went to {made['status']}.")
            volume_id = made["id"]
        if not isinstance(volume_id, str):
            raise exception.ValidationError(field="volume_id", reason=f"{volume_id!r} is not an id")
        with db.transaction() as s:
            row = self._load(s, ctx, backup_id)
            vol = load(s, ctx, volume_id)
            policy.authorize(ctx, "backup:restore", {"project_id": vol.project_id})
            if vol.status != "available":
                raise exception.Invalid(reason=f"Volume to be restored to must be available, but the current status "
                                               f"is \"{vol.status}\".")
            if vol.size < row.size:
                raise exception.Invalid(reason=f"Volume to be restored to is smaller ({vol.size}GB) than the backup "
                                               f"to be restored ({row.size}GB).")
            if row.status != "available":
                raise exception.Invalid(reason=f"Backup status must be available, but it is '{row.status}'.")
            row.status, row.restore_volume_id = "restoring", volume_id
            vol.status = "restoring-backup"
            volume = driver_volume(vol)
            account, container, prefix = f"AUTH_{row.project_id}", row.container, row.object_prefix
            volume_name = vol.name
        objects = self.objects
        try:
            document = self._read_map(objects, account, container, prefix)
            with self.backend.locked(volume_id):
                self.backend.driver.copy_image_to_volume(volume, self._chunks(objects, account, container, document),
                                                         "raw")
        except Exception as err:
            self._set_backup(backup_id, "available")
            if isinstance(err, _REFUSALS):
                self.volumes._set_status(volume_id, "available")
                raise driver_refusal(err, f"The volume driver refused to restore into volume {volume_id}") from None
            LOG.exception("Restoring backup %s into volume %s failed", backup_id, volume_id)
            self.volumes._set_status(volume_id, "error_restoring", str(err))
            raise exception.ServiceUnavailable(reason=f"Restoring backup {backup_id} failed: {err}") from None
        self._set_backup(backup_id, "available")
        self.volumes._set_status(volume_id, "available")
        if document.get("volume_metadata"):  # the backed-up volume's metadata comes back with its data
            with db.transaction() as s:
                target = s.get(Volume, volume_id)
                if target is not None:
                    Volumes._replace_metadata(target, {**{m.key: m.value for m in target.metadata_items},
                                                       **document["volume_metadata"]})
        return {"backup_id": backup_id, "volume_id": volume_id, "volume_name": volume_name}

    def _chunks(self, objects: Any, account: str, container: str, document: dict[str, Any]) -> Iterator[bytes]:
        for index, entry in enumerate(document["chunks"]):
            if entry.get("object") is None:
                yield bytes(int(entry["length"]))
                continue
            try:
                info = objects.get_object(account, container, entry["object"])
            except Exception as err:
                raise BackupDataError(f"Backup object {entry['object']} is missing: {err}") from None
            data = b"".join(info.body or [])
            if entry.get("compression") == "zlib":
                data = zlib.decompress(data)
            if hashlib.sha256(data).hexdigest() != entry["sha256"] or len(data) != int(entry["length"]):
                raise BackupDataError(f"Backup chunk {index} ({entry['object']}) does not match its SHA-256.")
            yield data

    @staticmethod
    def _set_backup(backup_id: str, status: str) -> None:
        with db.transaction() as s:
            row = s.get(Backup, backup_id)
            if row is not None:
                row.status, row.updated_at = status, now()

    # -- delete
    def delete(self, ctx: RequestContext, backup_id: str, force: bool = False) -> None:
        """Delete the backup and its own objects.

        :raises cumulo.exception.Invalid: it has incremental children, or it is not available or
            error (unless ``force``).
        """
        with db.transaction() as s:
            row = self._load(s, ctx, backup_id)
            policy.authorize(ctx, "backup:backup-force_delete" if force else "backup:delete",
                             {"project_id": row.project_id})
            if self._has_children(s, row.id):
                raise exception.Invalid(reason=f"Incremental backups exist for backup {backup_id}; delete them "
                                               "first.")
            if not force and row.status not in ("available", "error", "error_deleting"):
                raise exception.Invalid(reason=f"Backup status must be available or error, but it is "
                                               f"'{row.status}'.")
            row.status = "deleting"
            account, container, prefix = f"AUTH_{row.project_id}", row.container, row.object_prefix
        try:
            self._remove_objects(self.objects, account, container, prefix, backup_id)
        except Exception as err:
            LOG.exception("Deleting backup %s failed", backup_id)
            with db.transaction() as s:
                found = s.get(Backup, backup_id)
                if found is not None:
                    found.status, found.fail_reason = "error_deleting", str(err)
            return
        with db.transaction() as s:
            found = s.get(Backup, backup_id)
            assert found is not None
            found.status, found.deleted, found.deleted_at = "deleted", True, now()

    def update(self, ctx: RequestContext, backup_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Cinder 3.9: a backup's ``name`` and ``description`` (and, 3.43, its ``metadata``, replaced)."""
        unknown = sorted(set(changes) - {"name", "description", "metadata"})
        if unknown:
            raise exception.ValidationError(field="backup", reason=f"cannot update {', '.join(unknown)}")
        if not changes:
            raise exception.Invalid(reason="Give a name, a description or metadata to update the backup with.")
        with db.transaction() as s:
            row = self._load(s, ctx, backup_id)
            policy.authorize(ctx, "backup:update", {"project_id": row.project_id})
            if "name" in changes:
                row.name = as_text(changes["name"], "name")
            if "description" in changes:
                row.description = as_text(changes["description"], "description", maximum=65535)
            if "metadata" in changes:
                row.metadata_json = json.dumps(as_metadata(changes["metadata"]))
            row.updated_at = now()
            s.flush()
            return backup_view(row, self._has_children(s, row.id))

    def reset_status(self, ctx: RequestContext, backup_id: str, status: Any) -> None:
        with db.transaction() as s:
            row = self._load(s, ctx, backup_id)
            policy.authorize(ctx, "volume_extension:backup_admin_actions:reset_status",
                             {"project_id": row.project_id})
            if status not in ("available", "error"):
                raise exception.ValidationError(field="status", reason="must be available or error")
            row.status, row.updated_at = str(status), now()


def sweep_backups(host: str) -> int:
    """After a restart: creating -> error, deleting -> error_deleting, restoring -> available."""
    moved = 0
    after = {"creating": "error", "deleting": "error_deleting", "restoring": "available"}
    with db.transaction() as s:
        for row in s.execute(sa.select(Backup).where(Backup.host == host, Backup.deleted == sa.false(),
                                                     Backup.status.in_(list(after)))).scalars():
            row.status, row.updated_at = after[row.status], now()
            moved += 1
        for vol in s.execute(sa.select(Volume).where(Volume.host == host, Volume.deleted == sa.false(),
                                                     Volume.status.in_(["backing-up", "restoring-backup"]))).scalars():
            if vol.status == "restoring-backup":
                vol.status = "error_restoring"
            else:
                vol.status = "in-use" if any(a.attach_status == "attached" for a in vol.attachments) else "available"
            moved += 1
    return moved
