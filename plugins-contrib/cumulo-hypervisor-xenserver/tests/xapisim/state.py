"""The simulator's database: XAPI objects by class and reference, the event log, VDI contents, faults.

Records hold what XAPI's XML-RPC carries: strings (int64 values are strings,
as XAPI sends them), booleans, floats, lists and string maps, never None.
References are ``OpaqueRef:<uuid>``; ``OpaqueRef:NULL`` is the null reference.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import time
import uuid as uuidlib
import xmlrpc.client
from collections.abc import Iterator
from typing import Any

NULL = "OpaqueRef:NULL"
BLOCK = 1024 * 1024
GiB = 1024 ** 3
_ZERO = bytes(BLOCK)
#: The XAPI classes the simulator has (their generated accessors answer even while a class has no object).
CLASSES = ("session", "pool", "host", "host_metrics", "VM", "VDI", "VBD", "VIF", "network", "SR", "PBD", "task",
           "console")


class Failure(Exception):
    """An XAPI error: ``details`` becomes the ErrorDescription."""

    def __init__(self, *details: Any) -> None:
        super().__init__(*details)
        self.details = [str(d) for d in details]


@dataclasses.dataclass
class Fault:
    """Fail the next ``times`` calls of ``method`` (after letting ``after`` of them through)."""

    method: str
    error: list[str]
    after: int = 0
    times: int = 1


def new_ref() -> str:
    return f"OpaqueRef:{uuidlib.uuid4()}"


def now() -> xmlrpc.client.DateTime:
    return xmlrpc.client.DateTime(time.strftime("%Y%m%dT%H:%M:%SZ", time.gmtime()))


class Database:
    """Objects, events and VDI bytes behind one lock; ``changed`` wakes event.from waiters."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.objects: dict[str, dict[str, dict[str, Any]]] = {cls: {} for cls in CLASSES}
        self.events: list[dict[str, Any]] = []
        self.event_id = 0
        #: VDI ref -> {block index: bytes}; missing blocks read as zeros (sparse, as a VHD is).
        self.blocks: dict[str, dict[int, bytes]] = {}
        self.faults: list[Fault] = []
        self.calls: list[str] = []

    # -- objects ----------------------------------------------------------------------------------
    def table(self, cls: str) -> dict[str, dict[str, Any]]:
        return self.objects.setdefault(cls, {})

    def create(self, cls: str, record: dict[str, Any], ref: str | None = None) -> str:
        with self.lock:
            ref = ref or new_ref()
            record.setdefault("uuid", str(uuidlib.uuid4()))
            self.table(cls)[ref] = record
            self._event(cls, "add", ref, record)
            return ref

    def get(self, cls: str, ref: str) -> dict[str, Any]:
        try:
            return self.table(cls)[ref]
        except KeyError:
            raise Failure("HANDLE_INVALID", cls, ref) from None

    def exists(self, cls: str, ref: str) -> bool:
        return ref in self.table(cls)

    def update(self, cls: str, ref: str, **fields: Any) -> None:
        with self.lock:
            record = self.get(cls, ref)
            record.update(fields)
            self._event(cls, "mod", ref, record)

    def destroy(self, cls: str, ref: str) -> None:
        with self.lock:
            record = self.table(cls).pop(ref)
            self.blocks.pop(ref, None)
            self._event(cls, "del", ref, record)

    def find(self, cls: str, **match: Any) -> list[str]:
        return [ref for ref, rec in self.table(cls).items() if all(rec.get(k) == v for k, v in match.items())]

    def _event(self, cls: str, operation: str, ref: str, record: dict[str, Any]) -> None:
        self.event_id += 1
        self.events.append({"id": str(self.event_id), "timestamp": f"{time.time():.6f}", "class": cls.lower(),
                            "operation": operation, "ref": ref, "snapshot": copy.deepcopy(record)})
        del self.events[:-10000]  # XAPI keeps a bounded window too (EVENTS_LOST beyond it)
        self.changed.notify_all()

    # -- faults -----------------------------------------------------------------------------------
    def check_fault(self, method: str) -> None:
        """Raise the injected failure for ``method`` (``VM.start``, ``import_raw_vdi``) when one is due."""
        with self.lock:
            self.calls.append(method)
            for fault in self.faults:
                if fault.method != method:
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                raise Failure(*fault.error)

    # -- VDI contents -----------------------------------------------------------------------------
    def write(self, vdi: str, offset: int, data: bytes) -> None:
        blocks = self.blocks.setdefault(vdi, {})
        pos = 0
        while pos < len(data):
            index, within = divmod(offset + pos, BLOCK)
            piece = data[pos:pos + BLOCK - within]
            block = bytearray(blocks.get(index, _ZERO))
            block[within:within + len(piece)] = piece
            if any(block):
                blocks[index] = bytes(block)
            else:
                blocks.pop(index, None)
            pos += len(piece)

    def read_blocks(self, vdi: str, size: int) -> Iterator[bytes]:
        """The VDI's bytes as of this call (the block map is copied; blocks themselves are immutable)."""
        with self.lock:
            blocks = dict(self.blocks.get(vdi, {}))
        return self._blocks(blocks, size)

    @staticmethod
    def _blocks(blocks: dict[int, bytes], size: int) -> Iterator[bytes]:
        for index in range((size + BLOCK - 1) // BLOCK):
            length = min(BLOCK, size - index * BLOCK)
            yield blocks.get(index, _ZERO)[:length]
