import uuid

import pytest

from cumulo import messaging


@pytest.fixture
def transport():
    """A private in-process bus per test; every cached transport is closed afterwards."""
    t = messaging.get_transport(f"inprocess://test-{uuid.uuid4().hex[:8]}")
    yield t
    messaging.reset()


@pytest.fixture
def servers():
    """Collects RPC servers and listeners and stops them after the test."""
    started = []
    yield started
    for s in started:
        s.stop(timeout=2)
