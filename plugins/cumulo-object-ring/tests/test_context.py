"""The node's parts depend on the context protocols, not on the node.

The daemons and the WSGI app of a storage node see it through
:mod:`cumulo_object_ring.context`: the node provides every member, and a part
runs against a fake that provides only those.
"""

from __future__ import annotations

import ast
import inspect
import os

import pytest
from cumulo_object_ring import context, daemons, server
from cumulo_object_ring.diskfile import Device
from cumulo_object_ring.node import Node
from cumulo_object_ring.testing import make_conf


def _members(protocol: type) -> set[str]:
    names: set[str] = set()
    for cls in protocol.__mro__:
        if cls in (context.StorageContext, context.DaemonContext, context.ServerContext):
            names |= {n for n in vars(cls) if not n.startswith("_")}
    return names


@pytest.mark.parametrize("protocol", [context.DaemonContext, context.ServerContext])
def test_the_node_provides_every_member_of_the_protocols(protocol, tmp_path):
    members = _members(protocol)
    assert {"devices", "hash_suffix", "reclaim_age"} <= members
    node = Node(make_conf(tmp_path))
    assert [m for m in sorted(members) if not hasattr(node, m)] == []


@pytest.mark.parametrize("module", [daemons, server, context])
def test_parts_do_not_import_the_node(module):
    tree = ast.parse(inspect.getsource(module))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                 for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not {m for m in imported if m.startswith("cumulo_object_ring.node")}


class _Devices:
    """The smallest DaemonContext the auditor needs: devices only."""

    hash_suffix = "suffix"
    reclaim_age = 0.0

    def __init__(self, root: str) -> None:
        os.makedirs(os.path.join(root, "d1"), exist_ok=True)
        self.devices = {"d1": Device(root, "d1")}


def test_a_daemon_runs_on_a_fake_context(tmp_path):
    auditor = daemons.Auditor(_Devices(str(tmp_path)))  # a partial fake: the auditor reads devices only
    assert auditor.run_once() == {"checked": 0, "quarantined": 0}
