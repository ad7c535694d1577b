"""The account controller: account counts, container listings and account metadata on the account ring."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cumulo.interfaces.object import ObjectNotFound, ObjectUnavailable
from cumulo_object_ring import client
from cumulo_object_ring.proxy.base import PathOf, RingProxy, listing_query, title


class AccountController:
    """Accounts of the ring backend; they exist implicitly (an unknown one is empty).

    :param proxy: access to the storage nodes.
    """

    def __init__(self, proxy: RingProxy) -> None:
        self.proxy = proxy

    def _path(self, account: str) -> PathOf:
        part = self.proxy.ring("account").get_part(account)
        return lambda n: client.node_path(n["device"], part, account)

    def update_headers(self, account: str) -> Callable[[int], dict[str, str]]:
        """Which account replica the ``i``-th container replica reports its counts to."""
        ring = self.proxy.ring("account")
        part = ring.get_part(account)
        nodes = ring.get_part_nodes(part)

        def of(i: int) -> dict[str, str]:
            a = nodes[i % len(nodes)]
            return {"X-Account-Host": f"{a['ip']}:{a['port']}", "X-Account-Device": a["device"],
                    "X-Account-Partition": str(part)}

        return of

    def head(self, account: str) -> dict[str, Any]:
        """See :meth:`cumulo.interfaces.object.ObjectBackend.head_account`."""
        ring = self.proxy.ring("account")
        part = ring.get_part(account)
        try:
            resp = self.proxy.read(ring, part, "HEAD", self._path(account))
        except ObjectNotFound:
            return {"container_count": 0, "object_count": 0, "bytes_used": 0, "metadata": {}, "created_at": 0.0}
        h = resp.headers
        return {"container_count": int(h.get("x-account-container-count", 0)),
                "object_count": int(h.get("x-account-object-count", 0)),
                "bytes_used": int(h.get("x-account-bytes-used", 0)),
                "metadata": {title(k): v for k, v in client.decode_meta(h.get("x-backend-metadata")).items()},
                "created_at": float(h.get("x-backend-created-at") or 0)}

    def list_containers(self, account: str, prefix: str = "", delimiter: str = "", marker: str = "",
                        end_marker: str = "", limit: int = 10000, reverse: bool = False) -> list[dict[str, Any]]:
        """See :meth:`cumulo.interfaces.object.ObjectBackend.list_containers`."""
        ring = self.proxy.ring("account")
        part = ring.get_part(account)
        query = listing_query(prefix, delimiter, marker, end_marker, limit, reverse)
        try:
            resp = self.proxy.read(ring, part, "GET", self._path(account), query=query)
        except ObjectNotFound:
            return []
        out = []
        for row in resp.json():
            if "subdir" in row:
                out.append({"subdir": row["subdir"]})
            else:
                out.append({"name": row["name"], "count": row["object_count"], "bytes": row["bytes_used"],
                            "last_modified": float(row["put_timestamp"])})
        return out

    def post(self, account: str, metadata: dict[str, str]) -> None:
        """See :meth:`cumulo.interfaces.object.ObjectBackend.post_account`."""
        ring = self.proxy.ring("account")
        part = ring.get_part(account)
        hdrs = {"X-Timestamp": self.proxy.timestamp(), "X-Backend-Metadata": client.encode_meta(metadata)}
        statuses = self.proxy.write(ring, part, "POST", self._path(account), lambda i, n: hdrs)
        if not self.proxy.succeeded(ring, statuses):
            raise ObjectUnavailable("Account update did not reach a quorum of storage nodes")
