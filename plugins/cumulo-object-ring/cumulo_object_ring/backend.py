"""The ring backend (``cumulo.object`` entry point ``ring``): the proxy that runs in the API process.

:class:`RingBackend` wires the proxy controllers of :mod:`cumulo_object_ring.proxy`
(account, container, object, over one shared :class:`~cumulo_object_ring.proxy.base.RingProxy`)
into the :class:`~cumulo.interfaces.object.ObjectBackend` interface, and adds the
all-in-one and operations hooks.

Every request to a node is signed with the cluster secret (``[object_ring]
cluster_secret``, or the file the all-in-one generates): nodes refuse anything
else. See :mod:`cumulo_object_ring.signing`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from oslo_config import cfg

from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.object import ObjectBackend, ObjectInfo, ObjectUnavailable
from cumulo_object_ring import client, opts
from cumulo_object_ring.proxy.account import AccountController
from cumulo_object_ring.proxy.base import RingProxy
from cumulo_object_ring.proxy.container import ContainerController
from cumulo_object_ring.proxy.obj import ObjectController
from cumulo_object_ring.ring import Ring
from cumulo_object_ring.signing import Signer


class RingBackend(ObjectBackend):
    """Swift-style replicated object storage over storage nodes placed by rings.

    :ivar proxy: rings, signed node requests, quorum and error limiting, shared by the controllers.
    :ivar accounts: the account controller.
    :ivar containers: the container controller.
    :ivar objects: the object controller.
    """

    interface_version = "2.0"

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        opts.register(self.conf)
        self.proxy = RingProxy(self.conf)
        self.accounts = AccountController(self.proxy)
        self.containers = ContainerController(self.proxy, self.accounts)
        self.objects = ObjectController(self.proxy, self.containers)

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return opts.list_opts()

    @property
    def signer(self) -> Signer:
        """The cluster's request signer, found on first use (the all-in-one makes its secret at start)."""
        return self.proxy.signer

    def ring(self, name: str) -> Ring:
        """The ``account``, ``container`` or ``object`` ring (reloaded when its file changes)."""
        return self.proxy.ring(name)

    # -- all-in-one ------------------------------------------------------------------------
    def start_local(self) -> list[Any]:
        from cumulo_object_ring import local

        return local.start_local(self.conf)

    # -- accounts --------------------------------------------------------------------------
    def head_account(self, account: str) -> dict[str, Any]:
        return self.accounts.head(account)

    def list_containers(self, account: str, prefix: str = "", delimiter: str = "", marker: str = "",
                        end_marker: str = "", limit: int = 10000, reverse: bool = False) -> list[dict[str, Any]]:
        return self.accounts.list_containers(account, prefix, delimiter, marker, end_marker, limit, reverse)

    def post_account(self, account: str, metadata: dict[str, str]) -> None:
        self.accounts.post(account, metadata)

    # -- containers ------------------------------------------------------------------------
    def put_container(self, account: str, container: str, metadata: dict[str, str]) -> bool:
        return self.containers.put(account, container, metadata)

    def head_container(self, account: str, container: str) -> dict[str, Any]:
        return self.containers.head(account, container)

    def post_container(self, account: str, container: str, metadata: dict[str, str]) -> None:
        self.containers.post(account, container, metadata)

    def delete_container(self, account: str, container: str) -> None:
        self.containers.delete(account, container)

    def list_objects(self, account: str, container: str, prefix: str = "", delimiter: str = "",
                     marker: str = "", end_marker: str = "", limit: int = 10000,
                     reverse: bool = False) -> list[dict[str, Any]]:
        return self.containers.list_objects(account, container, prefix, delimiter, marker, end_marker, limit,
                                            reverse)

    # -- objects ---------------------------------------------------------------------------
    def put_object(self, account: str, container: str, obj: str, chunks: Iterable[bytes],
                   content_type: str, metadata: dict[str, str], etag: str | None = None) -> ObjectInfo:
        return self.objects.put(account, container, obj, chunks, content_type, metadata, etag)

    def get_object(self, account: str, container: str, obj: str) -> ObjectInfo:
        return self.objects.get(account, container, obj)

    def get_object_range(self, account: str, container: str, obj: str, start: int, end: int) -> ObjectInfo:
        """Only bytes ``[start, end)`` travel from the node (it seeks); ``size`` is the whole object's."""
        return self.objects.get_range(account, container, obj, start, end)

    def head_object(self, account: str, container: str, obj: str) -> ObjectInfo:
        return self.objects.head(account, container, obj)

    def post_object(self, account: str, container: str, obj: str, metadata: dict[str, str]) -> None:
        self.objects.post(account, container, obj, metadata)

    def delete_object(self, account: str, container: str, obj: str) -> None:
        self.objects.delete(account, container, obj)

    # -- operations helpers ----------------------------------------------------------------
    def run_daemon(self, name: str) -> dict[str, Any]:
        """Run one pass of a node daemon on every server in the rings; returns stats per server."""
        servers: set[tuple[str, int]] = set()
        for r in ("account", "container", "object"):
            with contextlib.suppress(ObjectUnavailable):
                servers.update(self.proxy.ring(r).servers())
        out: dict[str, Any] = {}
        for ip, port in sorted(servers):
            node = {"ip": ip, "port": port}
            try:
                resp = client.request(node, "POST", f"/_admin/{name}", conn_timeout=self.proxy.conn_timeout,
                                      node_timeout=max(self.proxy.node_timeout, 300), signer=self.proxy.signer)
                out[f"{ip}:{port}"] = resp.json() if resp.status == 200 else {"error": resp.status}
            except client.NodeError as err:
                out[f"{ip}:{port}"] = {"error": str(err)}
        return out


__all__ = ["RingBackend"]
