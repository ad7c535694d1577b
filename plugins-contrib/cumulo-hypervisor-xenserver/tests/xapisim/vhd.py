"""VHD (Microsoft's Virtual Hard Disk format, as XenServer stores VDIs) for the import/export handlers.

Fixed VHDs are the raw bytes plus a 512-byte footer; dynamic ones have a
footer copy, a dynamic header, a block allocation table and per-block sector
bitmaps. Only what ``/import_raw_vdi?format=vhd`` and
``/export_raw_vdi?format=vhd`` need: read both kinds, write fixed ones.
"""

from __future__ import annotations

import struct
import time
import uuid as uuidlib
from collections.abc import Iterator

COOKIE, SPARSE_COOKIE = b"conectix", b"cxsparse"
FIXED, DYNAMIC = 2, 3
UNUSED = 0xFFFFFFFF


class VhdError(ValueError):
    pass


def _footer_fields(footer: bytes) -> tuple[int, int, int]:
    if footer[:8] != COOKIE:
        raise VhdError("no VHD footer (cookie 'conectix')")
    data_offset, = struct.unpack(">Q", footer[16:24])
    current_size, = struct.unpack(">Q", footer[48:56])
    disk_type, = struct.unpack(">I", footer[60:64])
    return data_offset, current_size, disk_type


def virtual_size(data: bytes) -> int:
    """The disk size a VHD describes."""
    head = data[:512] if data[:8] == COOKIE else data[-512:]
    return _footer_fields(head)[1]


def extents(data: bytes) -> Iterator[tuple[int, bytes]]:
    """``(offset, bytes)`` of the disk's written data, for a fixed or dynamic VHD."""
    if len(data) < 512:
        raise VhdError("shorter than a VHD footer")
    if data[:8] == COOKIE:  # dynamic: a copy of the footer comes first
        data_offset, size, disk_type = _footer_fields(data[:512])
        if disk_type != DYNAMIC:
            raise VhdError(f"VHD disk type {disk_type} is not importable (differencing disks need their parent)")
        header = data[data_offset:data_offset + 1024]
        if header[:8] != SPARSE_COOKIE:
            raise VhdError("no dynamic disk header (cookie 'cxsparse')")
        table_offset, = struct.unpack(">Q", header[16:24])
        entries, block_size = struct.unpack(">II", header[28:36])
        bitmap = ((block_size // 512 // 8) + 511) // 512 * 512
        for index in range(entries):
            sector, = struct.unpack(">I", data[table_offset + 4 * index:table_offset + 4 * index + 4])
            if sector == UNUSED:
                continue
            start = sector * 512 + bitmap
            yield index * block_size, data[start:start + min(block_size, size - index * block_size)]
        return
    _, size, disk_type = _footer_fields(data[-512:])
    if disk_type != FIXED or len(data) - 512 != size:
        raise VhdError("a VHD without a leading footer copy must be a fixed disk of its stated size")
    yield 0, data[:-512]


def fixed_footer(size: int) -> bytes:
    """The footer of a fixed VHD of ``size`` bytes (what follows the raw bytes)."""
    cylinders = min(size // (16 * 63 * 512), 65535)
    footer = bytearray(struct.pack(">8sIIQI4sI4sQQHBBI I16sB", COOKIE, 2, 0x00010000, 0xFFFFFFFFFFFFFFFF,
                                   int(time.time()) - 946684800, b"xapi", 0x00010000, b"Wi2k", size, size,
                                   cylinders, 16, 63, FIXED, 0, uuidlib.uuid4().bytes, 0).ljust(512, b"\0"))
    checksum = ~sum(footer) & 0xFFFFFFFF
    footer[64:68] = struct.pack(">I", checksum)
    return bytes(footer)
