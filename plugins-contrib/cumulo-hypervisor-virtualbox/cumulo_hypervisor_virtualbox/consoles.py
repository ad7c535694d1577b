"""An instance's consoles: the serial port's log file, and the machine's VRDE server as a remote console.

VRDE is VirtualBox's remote display server. Which protocol it speaks depends on the extension pack installed
(``VBoxManage setproperty vrdeextpack``): the Oracle pack speaks RDP, the open-source VNC pack speaks VNC.
``[virtualbox] vrde_protocol`` says which, and so which console type the driver offers.
"""

from __future__ import annotations

import os
import secrets

from cumulo import exception
from cumulo.interfaces.hypervisor import HypervisorError, RemoteConsole
from cumulo_hypervisor_virtualbox.machine import MachineInfo
from cumulo_hypervisor_virtualbox.vboxmanage import VBoxManage

CONSOLE_TYPES = {"vnc": "novnc", "rdp": "rdp-html5"}


def log_tail(path: str, limit: int, uuid: str) -> str:
    """The last ``limit`` bytes of the console log at ``path``; empty before the first line."""
    try:
        with open(path, "rb") as f:
            f.seek(max(os.fstat(f.fileno()).st_size - limit, 0))
            return f.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    except OSError as err:
        raise HypervisorError(f"console log of {uuid}: {err}") from err


def vrde_console(vbox: VBoxManage, info: MachineInfo, protocol: str, console_type: str,
                 default_address: str) -> RemoteConsole:
    """The running machine's VRDE server as a ``console_type`` console.

    With the VNC pack each console gets a fresh password (the token), set with ``controlvm vrdeproperty
    VNCPassword=``: an earlier console's token stops working. The RDP pack has no such property; its token
    only identifies the console.

    :raises cumulo.exception.Invalid: ``console_type`` is not the one this VRDE protocol gives.
    :raises HypervisorError: the machine is not running, or its VRDE server has no port.
    """
    offered = CONSOLE_TYPES[protocol]
    if console_type != offered:
        raise exception.Invalid(reason=f"Unsupported console type {console_type!r}; VirtualBox's VRDE "
                                       f"({protocol}) offers {offered}")
    if not info.live or info.vrde_port is None:
        raise HypervisorError(f"instance {info.uuid} has no VRDE server listening (is it running?)")
    token = secrets.token_urlsafe(18)
    if protocol == "vnc":
        vbox("controlvm", info.uuid, "vrdeproperty", f"VNCPassword={token}")
    host = info.vrde_address or default_address
    return RemoteConsole(console_type=offered, host=host, port=info.vrde_port, token=token,
                         url=f"{protocol}://{host}:{info.vrde_port}")
