"""The container controller: containers on the container ring, each replica reporting to an account replica."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cumulo.interfaces.object import ObjectConflict, ObjectNotFound, ObjectUnavailable
from cumulo_object_ring import client
from cumulo_object_ring.proxy.account import AccountController
from cumulo_object_ring.proxy.base import Node, PathOf, RingProxy, listing_query, title
from cumulo_object_ring.ring import Ring


class ContainerController:
    """Containers of the ring backend.

    :param proxy: access to the storage nodes.
    :param accounts: where each container replica sends its counts (creation and deletion).
    """

    def __init__(self, proxy: RingProxy, accounts: AccountController) -> None:
        self.proxy = proxy
        self.accounts = accounts

    def _loc(self, account: str, container: str) -> tuple[Ring, int, PathOf]:
        ring = self.proxy.ring("container")
        part = ring.get_part(account, container)
        return ring, part, lambda n: client.node_path(n["device"], part, account, container)

    def update_headers(self, account: str, container: str) -> Callable[[int], dict[str, str]]:
        """Which container replica the ``i``-th object replica updates; checks the container exists.

        :raises ObjectNotFound: there is no such container.
        """
        self._head(account, container)
        ring = self.proxy.ring("container")
        part = ring.get_part(account, container)
        nodes = ring.get_part_nodes(part)

        def of(i: int) -> dict[str, str]:
            c = nodes[i % len(nodes)]
            return {"X-Container-Host": f"{c['ip']}:{c['port']}", "X-Container-Device": c["device"],
                    "X-Container-Partition": str(part)}

        return of

    def put(self, account: str, container: str, metadata: dict[str, str]) -> bool:
        """See :meth:`cumulo.interfaces.object.ObjectBackend.put_container`."""
        ring, part, path_of = self._loc(account, container)
        account_headers = self.accounts.update_headers(account)
        ts = self.proxy.timestamp()

        def headers_of(i: int, n: Node) -> dict[str, str]:
            return {"X-Timestamp": ts, "X-Backend-Metadata": client.encode_meta(metadata), **account_headers(i)}

        statuses = self.proxy.write(ring, part, "PUT", path_of, headers_of)
        if not self.proxy.succeeded(ring, statuses):
            raise ObjectUnavailable("Container creation did not reach a quorum of storage nodes")
        return 201 in statuses

    def _head(self, account: str, container: str) -> client.Response:
        ring, part, path_of = self._loc(account, container)
        try:
            return self.proxy.read(ring, part, "HEAD", path_of)
        except ObjectNotFound:
            raise ObjectNotFound(f"Container {container} not found") from None

    def head(self, account: str, container: str) -> dict[str, Any]:
        """See :meth:`cumulo.interfaces.object.ObjectBackend.head_container`."""
        h = self._head(account, container).headers
        return {"object_count": int(h.get("x-container-object-count", 0)),
                "bytes_used": int(h.get("x-container-bytes-used", 0)),
                "metadata": {title(k): v for k, v in client.decode_meta(h.get("x-backend-metadata")).items()},
                "created_at": float(h.get("x-backend-created-at") or h.get("x-put-timestamp") or 0)}

    def post(self, account: str, container: str, metadata: dict[str, str]) -> None:
        """See :meth:`cumulo.interfaces.object.ObjectBackend.post_container`."""
        self._head(account, container)
        ring, part, path_of = self._loc(account, container)
        hdrs = {"X-Timestamp": self.proxy.timestamp(), "X-Backend-Metadata": client.encode_meta(metadata)}
        statuses = self.proxy.write(ring, part, "POST", path_of, lambda i, n: hdrs)
        if not self.proxy.succeeded(ring, statuses):
            if statuses and all(s == 404 for s in statuses):
                raise ObjectNotFound(f"Container {container} not found")
            raise ObjectUnavailable("Container update did not reach a quorum of storage nodes")

    def delete(self, account: str, container: str) -> None:
        """See :meth:`cumulo.interfaces.object.ObjectBackend.delete_container`."""
        ring, part, path_of = self._loc(account, container)
        account_headers = self.accounts.update_headers(account)
        ts = self.proxy.timestamp()
        statuses = self.proxy.write(ring, part, "DELETE", path_of,
                                    lambda i, n: {"X-Timestamp": ts, **account_headers(i)})
        if self.proxy.succeeded(ring, statuses):
            return
        if 409 in statuses:
            raise ObjectConflict(f"Container {container} is not empty")
        if statuses and statuses.count(404) >= min(len(statuses), self.proxy.quorum(ring)):
            raise ObjectNotFound(f"Container {container} not found")
        raise ObjectUnavailable("Container deletion did not reach a quorum of storage nodes")

    def list_objects(self, account: str, container: str, prefix: str = "", delimiter: str = "",
                     marker: str = "", end_marker: str = "", limit: int = 10000,
                     reverse: bool = False) -> list[dict[str, Any]]:
        """See :meth:`cumulo.interfaces.object.ObjectBackend.list_objects`."""
        ring, part, path_of = self._loc(account, container)
        query = listing_query(prefix, delimiter, marker, end_marker, limit, reverse)
        try:
            resp = self.proxy.read(ring, part, "GET", path_of, query=query)
        except ObjectNotFound:
            raise ObjectNotFound(f"Container {container} not found") from None
        out = []
        for row in resp.json():
            if "subdir" in row:
                out.append({"subdir": row["subdir"]})
            else:
                out.append({"name": row["name"], "bytes": row["size"], "hash": row["etag"],
                            "content_type": row["content_type"], "last_modified": float(row["created_at"])})
        return out
