"""A XAPI simulator for the XenServer driver's tests: the subset of the XenAPI the driver calls.

It speaks XAPI's wire protocol (XML-RPC with Status/Value/ErrorDescription
envelopes, ``OpaqueRef:<uuid>`` references, int64 values as strings, tasks
for ``Async.`` calls, ``event.from``) and serves the HTTP ``/import_raw_vdi``
and ``/export_raw_vdi`` handlers, so the driver talks to it exactly as it
would to a pool master. Semantics follow the XenAPI reference and xen-api's
datamodel (error codes and their parameters, which power states each VM
operation accepts, what VM.destroy and VDI.destroy take with them).
"""

from .server import XapiSimulator
from .state import NULL, Failure

__all__ = ["NULL", "Failure", "XapiSimulator"]
