"""The hypervisor conformance kit against the XAPI simulator: the driver speaks real XML-RPC and HTTP to it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from cumulo_hypervisor_xenserver.driver import XenServerDriver

from cumulo.testing.conformance.hypervisor import HypervisorConformance


class TestXenServerConformance(HypervisorConformance):
    plugin_name = "xenserver"
    reads_image = True
    concurrent_spawns = 4
    image_bytes: ClassVar[bytes] = hashlib.sha512(b"xenserver").digest() * 2048  # 128 KiB of raw disk

    @pytest.fixture
    def driver(self, make_driver: Callable[..., XenServerDriver]) -> Any:
        return make_driver()
