"""Static large objects (Swift's ``slo`` middleware): ``multipart-manifest=put|get|delete``.

A manifest is a JSON list of :class:`~cumulo.contracts.object.ManifestEntry`
stored as the object, marked ``X-Static-Large-Object`` with its content's
etag and size in sysmeta. Every segment is checked when the manifest is put
(it exists, the caller may read it, etag, size and range match); nested
manifests are segments too, up to :data:`~.common.MAX_MANIFEST_DEPTH` deep.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, cast

from oslo_config import cfg

from cumulo import exception
from cumulo.contracts.object import Caller, ManifestEntry, SwiftError, iso, split_copy_path
from cumulo.interfaces.object import ObjectInfo, ObjectNotFound
from cumulo.utils.metadata import ci_get
from cumulo.utils.ranges import Unsatisfiable, parse_ranges
from cumulo.wsgi.request import parse_json
from cumulo_service_object.access import Access
from cumulo_service_object.common import MAX_MANIFEST_DEPTH, SLO_ETAG, SLO_SIZE, Segment, truthy
from cumulo_service_object.store import Store
from cumulo_service_object.writes import Writer


def is_slo(metadata: Mapping[str, str]) -> bool:
    """Whether an object with this metadata is a static large object manifest."""
    return truthy(ci_get(metadata, "X-Static-Large-Object"))


def segment(item: ManifestEntry) -> Segment:
    """The part of a segment object that one manifest entry uses."""
    container, _, obj = str(item.get("name", "")).lstrip("/").partition("/")
    size = int(item.get("bytes", 0))
    offset, length = 0, size
    rng = item.get("range")
    if rng:
        first, _, last = str(rng).partition("-")
        offset, length = int(first), int(last) - int(first) + 1
    return Segment(container, obj, offset, length, bool(item.get("sub_slo")))


def manifest_etag(manifest: list[ManifestEntry]) -> str:
    """The SLO etag: MD5 of the segments' etags (and ranges), as Swift computes it."""
    parts = []
    for item in manifest:
        parts.append(item.get("hash", "") + (f":{item['range']};" if item.get("range") else ""))
    return hashlib.md5("".join(parts).encode(), usedforsecurity=False).hexdigest()


def manifest_size(manifest: list[ManifestEntry]) -> int:
    """The size of a manifest's content."""
    return sum(segment(i).length for i in manifest)


class StaticLargeObjects:
    """Putting, authorising and deleting static large object manifests."""

    def __init__(self, conf: cfg.ConfigOpts, store: Store, access: Access, writer: Writer) -> None:
        self.conf = conf
        self.store = store
        self.access = access
        self.writer = writer

    def load_manifest(self, account: str, container: str, obj: str,
                      body: Iterable[bytes] | None = None) -> list[ManifestEntry]:
        """The stored manifest (from ``body`` when the object is already open).

        :raises SwiftError: 500 when it is not a JSON list.
        """
        if body is None:
            body = self.store.get_object(account, container, obj).body or ()
        raw = b"".join(body)
        try:
            manifest = json.loads(raw)
            if not isinstance(manifest, list):
                raise ValueError("not a list")
        except (ValueError, RecursionError):
            raise SwiftError(500, f"The manifest of {obj} is corrupt") from None
        return cast(list[ManifestEntry], manifest)

    # -- multipart-manifest=put
    def put(self, caller: Caller, account: str, container: str, obj: str, cinfo: dict[str, Any],
            body: Iterable[bytes], headers: Mapping[str, str]) -> ObjectInfo:
        """Store an SLO manifest after checking every segment; returns the info with the quoted SLO etag.

        :raises SwiftError: 413 (manifest too large), 400 (not a manifest, or one error per bad
            segment), 422 (``ETag`` given and not the manifest's).
        """
        o = self.conf.object
        raw = bytearray()
        for chunk in body:
            raw.extend(chunk)
            if len(raw) > o.max_manifest_size:
                raise SwiftError(413, f"Manifest File > {o.max_manifest_size} bytes")
        try:
            items = parse_json(bytes(raw))
        except exception.Invalid as err:
            raise SwiftError(400, f"Manifest must be valid JSON: {err.message}") from None
        if not isinstance(items, list) or not items:
            raise SwiftError(400, "Manifest must be a non-empty JSON list of segments.")
        if len(items) > o.max_manifest_segments:
            raise SwiftError(400, f"Too many segments: at most {o.max_manifest_segments}")
        manifest: list[ManifestEntry] = []
        errors = []
        for index, item in enumerate(items):
            try:
                manifest.append(self._entry(caller, account, item, index == len(items) - 1))
            except SwiftError as err:
                errors.append(f"{item.get('path') if isinstance(item, dict) else item!r}, {err.message}")
        if errors:
            raise SwiftError(400, "Errors:\n" + "\n".join(errors))
        slo_etag = manifest_etag(manifest)
        wanted = (headers.get("ETag") or "").strip('"')
        if wanted and wanted != slo_etag:
            raise SwiftError(422, f"Unprocessable Entity: ETag {wanted} does not match the manifest's {slo_etag}")
        meta = self.writer.object_meta(headers)
        meta.update({"X-Static-Large-Object": "True", SLO_ETAG: slo_etag, SLO_SIZE: str(manifest_size(manifest))})
        data = json.dumps(manifest).encode()
        # swift_bytes makes listings show the content's size, as Swift does.
        ctype = f"{self.writer.content_type(headers, obj)};swift_bytes={meta[SLO_SIZE]}"
        info = self.writer.store_object(caller, account, container, obj, cinfo, [data], len(data), ctype, meta,
                                        None, headers)
        info.etag = f'"{slo_etag}"'
        return info

    def _entry(self, caller: Caller, account: str, item: Any, last: bool) -> ManifestEntry:
        """The stored entry for one segment the client listed, after checking it."""
        if not isinstance(item, dict):
            raise SwiftError(400, "each segment must be an object with 'path'")
        if "data" in item:
            raise SwiftError(400, "inline data segments are not supported")
        unknown = set(item) - {"path", "etag", "size_bytes", "range"}
        if unknown:
            raise SwiftError(400, f"unknown keys {sorted(unknown)}")
        path = item.get("path")
        if not isinstance(path, str):
            raise SwiftError(400, "'path' must be a string /container/object")
        seg_container, seg_obj = split_copy_path(path, "path")
        try:
            self.access.authorize(caller, "read", account, seg_container, seg_obj)
            info = self.store.head_object(account, seg_container, seg_obj)
        except ObjectNotFound:
            raise SwiftError(404, "404 Not Found") from None
        except exception.CumuloError as err:
            raise SwiftError(err.code, f"{err.code} {err.title}") from None
        sub_slo = is_slo(info.metadata)
        if sub_slo:
            size = int(ci_get(info.metadata, SLO_SIZE) or 0)
            etag = ci_get(info.metadata, SLO_ETAG) or ""
        else:
            size, etag = info.size, info.etag
        want_etag, want_size = item.get("etag"), item.get("size_bytes")
        if want_etag not in (None, "") and str(want_etag).strip('"') != etag:
            raise SwiftError(400, "Etag Mismatch")
        if want_size not in (None, ""):
            try:
                if int(want_size) != size:
                    raise SwiftError(400, "Size Mismatch")
            except (TypeError, ValueError):
                raise SwiftError(400, "Invalid size_bytes") from None
        entry: ManifestEntry = {"name": "/" + seg_container + "/" + seg_obj, "hash": etag, "bytes": size,
                                "content_type": info.content_type, "last_modified": iso(info.last_modified)}
        length = size
        if item.get("range") not in (None, ""):
            try:
                ranges = parse_ranges("bytes=" + str(item["range"]), size)
            except Unsatisfiable:
                ranges = None
            if not ranges or len(ranges) != 1:
                raise SwiftError(400, "Unsatisfiable Range")
            s, e = ranges[0]
            entry["range"] = f"{s}-{e - 1}"
            length = e - s
        if sub_slo:
            entry["sub_slo"] = True
        if length < self.conf.object.min_segment_size and not last:
            raise SwiftError(400, f"Too small; each segment must be at least {self.conf.object.min_segment_size} "
                                  "byte(s).")
        return entry

    # -- reading
    def authorize(self, caller: Caller, account: str, segments: list[Segment], depth: int = 0,
                  seen: set[tuple[str, str]] | None = None) -> None:
        """Check every segment container of an SLO (nested manifests too) before any byte is sent.

        :raises cumulo.exception.NotAuthenticated: (401) or :class:`~cumulo.exception.Forbidden`
            (403): a segment container the caller may not read.
        """
        if self.access.reads_whole_account(caller, account):
            return
        seen = set() if seen is None else seen
        for container in dict.fromkeys(seg.container for seg in segments):
            self.access.authorize_segments(caller, account, container, "read")
        if depth >= MAX_MANIFEST_DEPTH:
            return  # reading deeper fails with 409 anyway
        for seg in segments:
            if not seg.sub_slo or (seg.container, seg.obj) in seen:
                continue
            seen.add((seg.container, seg.obj))
            try:
                info = self.store.head_object(account, seg.container, seg.obj)
            except ObjectNotFound:
                continue  # the read reports the missing segment
            if is_slo(info.metadata):
                sub = [segment(item) for item in self.load_manifest(account, seg.container, seg.obj)]
                self.authorize(caller, account, sub, depth + 1, seen)

    # -- multipart-manifest=delete
    def delete_targets(self, caller: Caller, account: str, container: str, obj: str) -> list[tuple[str, str]]:
        """What deleting the manifest deletes: its segments (nested manifests' too), then itself, once each.

        :raises cumulo.exception.NotFound: the manifest does not exist.
        """
        targets: list[tuple[str, str]] = []

        def collect(c: str, o: str, depth: int) -> None:
            try:
                info = self.store.head_object(account, c, o)
            except ObjectNotFound:
                targets.append((c, o))
                return
            if is_slo(info.metadata) and depth < MAX_MANIFEST_DEPTH:
                for item in self.load_manifest(account, c, o):
                    seg = segment(item)
                    collect(seg.container, seg.obj, depth + 1)
            targets.append((c, o))

        self.access.authorize(caller, "write", account, container, obj)
        self.store.object_or_404(account, container, obj)
        collect(container, obj, 0)
        return list(dict.fromkeys(targets))
