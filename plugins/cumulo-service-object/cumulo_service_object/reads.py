"""Reading objects: access, expiry, and large objects resolved to the segments their content is made of.

:meth:`Reader.object_read` answers a :class:`~cumulo.contracts.object.Resolved`
whose reader fetches only the byte ranges asked for: a plain object in one
backend call (the already opened body when the whole object is read), a
manifest's content segment by segment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from oslo_config import cfg

from cumulo import exception
from cumulo.contracts.object import Caller, Resolved, SwiftError
from cumulo.interfaces.object import ObjectInfo, ObjectNotFound
from cumulo.utils.metadata import ci_get
from cumulo_service_object.access import Access
from cumulo_service_object.common import MAX_MANIFEST_DEPTH, SLO_ETAG, Segment, close
from cumulo_service_object.constraints import check_container_name, check_object_name
from cumulo_service_object.dlo import DynamicLargeObjects
from cumulo_service_object.slo import StaticLargeObjects, is_slo, manifest_etag, segment
from cumulo_service_object.store import Store

LOG = logging.getLogger(__name__)


class Reader:
    """``object_read``: an object, or a large object's content, ready to be served."""

    def __init__(self, conf: cfg.ConfigOpts, store: Store, access: Access, slo: StaticLargeObjects,
                 dlo: DynamicLargeObjects) -> None:
        self.conf = conf
        self.store = store
        self.access = access
        self.slo = slo
        self.dlo = dlo

    def object_read(self, caller: Caller, account: str, container: str, obj: str,
                    manifest_get: bool = False, head: bool = False) -> Resolved:
        """Look up an object for GET/HEAD/COPY; manifests resolve to their segments' content.

        Without ``head`` the object is opened at once (one backend call serves a whole
        plain object); call :meth:`Resolved.close` when its content will not be read.
        With ``manifest_get`` a manifest is the object itself (its stored manifest).
        """
        self.access.check_account(account)
        check_container_name(container, self.conf)
        check_object_name(obj, self.conf)
        self.access.authorize(caller, "read", account, container, obj)
        if head:
            info = self.store.object_or_404(account, container, obj)
        else:
            try:
                info = self.store.get_object(account, container, obj)
            except ObjectNotFound:
                raise exception.NotFound(f"Object {obj} not found") from None
        return self._resolve(caller, account, container, obj, info, manifest_get, 0)

    def _resolve(self, caller: Caller, account: str, container: str, obj: str, info: ObjectInfo,
                 manifest_get: bool, depth: int) -> Resolved:
        dlo = ci_get(info.metadata, "X-Object-Manifest")
        slo = is_slo(info.metadata)
        opened, info.body = info.body, None  # an already open body serves a whole plain read
        manifest = None
        if slo:
            manifest = self.slo.load_manifest(account, container, obj, opened)
            opened = None
            if not manifest_get:
                segments = [segment(item) for item in manifest]
                self.slo.authorize(caller, account, segments, depth)
                size = sum(s.length for s in segments)
                etag = '"%s"' % (ci_get(info.metadata, SLO_ETAG) or manifest_etag(manifest))
                return Resolved(account, container, obj, info, size, etag, "slo",
                                self._segment_reader(caller, account, segments, depth), manifest)
        elif dlo and not manifest_get:
            close(opened)
            segments, etag = self.dlo.segments(caller, account, container, obj, dlo)
            return Resolved(account, container, obj, info, sum(s.length for s in segments), etag, "dlo",
                            self._segment_reader(caller, account, segments, depth))
        expected = info.etag
        pending = [opened] if opened is not None else []

        def read_plain(start: int, end: int) -> Iterator[bytes]:
            if pending:
                body = pending.pop()
                if (start, end) == (0, info.size):
                    return body
                close(body)
            got = self.store.backend.get_object_range(account, container, obj, start, end)
            if got.etag != expected:
                close(got.body)
                raise SwiftError(503, "The object changed while being read; retry")
            return got.body or iter(())

        def release() -> None:
            while pending:
                close(pending.pop())

        return Resolved(account, container, obj, info, info.size, info.etag, "plain", read_plain, manifest,
                        closer=release)

    def _segment_reader(self, caller: Caller, account: str, segments: list[Segment],
                        depth: int) -> Callable[[int, int], Iterator[bytes]]:
        def read(start: int, end: int) -> Iterator[bytes]:
            pos = 0
            for seg in segments:
                lo, hi = max(start - pos, 0), min(end - pos, seg.length)
                pos += seg.length
                if hi > lo:
                    yield from self._read_segment(caller, account, seg, seg.offset + lo, seg.offset + hi, depth)
                if pos >= end:
                    return

        return read

    def _read_segment(self, caller: Caller, account: str, seg: Segment, start: int, end: int,
                      depth: int) -> Iterator[bytes]:
        if seg.sub_slo:
            if depth >= MAX_MANIFEST_DEPTH:
                raise SwiftError(409, "Manifests nest too deep")
            self.access.authorize_segments(caller, account, seg.container, "read")
            info = self.store.head_object(account, seg.container, seg.obj)
            sub = self._resolve(caller, account, seg.container, seg.obj, info, False, depth + 1)
            yield from sub.reader(start, end)
            return
        try:
            got = self.store.backend.get_object_range(account, seg.container, seg.obj, start, end)
        except ObjectNotFound:
            LOG.error("Segment %s/%s of a large object is missing", seg.container, seg.obj)
            raise
        sent = 0
        for chunk in got.body or ():
            sent += len(chunk)
            yield chunk
        if sent != end - start:
            raise SwiftError(409, f"Segment {seg.container}/{seg.obj} is shorter than its manifest says")
