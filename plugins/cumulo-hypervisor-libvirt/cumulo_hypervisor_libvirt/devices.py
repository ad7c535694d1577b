"""Hot-plugging devices (volumes, interfaces) into a domain, live and in its definition."""

from __future__ import annotations

import logging
from typing import Any

import libvirt

from cumulo_hypervisor_libvirt import guest

LOG = logging.getLogger(__name__)


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


def detach(conn: Any, dom: Any, device: str) -> None:
    """Remove ``device`` (XML) from ``dom``, live and from its definition."""
    flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG | (libvirt.VIR_DOMAIN_AFFECT_LIVE if dom.isActive() else 0)
    try:
        dom.detachDeviceFlags(device, flags)
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
            raise
        conn.defineXML(guest.without_device(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), device))
