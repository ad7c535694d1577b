"""In-memory stand-ins for kernel services, for tests that need a service without running it.

Put one in a hub with :class:`cumulo.testing.fixtures.FakeHub`
(``FakeHub(services={"object": MemoryObjects()})``) or hand it to a driver
as its ``hub.<area>``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterable

from cumulo.interfaces import object as objiface

CHUNK = 65536


class MemoryObjects:
    """A minimal in-memory object service (the ``hub.object`` methods the object image store uses).

    For tests of image code that needs Object Storage without running it:
    writes are atomic (nothing stored if the chunk iterator fails) and the
    iterator's own exception propagates, as the ObjectBackend contract says.
    ``data`` maps ``(account, container, object)`` to the stored bytes.
    """

    def __init__(self) -> None:
        self.data: dict[tuple[str, str, str], bytes] = {}
        self.containers: set[tuple[str, str]] = set()
        self.lock = threading.Lock()

    def put_container(self, account: str, container: str, metadata: dict[str, str]) -> bool:
        with self.lock:
            created = (account, container) not in self.containers
            self.containers.add((account, container))
            return created

    def _info(self, account: str, container: str, obj: str, body: bool) -> objiface.ObjectInfo:
        with self.lock:
            data = self.data.get((account, container, obj))
        if data is None:
            raise objiface.ObjectNotFound(f"{account}/{container}/{obj}")
        return objiface.ObjectInfo(name=obj, size=len(data), etag=hashlib.md5(data, usedforsecurity=False).hexdigest(),
                                   last_modified=time.time(), content_type="application/octet-stream",
                                   body=iter([data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]) if body else None)

    def put_object(self, account: str, container: str, obj: str, chunks: Iterable[bytes], content_type: str,
                   metadata: dict[str, str], etag: str | None = None) -> objiface.ObjectInfo:
        if (account, container) not in self.containers:
            raise objiface.ObjectNotFound(f"container {account}/{container}")
        data = b"".join(chunks)
        with self.lock:
            self.data[(account, container, obj)] = data
        return self._info(account, container, obj, body=False)

    def get_object(self, account: str, container: str, obj: str) -> objiface.ObjectInfo:
        return self._info(account, container, obj, body=True)

    def head_object(self, account: str, container: str, obj: str) -> objiface.ObjectInfo:
        return self._info(account, container, obj, body=False)

    def delete_object(self, account: str, container: str, obj: str) -> None:
        with self.lock:
            if self.data.pop((account, container, obj), None) is None:
                raise objiface.ObjectNotFound(f"{account}/{container}/{obj}")
