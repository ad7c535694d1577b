"""Hot-plugging devices (volumes, interfaces) into a domain, live and in its definition."""

from __future__ import annotations

import logging
import time
from typing import Any

import libvirt

from cumulo.interfaces.hypervisor import HypervisorError
from cumulo_hypervisor_libvirt import guest

LOG = logging.getLogger(__name__)

#: Seconds between two unplug requests to a guest that has not released the device yet. More than
#: the 5 s a PCIe slot's attention button waits for a second press, which would cancel the first.
DETACH_RETRY = 10.0


def attach(conn: Any, dom: Any, device: str) -> None:
    """Add ``device`` (XML) to ``dom``: live when it runs, and to its definition."""
    flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG | (libvirt.VIR_DOMAIN_AFFECT_LIVE if dom.isActive() else 0)
    try:
        dom.attachDeviceFlags(device, flags)
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
            raise
        # A driver without hot-plug (libvirt's test driver): change the definition only.
        conn.defineXML(guest.with_device(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), device))
        if dom.isActive():
            LOG.warning("%s cannot hot-plug; the device appears at the next boot", conn.getURI())


def detach(conn: Any, dom: Any, device: str, timeout: float) -> None:
    """Remove ``device`` (XML) from ``dom``: from the running guest first, then from its definition.

    Unplugging from a running guest needs the guest's cooperation (ACPI or PCIe hot-plug):
    libvirt asks, waits up to 5 s for QEMU to report the device gone and returns either way,
    so the live definition is watched here until the device has left it, asking again every
    :data:`DETACH_RETRY` seconds (a guest still booting misses a request), for up to
    ``timeout`` seconds. Only then does the device leave the persistent definition: a detach
    that timed out leaves the domain as it was and can be retried.

    :raises HypervisorError: the guest did not release the device within ``timeout`` seconds.
    :raises libvirt.libvirtError: libvirt refused the request.
    """
    if dom.isActive() and guest.has_device(dom.XMLDesc(0), device):
        if not _request_unplug(conn, dom, device):
            return  # no hot-plug here: the definition was changed instead
        deadline = time.monotonic() + timeout
        asked = time.monotonic()
        while dom.isActive() and guest.has_device(dom.XMLDesc(0), device):
            now = time.monotonic()
            if now > deadline:
                raise HypervisorError(f"the guest of {dom.name()} did not release the device within {timeout:.0f} s "
                                      "(it is still attached; the detach can be retried)")
            if now - asked > DETACH_RETRY:
                LOG.info("%s has not released a device yet; asking again", dom.name())
                _request_unplug(conn, dom, device, again=True)
                asked = now
            time.sleep(0.2)
    if guest.has_device(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), device):
        try:
            dom.detachDeviceFlags(device, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        except libvirt.libvirtError as err:
            if err.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
                raise
            conn.defineXML(guest.without_device(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), device))


def _request_unplug(conn: Any, dom: Any, device: str, again: bool = False) -> bool:
    """Ask the running guest to let ``device`` go; False when libvirt cannot hot-unplug (definition changed)."""
    try:
        dom.detachDeviceFlags(device, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    except libvirt.libvirtError as err:
        code = err.get_error_code()
        if code == libvirt.VIR_ERR_NO_SUPPORT:
            conn.defineXML(guest.without_device(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), device))
            return False
        # The device went meanwhile, or (asking again) QEMU still waits for the guest: keep watching.
        if code != libvirt.VIR_ERR_DEVICE_MISSING and not (again and code in (
                libvirt.VIR_ERR_OPERATION_INVALID, libvirt.VIR_ERR_OPERATION_FAILED)):
            raise
        LOG.debug("unplug request for %s: %s", dom.name(), err.get_error_message())
    return True
