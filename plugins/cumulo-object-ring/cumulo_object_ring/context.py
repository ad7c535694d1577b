"""What the parts of a storage node need from it: the node's context protocols.

A storage node (:class:`cumulo_object_ring.node.Node`) is composed of parts:
its background daemons (:mod:`cumulo_object_ring.daemons`) and its WSGI app
(:mod:`cumulo_object_ring.server`). The parts depend on the protocols here,
never on :mod:`cumulo_object_ring.node`, so the dependency runs one way::

    node  ->  daemons, server  ->  context  ->  client, db, diskfile, ring, signing

:class:`DaemonContext` is what a daemon uses (rings, devices, signed requests
to peers, container and account updates); :class:`ServerContext` is what the
WSGI app uses (the signer, devices, the update targets a proxy named, the
daemons it can run on demand). ``Node`` provides both; a test can hand a part
a smaller fake.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

import webob

from cumulo_object_ring import client
from cumulo_object_ring.db import Broker
from cumulo_object_ring.diskfile import Device
from cumulo_object_ring.ring import Ring
from cumulo_object_ring.signing import Signer


class Targets(NamedTuple):
    """Servers to update after a write: a partition and its devices (``ip``, ``port``, ``device``)."""

    part: int
    nodes: list[dict[str, Any]]


class StorageContext(Protocol):
    """What every part reads: the node's devices and its storage settings."""

    @property
    def hash_suffix(self) -> str:
        """``[object_ring] hash_path_suffix``: the secret salt of every hash path."""

    @property
    def reclaim_age(self) -> float:
        """Seconds tombstones and deleted databases are kept."""

    @property
    def devices(self) -> dict[str, Device]:
        """Devices this node serves, by name."""


class DaemonContext(StorageContext, Protocol):
    """What the replicator, auditor, expirer and updater use."""

    def ring(self, name: str) -> Ring:
        """The ``account``, ``container`` or ``object`` ring (reloaded when its file changed)."""

    def is_local(self, dev: dict[str, Any]) -> bool:
        """Whether a ring device is served by this node."""

    def request(self, node: dict[str, Any], method: str, path: str, **kw: Any) -> client.Response:
        """A request to another storage node, signed with the cluster secret."""

    def request_json(self, node: dict[str, Any], method: str, path: str, payload: Any) -> client.Response:
        """A signed request with a JSON body."""

    def account_nodes(self, account: str) -> tuple[int, list[dict[str, Any]]]:
        """The account ring's partition and devices of ``account``."""

    def container_nodes(self, account: str, container: str) -> tuple[int, list[dict[str, Any]]]:
        """The container ring's partition and devices of ``account/container``."""

    def send_container_update(self, node: dict[str, Any], update: dict[str, Any]) -> bool:
        """Send one container listing update; whether the server took it."""

    def report_container(self, broker: Broker, nodes: list[dict[str, Any]], part: int, quorum: int,
                         mark: bool = True) -> bool:
        """Report a container's statistics to its account servers; whether ``quorum`` of them took it."""


class ServerContext(StorageContext, Protocol):
    """What the storage node's WSGI app uses."""

    @property
    def signer(self) -> Signer:
        """Verifies that every request was signed with the cluster secret."""

    @property
    def chunk_size(self) -> int:
        """Bytes per chunk streamed to and from disk."""

    @property
    def daemons(self) -> Mapping[str, object]:
        """The daemons ``POST /_admin/<name>`` may run, by name."""

    def device(self, name: str) -> Device:
        """A device of this node; raises ``HTTPError(507)`` for an unknown one."""

    def update_targets(self, req: webob.Request, kind: str, account: str,
                       container: str | None = None) -> Targets | None:
        """The ``kind`` servers a write must tell, as the proxy named them (checked against the ring)."""

    def container_update(self, targets: Targets | None, device: Device, op: str, account: str, container: str,
                         obj: str, ts: str, size: int = 0, etag: str = "", content_type: str = "") -> None:
        """Tell the container servers about an object write; leave an async pending on failure."""

    def account_update(self, targets: Targets | None, broker: Broker) -> None:
        """Report a container's state to the account servers the proxy named."""

    def run_once(self, name: str) -> dict[str, Any]:
        """Run one pass of the daemon ``name`` now; its statistics."""
