"""An instance's consoles on its host: the console log and remote consoles (synchronous RPC calls)."""

from __future__ import annotations

from typing import Any

import cumulo_service_compute.objects as objects
from cumulo_service_compute.host import ComputeHost
from cumulo_service_compute.host_common import jsonable


class Consoles:
    """What the driver of ``host`` shows of an instance's consoles."""

    def __init__(self, host: ComputeHost) -> None:
        self.host = host

    def get_console_output(self, ctx: Any, instance_uuid: str, length: int | None = None) -> str:
        """The console log; with ``length``, its last ``length`` pieces split at newlines, as Nova tails it.

        A log that ends with a newline has an empty last piece, so ``length=3`` gives two full lines and
        the final newline (what Tempest counts as 3 with ``output.split("\\n")``).
        """
        inst = objects.get_instance(instance_uuid)
        text = self.host.driver.get_console_output(self.host.driver_instance(inst)) or ""
        if length is not None and length >= 0:
            text = "\n".join(text.split("\n")[-length:]) if length else ""
        return text

    def get_remote_console(self, ctx: Any, instance_uuid: str, console_type: str) -> dict[str, Any]:
        """Where a client connects to the instance's ``console_type`` console (as JSON)."""
        inst = objects.get_instance(instance_uuid)
        console = self.host.driver.get_remote_console(self.host.driver_instance(inst), console_type)
        return jsonable({"host": console.host, "port": console.port, "token": console.token,
                         "internal_access_path": console.internal_access_path, "url": console.url,
                         "type": console.console_type})
