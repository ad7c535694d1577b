"""Tests of :mod:`cumulo_hypervisor_libvirt.devices`: hot-unplug waits for the guest, and gives up cleanly.

A stand-in domain plays the guest: it keeps the device in its live XML for a number of
polls after the unplug request (or for ever), as a real guest does until it acknowledges.
"""

from __future__ import annotations

import libvirt
import pytest
from cumulo_hypervisor_libvirt import devices, guest

from cumulo.interfaces.hypervisor import HypervisorError

DISK = "<disk type='file' device='disk'><source file='/v'/><target dev='vdc' bus='virtio'/></disk>"
DOMAIN = "<domain><name>d</name><devices>{}</devices></domain>"


class SlowGuest:
    """A running domain whose guest releases an unplugged device after ``polls`` looks at its live XML."""

    def __init__(self, polls: int | None) -> None:
        self.live = self.config = True
        self.polls, self.requests = polls, 0

    def isActive(self) -> bool:
        return True

    def name(self) -> str:
        return "cumulo-slow"

    def XMLDesc(self, flags: int) -> str:
        if flags & libvirt.VIR_DOMAIN_XML_INACTIVE:
            return DOMAIN.format(DISK if self.config else "")
        if self.requests and self.polls is not None:
            self.polls -= 1
            if self.polls < 0:
                self.live = False
        return DOMAIN.format(DISK if self.live else "")

    def detachDeviceFlags(self, xml: str, flags: int) -> None:
        if flags & libvirt.VIR_DOMAIN_AFFECT_LIVE:
            assert self.config, "the definition must keep the device until the guest has let it go"
            self.requests += 1
        if flags & libvirt.VIR_DOMAIN_AFFECT_CONFIG:
            assert not self.live, "the definition changed before the guest released the device"
            self.config = False


def test_detach_waits_until_the_guest_releases_the_device() -> None:
    dom = SlowGuest(polls=5)
    devices.detach(None, dom, DISK, timeout=10)
    assert not dom.live and not dom.config and dom.requests == 1


def test_a_guest_that_never_releases_keeps_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices, "DETACH_RETRY", 0.3)
    dom = SlowGuest(polls=None)
    with pytest.raises(HypervisorError, match="did not release the device within 1 s"):
        devices.detach(None, dom, DISK, timeout=1)
    assert dom.live and dom.config  # as it was: the detach can be retried
    assert dom.requests >= 2  # asked again while waiting


def test_has_device_matches_by_target() -> None:
    assert guest.has_device(DOMAIN.format(DISK), "<disk><target dev='vdc'/></disk>")
    assert not guest.has_device(DOMAIN.format(DISK), "<disk><target dev='vdd'/></disk>")
    assert not guest.has_device(DOMAIN.format(""), DISK)


