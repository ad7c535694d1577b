"""Image data inspection on upload: does the data have the declared ``disk_format``, and is it safe?

As Glance does since 2024.2, with the inspectors Glance itself uses (oslo.utils'
``imageutils.format_inspector``, which Glance's was moved to): the data streams through
an :class:`InspectWrapper` next to the store; a header that contradicts the declared
format stops the upload early, and once the stream ended the detected format must
be the declared one and pass its safety checks (a qcow2 with a backing file or an
external data file, a VMDK whose descriptor names other files, ...). A refusal is a
400 and the image goes back to queued (its bytes are discarded), as in Glance.

Declared ``raw`` accepts data no inspector recognizes or a partitioned disk (GPT/MBR);
an ISO may also look like a partitioned disk (hybrid ISOs); a fixed VHD (its footer at the
end only, which oslo's inspector does not read) is a ``vhd``. Formats without an
inspector (``ami``, ``ari``, ``aki``, ``ploop``) accept what ``raw`` accepts: data that
is recognizably another format (say qcow2 declared as ``ami``) is still refused.
With ``[image] require_image_format_match`` off, any single detected format is accepted
but its safety checks still apply. Only images whose container is the disk itself (``bare``, ``ami``, ``ari``, ``aki``)
are inspected; an ``ova``/``ovf``/``docker``/``compressed`` container wraps the disk.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterable, Iterator
from typing import IO, cast

from oslo_utils.imageutils import format_inspector as fi

from cumulo import exception

#: Containers whose data is the disk image itself.
INSPECTED_CONTAINERS = ("bare", "ami", "ari", "aki")
#: Declared formats that the raw rules stand in for (no inspector knows them).
RAW_LIKE = ("raw", "ami", "ari", "aki", "ploop")
#: What a raw disk may be detected as besides "nothing known": a partitioned disk.
RAW_DETECTED = ("raw", "gpt")


class ImageFormatRefused(exception.Invalid):
    """The data is not of the declared disk format, or fails that format's safety checks (400)."""


@dataclasses.dataclass(frozen=True)
class Inspected:
    """What the inspection found: the detected format and the disk's virtual size in bytes."""

    format: str
    virtual_size: int | None


class Inspection:
    """One upload's inspection: :meth:`wrap` the chunks, then :meth:`verdict` after they were consumed."""

    def __init__(self, disk_format: str, container_format: str, require_match: bool = True) -> None:
        self.disk_format = disk_format
        self.enabled = container_format in INSPECTED_CONTAINERS
        self.require_match = require_match
        self._wrapper: fi.InspectWrapper | None = None
        self._tail = b""

    def wrap(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """The chunks, inspected as they pass; raises :class:`ImageFormatRefused` as soon as the
        declared format's own header is seen not to match.

        :raises ImageFormatRefused: the data contradicts the declared format.
        """
        if not self.enabled:
            yield from chunks
            return
        known = fi.get_inspector(self.disk_format) is not None
        # Not for vhd: a fixed VHD has its only header at the end (see _fixed_vhd).
        expected = self.disk_format if known and self.require_match and self.disk_format != "vhd" else None
        # It reads its source with next() (typed as a file, used as an iterator).
        source = cast(IO[bytes], iter(chunks))
        self._wrapper = wrapper = fi.InspectWrapper(source, expected_format=expected)
        try:
            for chunk in wrapper:
                self._tail = (self._tail + chunk)[-VHD_FOOTER:]
                yield chunk
        except (fi.ImageFormatError, fi.SafetyViolation) as err:
            raise ImageFormatRefused(reason=f"Image data does not match disk_format {self.disk_format}: "
                                            f"{err}") from None
        except ValueError as err:  # struct errors of a truncated header in the expected inspector
            raise ImageFormatRefused(reason=f"Image data is not a valid {self.disk_format} image: {err}") from None

    def verdict(self, size: int) -> Inspected | None:
        """After the whole stream went through :meth:`wrap`: the detected format, or a refusal.

        ``size``: the bytes stored (the virtual size of a raw disk). None when not inspected.

        :raises ImageFormatRefused: another format, several at once, or a failed safety check.
        """
        if not self.enabled or self._wrapper is None:
            return None
        wrapper, declared = self._wrapper, self.disk_format
        wrapper.close()
        try:
            found = wrapper.formats or []
        except fi.ImageFormatError as err:
            raise ImageFormatRefused(reason=f"Image data could not be inspected: {err}") from None
        names = sorted(str(f) for f in found)
        if not self.require_match:  # [image] require_image_format_match off: only the safety checks
            matched = found[0] if len(found) == 1 else None
        elif declared in RAW_LIKE:
            matched = next((f for f in found if str(f) in RAW_DETECTED), None) if len(found) == 1 else None
        elif declared == "iso":  # a bootable (hybrid) ISO is also a partitioned disk
            isos = [f for f in found if str(f) == "iso"]
            matched = isos[0] if isos and set(names) <= {"iso", "gpt"} else None
        else:
            matched = found[0] if names == [declared] else None
        if matched is None and declared == "vhd" and names == ["raw"]:
            fixed = _fixed_vhd(self._tail)
            if fixed is not None:
                return fixed
        if matched is None:
            seen = ", ".join(names) or "nothing recognizable"
            raise ImageFormatRefused(reason=f"Image data does not match disk_format {declared}: "
                                            f"the data is {seen}.")
        if str(matched) != "gpt":  # Glance: GPT/MBR findings are not fatal by default
            try:
                matched.safety_check()
            except fi.SafetyCheckFailed as err:
                raise ImageFormatRefused(reason=f"Image data of format {matched} is not safe to use: "
                                                f"{_failures(err)}.") from None
            except fi.ImageFormatError as err:
                raise ImageFormatRefused(reason=f"Image data could not be checked as {matched}: {err}") from None
        virtual = size if str(matched) in RAW_DETECTED else matched.virtual_size
        return Inspected(format=str(matched), virtual_size=virtual or None)


#: A VHD footer: 512 bytes, "conectix" first, the disk type (2: fixed) at 60, the size at 48.
VHD_FOOTER = 512
VHD_FIXED = 2


def _fixed_vhd(tail: bytes) -> Inspected | None:
    """A fixed VHD: raw sectors and a footer at the end only, which oslo's VHD inspector (reading the
    start, where dynamic VHDs have their copy) does not see. Nothing in it names other files."""
    if len(tail) < VHD_FOOTER or tail[:8] != b"conectix":
        return None
    (size,) = struct.unpack(">Q", tail[48:56])
    (disk_type,) = struct.unpack(">I", tail[60:64])
    return Inspected(format="vhd", virtual_size=size or None) if disk_type == VHD_FIXED else None


def _failures(err: fi.SafetyCheckFailed) -> str:
    failures = getattr(err, "failures", None) or {}
    return "; ".join(f"{name}: {why}" for name, why in sorted(failures.items())) or str(err)
