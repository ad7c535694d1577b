"""The ring backend through the object conformance suite (4 in-process nodes, 3 zones, 3 replicas)."""

from __future__ import annotations

import pytest

from cumulo.testing.conformance.object import ObjectBackendConformance


class TestRingBackendConformance(ObjectBackendConformance):
    @pytest.fixture
    def backend(self, cluster):
        self._cluster = cluster
        return cluster.backend

    def settle(self, backend):
        self._cluster.run("update")

    def storage_root(self, backend):
        return self._cluster.root
