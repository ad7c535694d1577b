"""The hypervisor conformance kit against the VBoxManage simulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cumulo_hypervisor_virtualbox.driver import VirtualBoxDriver

from cumulo.testing.conformance.hypervisor import HypervisorConformance


class TestVirtualBoxConformance(HypervisorConformance):
    plugin_name = "virtualbox"
    reads_image = True
    concurrent_spawns = 4

    @pytest.fixture
    def driver(self, make_driver: Callable[..., VirtualBoxDriver]) -> Any:
        return make_driver()
