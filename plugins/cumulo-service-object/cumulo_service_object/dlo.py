"""Dynamic large objects (Swift's ``dlo`` middleware): ``X-Object-Manifest: <container>/<prefix>``.

The content is every object listed under the prefix, in name order, as the
listing is when the manifest is read; the etag is the quoted MD5 of their etags.
"""

from __future__ import annotations

import hashlib
from urllib.parse import unquote

from cumulo.contracts.object import Caller
from cumulo_service_object.access import Access
from cumulo_service_object.common import Segment
from cumulo_service_object.store import Store


class DynamicLargeObjects:
    """The segments of a DLO manifest, for a caller who may list their container."""

    def __init__(self, store: Store, access: Access) -> None:
        self.store = store
        self.access = access

    def segments(self, caller: Caller, account: str, container: str, obj: str,
                 manifest: str) -> tuple[list[Segment], str]:
        """The segments and the quoted etag of the DLO ``container/obj`` whose ``X-Object-Manifest`` is ``manifest``.

        :raises cumulo.exception.NotAuthenticated: (401) or :class:`~cumulo.exception.Forbidden`
            (403): the caller may not list the segment container.
        """
        seg_container, _, seg_prefix = unquote(manifest).partition("/")
        self.access.authorize_segments(caller, account, seg_container, "list")
        # The manifest itself may sit under its own prefix: it is no segment of itself.
        rows = [r for r in self.store.list_all(account, seg_container, seg_prefix)
                if (seg_container, r["name"]) != (container, obj)]
        segments = [Segment(seg_container, r["name"], 0, int(r["bytes"])) for r in rows]
        etag = hashlib.md5("".join(r["hash"] for r in rows).encode(), usedforsecurity=False).hexdigest()
        return segments, f'"{etag}"'
