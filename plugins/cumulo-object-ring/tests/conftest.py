"""Fixtures: an in-process cluster of storage nodes shared by a module's tests."""

from __future__ import annotations

import pytest
from cumulo_object_ring.testing import InProcessCluster


@pytest.fixture(scope="module")

def cluster(tmp_path_factory):
    c = InProcessCluster(tmp_path_factory.mktemp("cluster"))
    yield c
    c.stop()
