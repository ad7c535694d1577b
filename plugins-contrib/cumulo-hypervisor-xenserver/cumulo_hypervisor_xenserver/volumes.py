"""Volumes as VDIs of an SR introduced on the volume's directory, attached with VBDs.

The interface hands a volume over as a :class:`FileConnection` (a file on
this host). XenServer reaches files only through an SR: the driver introduces
a ``file`` SR on the file's directory (``SR.introduce``, a ``PBD`` with
``device_config:location``, ``PBD.plug``, ``SR.scan``), finds the file's VDI
by its ``location`` (the file name), and attaches it. The directory must be
one the XenServer host sees at the same path (an NFS export mounted on both).
Detaching forgets the VDI (its data stays: it is the volume), and the SR once
no volume of it is attached.
"""

from __future__ import annotations

import os
import threading
import uuid as uuidlib

from cumulo.interfaces.hypervisor import BlockDevice, FileConnection, HypervisorError
from cumulo_hypervisor_xenserver.disks import TAG_VOLUME
from cumulo_hypervisor_xenserver.session import XapiClient, XapiError, is_code

SR_TYPE = "file"
TAG_DIRECTORY = "cumulo-volume-directory"
_NAMESPACE = uuidlib.UUID("6f0c5b3e-6a35-4f5e-9a53-3c0bd2a3f1d4")

_lock = threading.Lock()  # introducing and forgetting SRs: one at a time per process


def connection(bd: BlockDevice) -> FileConnection:
    info = bd.connection_info
    if info is None or not isinstance(info.data, FileConnection):
        raise HypervisorError(f"volume {bd.volume_id}: XenServer attaches file volumes only "
                              f"(got {info.driver_volume_type if info else 'no connection'})")
    if info.data.disk_format not in ("raw", "vhd"):
        raise HypervisorError(f"volume {bd.volume_id}: a {info.data.disk_format} file is not a XenServer disk")
    return info.data


def _sr_for(x: XapiClient, directory: str) -> str:
    sr_uuid = str(uuidlib.uuid5(_NAMESPACE, directory))
    try:
        return str(x.call("SR.get_by_uuid", sr_uuid))
    except XapiError as err:
        if not is_code(err, "UUID_INVALID"):
            raise
    sr = str(x.call("SR.introduce", sr_uuid, f"Cumulo volumes {directory}", "", SR_TYPE, "", False, {}))
    try:
        pool = x.call("pool.get_all")[0]
        pbd = x.call("PBD.create", {"host": x.call("pool.get_master", pool), "SR": sr,
                                    "device_config": {"location": directory}, "other_config": {}})
        x.call("PBD.plug", pbd)
        x.call("SR.add_to_other_config", sr, TAG_DIRECTORY, directory)
    except BaseException:
        _forget_sr(x, sr)
        raise
    return sr


def vdi_for(x: XapiClient, bd: BlockDevice) -> str:
    """The VDI of the volume's file (its SR introduced when needed), tagged with the volume id."""
    conn = connection(bd)
    directory, name = os.path.split(os.path.abspath(conn.path))
    with _lock:
        sr = _sr_for(x, directory)
        x.call("SR.scan", sr)
        for vdi in x.call("SR.get_VDIs", sr):
            if x.call("VDI.get_location", vdi) == name:
                other = dict(x.call("VDI.get_other_config", vdi))
                other[TAG_VOLUME] = bd.volume_id or ""
                x.call("VDI.set_other_config", vdi, other)
                return str(vdi)
        raise HypervisorError(f"volume {bd.volume_id}: {conn.path} is not in the XenServer SR of {directory}")


def forget(x: XapiClient, vdi: str) -> None:
    """Forget a volume's VDI, and its SR when no other volume of it is attached. Gone already is fine."""
    with _lock:
        try:
            sr = x.call("VDI.get_SR", vdi)
            x.call("VDI.forget", vdi)
        except XapiError as err:
            if is_code(err, "HANDLE_INVALID"):
                return
            raise
        if not any(x.call("VDI.get_VBDs", v) for v in x.call("SR.get_VDIs", sr)):
            _forget_sr(x, sr)


def _forget_sr(x: XapiClient, sr: str) -> None:
    for pbd in x.call("SR.get_PBDs", sr):
        if x.call("PBD.get_currently_attached", pbd):
            x.call("PBD.unplug", pbd)
    x.call("SR.forget", sr)
